import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, eventually, sleep, startHerald, type TestHerald } from "./helpers/herald.js";
import { type Behaviour, Receiver } from "./helpers/receiver.js";

type Json = Record<string, any>;

/** Standard Webhooks endpoints of one app, events in the Sendbird vocabulary (the standard default). */
async function endpointFor(h: TestHerald, token: string, body: Json): Promise<Json> {
  const created = await call(h.url, "POST", "/v1/endpoints", { token, body: { profile: "standard", ...body } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body;
}

async function publish(h: TestHerald, token: string, count: number, category = "user:block"): Promise<void> {
  for (let start = 0; start < count; start += 500) {
    const events = Array.from({ length: Math.min(500, count - start) }, (_, i) => ({
      category,
      blocker: { user_id: `u${start + i}` },
    }));
    const published = await call(h.url, "POST", "/v1/events/batch", { token, body: { events } });
    assert.equal(published.status, 202, JSON.stringify(published.body));
  }
}

/** Every delivery of an app (or of one status), through the log's pages. */
async function allDeliveries(h: TestHerald, token: string, status?: string): Promise<Json[]> {
  const found: Json[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: "500", ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) });
    const { body } = await call(h.url, "GET", `/v1/deliveries?${query}`, { token });
    found.push(...body.deliveries);
    cursor = body.next_cursor;
  } while (cursor);
  return found;
}

/** A receiver that answers after `delayMs` and tracks how many requests it holds open at once. */
async function slowReceiver(delayMs: number, status: () => number = () => 200) {
  const stats = { open: 0, maxOpen: 0 };
  const receiver = await Receiver.start(async () => {
    stats.open++;
    stats.maxOpen = Math.max(stats.maxOpen, stats.open);
    await sleep(delayMs);
    stats.open--;
    return status();
  });
  return { receiver, stats };
}

async function scrape(h: TestHerald): Promise<string> {
  const response = await fetch(`${h.url}/metrics`);
  return response.text();
}

