import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, configureChatWebhook, eventually, startHerald, type TestHerald } from "./helpers/herald.js";
import { type Behaviour, Receiver } from "./helpers/receiver.js";

type Delivery = Record<string, any>;

// Every suite here counts attempts to failing endpoints: no circuit breaker may pause them (flow-control tests it).
const NO_BREAKER = { endpointBreakerFailures: 1_000_000 };

describe("endpoint health: Retry-After", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    // Policy delays compressed to almost nothing, so any wait seen is the receiver's Retry-After.
    h = await startHerald({ retryDelayScale: 0.0001, ...NO_BREAKER });
  });
  after(async () => {
    await h.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  const receiver = async (behaviour: Behaviour) => {
    const started = await Receiver.start(behaviour);
    receivers.push(started);
    return started;
  };

  /** An app whose one endpoint of `profile` points at the receiver; publishes one event to it. */
  async function deliverTo(profile: "sendbird" | "standard" | "stream", url: string) {
    const app = await h.createApp();
    let body: Record<string, unknown> = { category: "user:block" };
    if (profile === "sendbird") {
      await configureChatWebhook(h.url, app.token, { url });
    } else {
      if (profile === "stream") {
        assert.equal((await call(h.url, "POST", "/v1/keys", { token: app.token })).status, 201);
        body = { type: "user.updated", user: { id: "u1" } };
      }
      const created = await call(h.url, "POST", "/v1/endpoints", { token: app.token, body: { url, profile } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    const published = await call(h.url, "POST", "/v1/events", { token: app.token, body });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    return app;
  }

  const onlyDelivery = async (token: string, until: (d: Delivery) => boolean, timeoutMs = 10_000) =>
    eventually(async () => {
      const { body } = await call(h.url, "GET", "/v1/deliveries", { token });
      const delivery = body.deliveries[0] as Delivery | undefined;
      return delivery && until(delivery) ? delivery : undefined;
    }, timeoutMs);

  const gap = (r: Receiver) => r.requests[1]!.receivedAt - r.requests[0]!.receivedAt;

  for (const profile of ["sendbird", "standard", "stream"] as const) {
    it(`${profile}: a 429 with Retry-After in seconds delays the next attempt that long`, async () => {
      const r = await receiver((_req, index) => (index === 0 ? { status: 429, headers: { "retry-after": "2" } } : 200));
      const app = await deliverTo(profile, r.url);
      const done = await onlyDelivery(app.token, (d) => d.status === "succeeded");
      assert.equal(done.attempts, 2);
      assert.ok(gap(r) >= 1990, `second attempt after ${gap(r)} ms`);
      assert.ok(gap(r) < 4000, `second attempt after ${gap(r)} ms`);
    });
  }

  it("a 503 with an HTTP-date Retry-After waits until that date", async () => {
    const r = await receiver((_req, index) =>
      index === 0 ? { status: 503, headers: { "retry-after": new Date(Date.now() + 3000).toUTCString() } } : 200,
    );
    const app = await deliverTo("standard", r.url);
    await onlyDelivery(app.token, (d) => d.status === "succeeded");
    // The date has whole seconds: between 2 and 3 s from the first answer.
    assert.ok(gap(r) >= 1900, `second attempt after ${gap(r)} ms`);
  });

  it("caps a Retry-After at an hour, and ignores it on other statuses", async () => {
    const capped = await receiver(() => ({ status: 429, headers: { "retry-after": "86400" } }));
    const ignored = await receiver((_req, index) =>
      index === 0 ? { status: 500, headers: { "retry-after": "3600" } } : 200,
    );
    const cappedApp = await deliverTo("sendbird", capped.url);
    const ignoredApp = await deliverTo("sendbird", ignored.url);
    const waiting = await onlyDelivery(cappedApp.token, (d) => d.attempts === 1);
    assert.equal(waiting.status, "pending");
    const due = Date.parse(waiting.next_attempt_at) - Date.parse(waiting.attempt_log[0].started_at);
    assert.ok(due > 59 * 60_000 && due <= 60 * 60_000 + 10_000, `due after ${due} ms`);
    await onlyDelivery(ignoredApp.token, (d) => d.status === "succeeded");
    // Sendbird's own delay, not the hour asked for (a loaded machine stretches the delay by a few seconds at most).
    assert.ok(gap(ignored) < 10_000, `a 500's Retry-After was honoured: ${gap(ignored)} ms`);
  });

  it("stream: a Retry-After past the 15 s window ends the delivery; the attempt cap still holds", async () => {
    const tooLate = await receiver(() => ({ status: 429, headers: { "retry-after": "30" } }));
    const always = await receiver(() => ({ status: 429, headers: { "retry-after": "1" } }));
    const lateApp = await deliverTo("stream", tooLate.url);
    const alwaysApp = await deliverTo("stream", always.url);
    const ended = await onlyDelivery(lateApp.token, (d) => d.status === "failed");
    assert.equal(ended.attempts, 1);
    const capped = await onlyDelivery(alwaysApp.token, (d) => d.status === "failed");
    assert.equal(capped.attempts, 3);
    assert.ok(gap(always) >= 990, `second attempt after ${gap(always)} ms`);
    assert.equal(tooLate.requests.length, 1);
  });
});

describe("endpoint health: 410 Gone", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    // One attempt at a time per endpoint: after the 410 nothing else of it is in flight.
    h = await startHerald({ retryDelayScale: 0.0001, endpointConcurrency: 1, ...NO_BREAKER });
  });
  after(async () => {
    await h.close();
    await Promise.all(receivers.map((r) => r.close()));
  });
  const receiver = async (behaviour: Behaviour) => {
    const started = await Receiver.start(behaviour);
    receivers.push(started);
    return started;
  };
  const events = (n: number) => ({
    events: Array.from({ length: n }, (_, i) => ({ category: "user:block", blocker: { user_id: `u${i}` } })),
  });
  const deliveries = async (token: string): Promise<Delivery[]> =>
    (await call(h.url, "GET", "/v1/deliveries", { token })).body.deliveries;

  it("standard: a 410 disables the endpoint, says why, holds its other deliveries; enabling resumes them", async () => {
    const r = await receiver((_req, index) => (index === 0 ? 410 : 200));
    const app = await h.createApp();
    const created = await call(h.url, "POST", "/v1/endpoints", { token: app.token, body: { url: r.url } });
    assert.equal(created.body.disabled_reason, null);
    const published = await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: events(3) });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    const disabled = await eventually(async () => {
      const { body } = await call(h.url, "GET", `/v1/endpoints/${created.body.id}`, { token: app.token });
      return body.enabled ? undefined : body;
    });
    assert.match(disabled.disabled_reason, /410 Gone/);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(r.requests.length, 1, "nothing more is sent to a disabled endpoint");
    const held = await deliveries(app.token);
    assert.deepEqual(held.map((d) => d.status).sort(), ["failed", "pending", "pending"]);

    const enabled = await call(h.url, "PATCH", `/v1/endpoints/${created.body.id}`, {
      token: app.token,
      body: { enabled: true },
    });
    assert.equal(enabled.body.disabled_reason, null);
    assert.equal(enabled.body.enabled, true);
    await r.waitFor(3);
    await eventually(async () => {
      const all = await deliveries(app.token);
      return all.filter((d) => d.status === "succeeded").length === 2 ? all : undefined;
    });
    const again = await call(h.url, "GET", `/v1/endpoints/${created.body.id}`, { token: app.token });
    assert.equal(again.body.disabled_reason, null);
  });

  it("sendbird retries a 410 and stream ends the delivery; neither disables its endpoint", async () => {
    const gone = await receiver(() => 410);
    const sendbird = await h.createApp();
    await configureChatWebhook(h.url, sendbird.token, { url: gone.url });
    const stream = await h.createApp();
    assert.equal((await call(h.url, "POST", "/v1/keys", { token: stream.token })).status, 201);
    const streamEndpoint = await call(h.url, "POST", "/v1/endpoints", {
      token: stream.token,
      body: { url: gone.url, profile: "stream" },
    });
    await call(h.url, "POST", "/v1/events", { token: sendbird.token, body: { category: "user:block" } });
    await call(h.url, "POST", "/v1/events", {
      token: stream.token,
      body: { type: "user.updated", user: { id: "u1" } },
    });
    for (const [token, attempts] of [
      [sendbird.token, 3],
      [stream.token, 1],
    ] as const) {
      const failed = await eventually(async () => {
        const [d] = await deliveries(token);
        return d?.status === "failed" ? d : undefined;
      });
      assert.equal(failed.attempts, attempts);
    }
    const endpoints = [
      ...(await call(h.url, "GET", "/v1/endpoints", { token: sendbird.token })).body.endpoints,
      (await call(h.url, "GET", `/v1/endpoints/${streamEndpoint.body.id}`, { token: stream.token })).body,
    ];
    for (const endpoint of endpoints) {
      assert.equal(endpoint.enabled, true, endpoint.profile);
      assert.equal(endpoint.disabled_reason, null);
    }
  });
});

