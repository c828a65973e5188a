import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, configureChatWebhook, eventually, startHerald, type TestHerald } from "./helpers/herald.js";
import { type Behaviour, Receiver } from "./helpers/receiver.js";

type Delivery = Record<string, any>;

describe("endpoint health: Retry-After", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    // Policy delays compressed to almost nothing, so any wait seen is the receiver's Retry-After.
    h = await startHerald({ retryDelayScale: 0.0001 });
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
    assert.ok(gap(ignored) < 1000, `a 500's Retry-After was honoured: ${gap(ignored)} ms`);
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
