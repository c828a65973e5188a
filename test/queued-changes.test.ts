import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, eventually, sleep, startHerald, type TestHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

type Json = Record<string, any>;

const CONCURRENCY = 16;
const QUEUED = 1000;

async function publish(h: TestHerald, token: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 500) {
    const events = Array.from({ length: Math.min(500, count - start) }, (_, i) => ({
      category: "user:block",
      blocker: { user_id: `u${start + i}` },
    }));
    const published = await call(h.url, "POST", "/v1/events/batch", { token, body: { events } });
    assert.equal(published.status, 202, JSON.stringify(published.body));
  }
}

async function statusCounts(h: TestHerald, token: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: "500", ...(cursor ? { cursor } : {}) });
    const { body } = await call(h.url, "GET", `/v1/deliveries?${query}`, { token });
    for (const d of body.deliveries as Json[]) counts[d.status] = (counts[d.status] ?? 0) + 1;
    cursor = body.next_cursor;
  } while (cursor);
  return counts;
}

/** How long the receiver holds each request: what was queued behind an attempt starts this late. */
const RECEIVER_DELAY_MS = 400;

/**
 * A change to an endpoint with 1,000 deliveries queued to a slow receiver: what arrives after the
 * change was answered. Attempts already in flight may still land just after it (a connection being
 * opened); anything queued behind them could only start once one ends, a receiver's delay later.
 * So: nothing may arrive later than a little after the answer, and at most the in-flight ones at all.
 */
async function arrivalsAfter(r: Receiver, change: () => Promise<void>): Promise<number> {
  await r.waitFor(3 * CONCURRENCY, 20_000);
  await change();
  const answered = Date.now();
  await sleep(1500);
  const after = r.requests.filter((q) => q.receivedAt > answered);
  assert.ok(after.length <= CONCURRENCY, `${after.length} arrived after the change, more than were in flight`);
  return after.filter((q) => q.receivedAt > answered + RECEIVER_DELAY_MS / 2).length;
}

describe("queued changes stop at once", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    h = await startHerald({ endpointConcurrency: CONCURRENCY, retryDelayScale: 0.0001 });
  });
  after(async () => {
    await h.close();
    await Promise.all(receivers.map((r) => r.close()));
  });
  const slowReceiver = async () => {
    const r = await Receiver.start(async () => {
      await sleep(RECEIVER_DELAY_MS);
      return 200;
    });
    receivers.push(r);
    return r;
  };
  const nativeEndpoint = async (token: string, url: string) => {
    const created = await call(h.url, "POST", "/v1/endpoints", {
      token,
      body: { url, profile: "standard", filter: ["user:block", "user:unblock"] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as Json;
  };
  const sendbirdSettings = async (token: string, body: Json) => {
    const saved = await call(h.url, "PUT", "/v3/applications/settings/webhook", { token, body });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
  };
  const patch = async (token: string, id: string, body: Json) => {
    const patched = await call(h.url, "PATCH", `/v1/endpoints/${id}`, { token, body });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
  };

  it("disabling an endpoint holds its queued deliveries; enabling it resumes them", async () => {
    const r = await slowReceiver();
    const app = await h.createApp();
    const endpoint = await nativeEndpoint(app.token, r.url);
    await publish(h, app.token, QUEUED);
    const late = await arrivalsAfter(r, () => patch(app.token, endpoint.id, { enabled: false }));
    assert.ok(late === 0, `${late} deliveries arrived after the endpoint was disabled`);
    const held = await statusCounts(h, app.token);
    assert.equal(held.failed, undefined, JSON.stringify(held));
    assert.ok((held.pending ?? 0) >= QUEUED - r.requests.length, JSON.stringify(held));
    const before = r.requests.length;
    await patch(app.token, endpoint.id, { enabled: true });
    await r.waitFor(before + 2 * CONCURRENCY, 10_000);
  });

  it("turning Sendbird webhooks off (enabled: false) holds the queued deliveries", async () => {
    const r = await slowReceiver();
    const app = await h.createApp();
    await sendbirdSettings(app.token, { enabled: true, url: r.url, enabled_events: ["*"] });
    await publish(h, app.token, QUEUED);
    const late = await arrivalsAfter(r, () => sendbirdSettings(app.token, { enabled: false }));
    assert.ok(late === 0, `${late} deliveries arrived after webhooks were turned off`);
    const held = await statusCounts(h, app.token);
    assert.equal(held.failed, undefined, JSON.stringify(held));
  });

  it("emptying Sendbird's enabled_events holds the queued deliveries", async () => {
    const r = await slowReceiver();
    const app = await h.createApp();
    await sendbirdSettings(app.token, { enabled: true, url: r.url, enabled_events: ["*"] });
    await publish(h, app.token, QUEUED);
    const late = await arrivalsAfter(r, () => sendbirdSettings(app.token, { enabled_events: [] }));
    assert.ok(late === 0, `${late} deliveries arrived after enabled_events was emptied`);
  });

  it("dropping a type from the filter cancels its queued deliveries: failed, none sent", async () => {
    const r = await slowReceiver();
    const app = await h.createApp();
    const endpoint = await nativeEndpoint(app.token, r.url);
    await publish(h, app.token, QUEUED);
    const late = await arrivalsAfter(r, () => patch(app.token, endpoint.id, { filter: ["user:unblock"] }));
    assert.ok(late === 0, `${late} deliveries arrived after their type was dropped`);
    const ended = await eventually(async () => {
      const counts = await statusCounts(h, app.token);
      return counts.pending === undefined ? counts : undefined;
    }, 10_000);
    assert.equal(ended.succeeded, r.requests.length, JSON.stringify(ended));
    assert.equal(ended.failed, QUEUED - r.requests.length, JSON.stringify(ended));
  });
});