describe("endpoint health: retry_policy", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    // Three days become about 2.5 s.
    h = await startHerald({ retryDelayScale: 0.00001, ...NO_BREAKER });
  });
  after(async () => {
    await h.close();
    await Promise.all(receivers.map((r) => r.close()));
  });
  const failing = async () => {
    const started = await Receiver.start(() => 500);
    receivers.push(started);
    return started;
  };
  const patch = (token: string, id: string, body: unknown) =>
    call(h.url, "PATCH", `/v1/endpoints/${id}`, { token, body });
  const failedDelivery = (token: string) =>
    eventually(async () => {
      const [d] = (await call(h.url, "GET", "/v1/deliveries", { token })).body.deliveries as Delivery[];
      return d?.status === "failed" ? d : undefined;
    }, 20_000);
  const lastGap = (r: Receiver) => r.requests.at(-1)!.receivedAt - r.requests.at(-2)!.receivedAt;
  const span = (r: Receiver) => r.requests.at(-1)!.receivedAt - r.requests[0]!.receivedAt;

  it("standard: durable gives 12 attempts over about three days (scaled), profile the format's 8", async () => {
    const durable = await failing();
    const own = await failing();
    const durableApp = await h.createApp();
    const ownApp = await h.createApp();
    const created = await call(h.url, "POST", "/v1/endpoints", { token: durableApp.token, body: { url: durable.url } });
    assert.equal(created.body.retry_policy, "profile");
    const patched = await patch(durableApp.token, created.body.id, { retry_policy: "durable" });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.retry_policy, "durable");
    assert.equal(
      (await call(h.url, "GET", `/v1/endpoints/${created.body.id}`, { token: durableApp.token })).body.retry_policy,
      "durable",
    );
    await call(h.url, "POST", "/v1/endpoints", { token: ownApp.token, body: { url: own.url } });
    for (const app of [durableApp, ownApp]) {
      await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } });
    }
    const [durableFailed, ownFailed] = await Promise.all([
      failedDelivery(durableApp.token),
      failedDelivery(ownApp.token),
    ]);
    assert.deepEqual([durableFailed.attempts, durableFailed.max_attempts], [12, 12]);
    assert.deepEqual([ownFailed.attempts, ownFailed.max_attempts], [8, 8]);
    assert.equal(durable.requests.length, 12);
    // 254,555 s of delays, scaled by 1e-5 and -20% at worst.
    assert.ok(span(durable) >= 2000, `12 attempts within ${span(durable)} ms`);
    // The last wait is durable's 24 h (864 ms scaled, ±20%), not the format's 10 h (360 ms).
    assert.ok(lastGap(durable) >= 600, `last wait ${lastGap(durable)} ms`);
  });

  it("sendbird: durable replaces Sendbird's three attempts; a resend gets the durable budget", async () => {
    const r = await failing();
    const app = await h.createApp();
    await configureChatWebhook(h.url, app.token, { url: r.url });
    const [endpoint] = (await call(h.url, "GET", "/v1/endpoints", { token: app.token })).body.endpoints;
    assert.equal((await patch(app.token, endpoint.id, { retry_policy: "durable" })).status, 200);
    await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } });
    const failed = await failedDelivery(app.token);
    assert.equal(failed.attempts, 12);
    assert.ok(lastGap(r) >= 600, `last wait ${lastGap(r)} ms`);
    const resent = await call(h.url, "POST", `/v1/deliveries/${failed.id}/retry`, { token: app.token });
    assert.equal(resent.body.max_attempts, 24);
  });

  it("refuses durable for stream endpoints, and an unknown policy; /openapi.json lists both values", async () => {
    const app = await h.createApp();
    assert.equal((await call(h.url, "POST", "/v1/keys", { token: app.token })).status, 201);
    const created = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: "https://example.com/hook", profile: "stream" },
    });
    const refused = await patch(app.token, created.body.id, { retry_policy: "durable" });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.parameter, "retry_policy");
    const unknown = await patch(app.token, created.body.id, { retry_policy: "weekly" });
    assert.equal(unknown.status, 400);
    const spec = await fetch(`${h.url}/openapi.json`).then((response) => response.text());
    assert.match(spec, /"retry_policy"/);
    assert.match(spec, /"durable"/);
  });
});