const metric = (text: string, name: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

describe("flow control: circuit breaker", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    h = await startHerald({
      retryDelayScale: 0.0001,
      endpointBreakerFailures: 3,
      // Long enough that a loaded machine still sees the breaker open before its first probe.
      endpointBreakerCoolDownMs: 2000,
      endpointBreakerMaxCoolDownMs: 8000,
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

  it("opens after N failed attempts, makes none while open, probes after a doubling cool-down, closes on success", async () => {
    let down = true;
    const r = await receiver(() => (down ? 500 : 200));
    const app = await h.createApp();
    const endpoint = await endpointFor(h, app.token, { url: r.url, max_concurrency: 1 });
    assert.equal(endpoint.breaker, "closed");
    await publish(h, app.token, 5);
    await r.waitFor(3);
    const open = await eventually(async () => {
      const { body } = await call(h.url, "GET", `/v1/endpoints/${endpoint.id}`, { token: app.token });
      return body.breaker === "open" ? body : undefined;
    });
    assert.equal(open.breaker, "open");
    assert.match(await scrape(h), /herald_endpoint_breakers\{state="open"\} 1/);
    await sleep(600);
    assert.equal(r.requests.length, 3, "an attempt was made while the breaker was open");
    // Nothing was used up: every delivery is pending, and only the three attempts made are counted.
    const pending = await allDeliveries(h, app.token);
    assert.deepEqual(
      pending.map((d) => d.status),
      Array(5).fill("pending"),
    );
    assert.equal(
      pending.reduce((sum, d) => sum + d.attempts, 0),
      3,
    );
    // The first probe after about two seconds; it fails, so the next one waits about four.
    await r.waitFor(4, 15_000);
    const firstProbeGap = r.requests[3]!.receivedAt - r.requests[2]!.receivedAt;
    assert.ok(firstProbeGap >= 1900 && firstProbeGap < 6000, `first probe after ${firstProbeGap} ms`);
    down = false;
    await r.waitFor(5, 15_000);
    const secondProbeGap = r.requests[4]!.receivedAt - r.requests[3]!.receivedAt;
    assert.ok(secondProbeGap >= 3900 && secondProbeGap < 10_000, `second probe after ${secondProbeGap} ms`);
    // It succeeded: closed, and the rest goes out.
    const done = await eventually(async () => {
      const all = await allDeliveries(h, app.token);
      return all.every((d) => d.status === "succeeded") ? all : undefined;
    }, 10_000);
    assert.equal(done.length, 5);
    const { body } = await call(h.url, "GET", `/v1/endpoints/${endpoint.id}`, { token: app.token });
    assert.equal(body.breaker, "closed");
    assert.match(await scrape(h), /herald_endpoint_breakers\{state="open"\} 0/);
  });
});

describe("flow control: rate_limit and max_concurrency", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    h = await startHerald({ endpointConcurrency: 32 });
  });
  after(async () => {
    await h.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  it("are stored, shown and validated (400 in the native format), and null lifts them", async () => {
    const app = await h.createApp();
    const endpoint = await endpointFor(h, app.token, {
      url: "http://127.0.0.1:9/x",
      rate_limit: 7,
      max_concurrency: 2,
    });
    assert.equal(endpoint.rate_limit, 7);
    assert.equal(endpoint.max_concurrency, 2);
    for (const bad of [{ rate_limit: 0 }, { rate_limit: 1.5 }, { rate_limit: "5" }, { max_concurrency: 0 }]) {
      const refused = await call(h.url, "PATCH", `/v1/endpoints/${endpoint.id}`, { token: app.token, body: bad });
      assert.equal(refused.status, 400, JSON.stringify(bad));
      assert.match(refused.body.error.code, /^invalid_(type|value)$/, JSON.stringify(refused.body));
      assert.match(refused.body.error.message, /rate_limit|max_concurrency/, JSON.stringify(refused.body));
    }
    const lifted = await call(h.url, "PATCH", `/v1/endpoints/${endpoint.id}`, {
      token: app.token,
      body: { rate_limit: null },
    });
    assert.equal(lifted.status, 200);
    assert.equal(lifted.body.rate_limit, null);
    assert.equal(lifted.body.max_concurrency, 2);
    const read = await call(h.url, "GET", `/v1/endpoints/${endpoint.id}`, { token: app.token });
    assert.equal(read.body.rate_limit, null);
    assert.equal(read.body.max_concurrency, 2);
  });

  it("rate_limit: requests spaced out, no more in any second than the limit", async () => {
    const r = await Receiver.start(() => 200);
    receivers.push(r);
    const app = await h.createApp();
    await endpointFor(h, app.token, { url: r.url, rate_limit: 5 });
    await publish(h, app.token, 16);
    await r.waitFor(16, 15_000);
    const times = r.requests.map((q) => q.receivedAt).sort((a, b) => a - b);
    let busiest = 0;
    for (const [i, t] of times.entries()) {
      busiest = Math.max(busiest, times.filter((u, j) => j >= i && u < t + 1000).length);
    }
    // 200 ms apart when sent: network jitter (a new connection's handshake) may add one to a second.
    assert.ok(busiest <= 6, `${busiest} requests within a second`);
    const spread = times.at(-1)! - times[0]!;
    assert.ok(spread >= 2500, `16 requests at 5/s arrived within ${spread} ms`);
  });

  it("max_concurrency: never more requests open at the receiver than the cap", async () => {
    const { receiver: r, stats } = await slowReceiver(150);
    receivers.push(r);
    const app = await h.createApp();
    await endpointFor(h, app.token, { url: r.url, max_concurrency: 3 });
    await publish(h, app.token, 30);
    await r.waitFor(30, 15_000);
    assert.equal(stats.maxOpen, 3);
  });
});

describe("flow control: fairness between apps", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    // A small process-wide cap, so app A's backlog could fill it on its own.
    h = await startHerald({ maxInFlight: 8, endpointConcurrency: 4, retryDelayScale: 0.0001 });
  });
  after(async () => {
    await h.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  it("app B's few events arrive promptly behind app A's large backlog to a slow receiver", async () => {
    const { receiver: slow } = await slowReceiver(300);
    const fast = await Receiver.start(() => 200);
    receivers.push(slow, fast);
    const a = await h.createApp("a");
    for (let i = 0; i < 4; i++) await endpointFor(h, a.token, { url: slow.url });
    await publish(h, a.token, 300);
    await slow.waitFor(16, 10_000);
    const b = await h.createApp("b");
    await endpointFor(h, b.token, { url: fast.url });
    const sent = Date.now();
    await publish(h, b.token, 3);
    await fast.waitFor(3, 10_000);
    const waited = Math.max(...fast.requests.map((q) => q.receivedAt)) - sent;
    // A's 1,200 deliveries take over 40 s at 8 in flight; B's must not wait behind them.
    assert.ok(waited < 3000, `app B waited ${waited} ms`);
    assert.ok(slow.requests.length < 400, "A's backlog was already drained: the test proves nothing");
  });

  it("an app's healthy endpoint gets all its deliveries while its other endpoint answers 503", async () => {
    const failing = await Receiver.start(() => 503);
    const { receiver: healthy } = await slowReceiver(20);
    receivers.push(failing, healthy);
    const app = await h.createApp();
    await endpointFor(h, app.token, { url: failing.url, retry_policy: "durable" });
    await endpointFor(h, app.token, { url: healthy.url });
    await publish(h, app.token, 150);
    await healthy.waitFor(150, 30_000);
    assert.equal(healthy.requests.length, 150);
  });
});