describe("endpoint health: auto-disable", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    h = await startHerald({
      retryDelayScale: 0.0001,
      endpointConcurrency: 1,
      autoDisableFailures: 3,
      // Long enough that, on a loaded machine, the count rule's test and the success-between-failures test
      // never go that long without a success; the period's own test waits for it (Standard's scaled
      // schedule, with its jitter, attempts at about 2.7 s and 6.3 s: the 7th attempt, of 8, is past it).
      autoDisableAfterMs: 4500,
      ...NO_BREAKER,
    });
  });
  after(async () => {
    await h.close();
    await Promise.all(receivers.map((r) => r.close()));
  });
  const receiver = async (behaviour: Behaviour) => {
    const started = await Receiver.start(behaviour);
    receivers.push(started);
    return started;
  };
  const deliveries = async (token: string): Promise<Delivery[]> =>
    (await call(h.url, "GET", "/v1/deliveries", { token })).body.deliveries;
  const endpointOf = async (token: string) => (await call(h.url, "GET", "/v1/endpoints", { token })).body.endpoints[0];
  const disabledEndpoint = (token: string, timeoutMs = 10_000) =>
    eventually(async () => {
      const endpoint = await endpointOf(token);
      return endpoint.enabled ? undefined : endpoint;
    }, timeoutMs);
  const statuses = (all: Delivery[]) => all.map((d) => d.status as string);
  const count = (all: Delivery[], status: string) => statuses(all).filter((s) => s === status).length;

  it("disables an endpoint after N failed deliveries in a row, keeps its work, and resumes it when enabled", async () => {
    let healthy = false;
    // Slow enough answers that the streak is written while work is still queued.
    const r = await receiver(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return healthy ? 200 : 500;
    });
    const app = await h.createApp();
    await configureChatWebhook(h.url, app.token, { url: r.url });
    const batch = Array.from({ length: 8 }, (_, i) => ({ category: "user:block", blocker: { user_id: `u${i}` } }));
    assert.equal(
      (await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: { events: batch } })).status,
      202,
    );
    const disabled = await disabledEndpoint(app.token);
    // At least 3: one flush may carry more than one delivery's end.
    const [, inARow] = /^(\d+) deliveries in a row failed/.exec(disabled.disabled_reason) ?? [];
    assert.ok(Number(inARow) >= 3, disabled.disabled_reason);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sent = r.requests.length;
    const held = await deliveries(app.token);
    assert.ok(count(held, "failed") >= 3, statuses(held).join());
    assert.ok(count(held, "pending") >= 2, `pending work is kept: ${statuses(held).join()}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(r.requests.length, sent, "nothing is sent while disabled");

    healthy = true;
    const enabled = await call(h.url, "PATCH", `/v1/endpoints/${disabled.id}`, {
      token: app.token,
      body: { enabled: true },
    });
    assert.equal(enabled.body.disabled_reason, null);
    const resumed = await eventually(async () => {
      const all = await deliveries(app.token);
      return count(all, "pending") === 0 ? all : undefined;
    });
    assert.equal(count(resumed, "succeeded"), count(held, "pending"));
    assert.equal((await endpointOf(app.token)).enabled, true, "a fresh streak after re-enabling");
  });

  it("disables an endpoint no attempt has succeeded to for the configured period; its delivery stays pending", async () => {
    const r = await receiver(() => 503);
    const app = await h.createApp();
    await call(h.url, "POST", "/v1/endpoints", { token: app.token, body: { url: r.url } });
    await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } });
    // Standard's schedule scaled: attempts at about 0, 0, 30, 210, 930, 2,730 and 6,330 ms.
    const disabled = await disabledEndpoint(app.token, 20_000);
    assert.match(disabled.disabled_reason, /no attempt succeeded for/);
    const [delivery] = await deliveries(app.token);
    assert.equal(delivery!.status, "pending");
    assert.ok(delivery!.attempts < 8);
  });

  it("a success ends the streak: failures between successes never disable", async () => {
    // Every third delivery succeeds, so at most two fail in a row.
    const r = await receiver((request) => (request.raw.toString().includes('"ok"') ? 200 : 500));
    const app = await h.createApp();
    await configureChatWebhook(h.url, app.token, { url: r.url });
    for (let i = 0; i < 7; i++) {
      const user_id = i % 3 === 2 ? "ok" : `u${i}`;
      await call(h.url, "POST", "/v1/events", {
        token: app.token,
        body: { category: "user:block", blocker: { user_id } },
      });
      await eventually(async () => {
        const all = await deliveries(app.token);
        return all.length === i + 1 && count(all, "pending") === 0 ? all : undefined;
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    const endpoint = await endpointOf(app.token);
    assert.equal(endpoint.enabled, true, endpoint.disabled_reason);
  });
});