describe("flow control: a mass retry", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    // No breaker and no auto-disable here: the dead receiver's deliveries must simply end failed, quickly.
    h = await startHerald({
      maxInFlight: 8,
      endpointConcurrency: 4,
      retryDelayScale: 0.0001,
      endpointBreakerFailures: 1_000_000,
      autoDisableFailures: 0,
    });
  });
  after(async () => {
    await h.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  it("1,000 deliveries made pending again at once all go out", async () => {
    let down = true;
    const r = await Receiver.start(() => (down ? 500 : 200));
    receivers.push(r);
    const app = await h.createApp();
    // Sendbird's three attempts, tried quickly: all 1,000 end failed, then are sent again by hand.
    const created = await call(h.url, "PUT", "/v3/applications/settings/webhook", {
      token: app.token,
      body: { enabled: true, url: r.url, enabled_events: ["*"] },
    });
    assert.equal(created.status, 200);
    await publish(h, app.token, 1000);
    const failed = await eventually(async () => {
      const all = await allDeliveries(h, app.token, "failed");
      return all.length === 1000 ? all : undefined;
    }, 60_000);
    down = false;
    const before = r.requests.length;
    for (let i = 0; i < failed.length; i += 50) {
      await Promise.all(
        failed.slice(i, i + 50).map(async (d) => {
          const retried = await call(h.url, "POST", `/v1/deliveries/${d.id}/retry`, { token: app.token });
          assert.equal(retried.status, 202, JSON.stringify(retried.body));
        }),
      );
    }
    await r.waitFor(before + 1000, 60_000);
    const done = await eventually(async () => {
      const all = await allDeliveries(h, app.token, "succeeded");
      return all.length === 1000 ? all : undefined;
    }, 30_000);
    assert.equal(done.length, 1000);
  });
});

describe("flow control: queue metrics", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    h = await startHerald({ maxInFlight: 4, endpointConcurrency: 4 });
  });
  after(async () => {
    await h.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  it("pending deliveries and the oldest due age move as deliveries happen", async () => {
    const { receiver: r } = await slowReceiver(50);
    receivers.push(r);
    const app = await h.createApp();
    await endpointFor(h, app.token, { url: r.url });
    const idle = await scrape(h);
    assert.equal(metric(idle, 'herald_queue_pending_deliveries{profile="standard"}'), undefined);
    assert.equal(metric(idle, "herald_queue_oldest_due_seconds"), 0);
    // The first scrape above cached an empty queue: wait the cache out, then publish.
    await sleep(5200);
    await publish(h, app.token, 200);
    await sleep(500);
    const busy = await scrape(h);
    const pending = metric(busy, 'herald_queue_pending_deliveries{profile="standard"}') ?? 0;
    assert.ok(pending >= 100 && pending <= 200, `pending ${pending}`);
    assert.ok((metric(busy, "herald_queue_oldest_due_seconds") ?? 0) >= 0.3, busy);
    await r.waitFor(200, 20_000);
    await eventually(async () => {
      const text = await scrape(h);
      const left = metric(text, 'herald_queue_pending_deliveries{profile="standard"}');
      return left === undefined && metric(text, "herald_queue_oldest_due_seconds") === 0 ? text : undefined;
    }, 15_000);
    const done = await scrape(h);
    assert.equal(metric(done, 'herald_delivery_attempts_total{profile="standard",outcome="succeeded"}'), 200);
  });
});
