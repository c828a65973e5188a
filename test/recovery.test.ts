// Recover: every failed delivery of an endpoint in a window sent again by one call, as a background job
// whose progress the API reports. 1,000 deliveries fail against a receiver that is down, it comes back,
// one recover call brings every one of them, each webhook id once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, eventually, startHerald, type TestHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

const EVENTS = 1000;

describe("recover failed deliveries of an endpoint", () => {
  let h: TestHerald;
  let receiver: Receiver;
  let app: { appId: string; token: string };
  let endpointId: string;
  let up = false;
  before(async () => {
    // Dead letters are the point here: no breaker may hold the failing deliveries back as pending.
    h = await startHerald({
      retryDelayScale: 0.01,
      autoDisableFailures: 0,
      autoDisableAfterMs: 0,
      endpointBreakerFailures: 1_000_000,
    });
    // Down (503) until told otherwise.
    receiver = await Receiver.start(() => (up ? 200 : 503));
    app = await h.createApp();
    const { status, body } = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: receiver.url, profile: "sendbird" },
    });
    assert.equal(status, 201, JSON.stringify(body));
    endpointId = body.id;
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  const recover = (id: string, body: unknown, token = app.token) =>
    call(h.url, "POST", `/v1/endpoints/${id}/recover`, { token, body });

  it("refuses a bad window, another app's endpoint and a token without manage", async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    for (const [body, parameter] of [
      [{}, "since"],
      [{ since: "last week" }, "since"],
      [{ since: iso(now - 1000), until: "soon" }, "until"],
      [{ since: iso(now - 1000), until: iso(now - 5000) }, "since"],
      [{ since: iso(now + 3_600_000) }, "since"],
    ] as const) {
      const { status, body: error } = await recover(endpointId, body);
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(error.error.parameter, parameter, JSON.stringify(error));
    }
    const other = await h.createApp();
    const foreign = await recover(endpointId, { since: iso(now - 1000) }, other.token);
    assert.equal(foreign.status, 404);
    assert.equal((await recover("ep_nope", { since: iso(now - 1000) })).status, 404);
    const reader = await call(h.url, "POST", "/v1/tokens", { token: app.token, body: { scopes: ["read"] } });
    assert.equal(reader.status, 201, JSON.stringify(reader.body));
    assert.equal((await recover(endpointId, { since: iso(now - 1000) }, reader.body.token)).status, 403);
  });

  it("sends 1,000 dead letters again in one call, each webhook id once, with progress", async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const events = Array.from({ length: EVENTS }, (_, n) => ({ category: "user:block", n }));
    const published = await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: { events } });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    const failedIds = new Set<string>();
    await eventually(async () => {
      failedIds.clear();
      let cursor: string | null = null;
      do {
        const page: { body: any } = await call(
          h.url,
          "GET",
          `/v1/deliveries?status=failed&limit=500${cursor ? `&cursor=${cursor}` : ""}`,
          { token: app.token },
        );
        for (const d of page.body.deliveries) failedIds.add(d.id);
        cursor = page.body.next_cursor;
      } while (cursor);
      return failedIds.size === EVENTS ? true : undefined;
    }, 60_000);
    const attemptsWhileDown = receiver.requests.length;
    assert.equal(attemptsWhileDown, EVENTS * 3, "three attempts each while down");

    up = true;
    const started = await recover(endpointId, { since });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const job = started.body;
    assert.match(job.id, /^rcv_/);
    assert.equal(job.endpoint_id, endpointId);
    assert.equal(job.status, "running");
    assert.equal(job.since, since);

    const seen: number[] = [];
    const finished = await eventually(async () => {
      const { status, body } = await call(h.url, "GET", `/v1/recoveries/${job.id}`, { token: app.token });
      assert.equal(status, 200);
      seen.push(body.recovered);
      return body.status === "succeeded" ? body : undefined;
    }, 30_000);
    assert.equal(finished.recovered, EVENTS);
    assert.equal(finished.total, EVENTS);
    assert.ok(finished.finished_at);
    assert.ok(
      seen.every((n, i) => i === 0 || n >= seen[i - 1]!),
      `progress only grows: ${seen.join(",")}`,
    );

    await receiver.waitFor(attemptsWhileDown + EVENTS);
    const resent = receiver.requests.slice(attemptsWhileDown).map((r) => String(r.headers["x-webhook-id"]));
    assert.equal(resent.length, EVENTS);
    assert.equal(new Set(resent).size, EVENTS, "no webhook id sent twice");
    assert.deepEqual(resent.sort(), [...failedIds].sort(), "every dead letter's webhook id, none lost");
    const succeeded = await eventually(async () => {
      const { body } = await call(h.url, "GET", "/v1/deliveries?status=succeeded&limit=500", { token: app.token });
      return body.deliveries.length === 500 ? body.deliveries : undefined;
    });
    assert.ok(
      succeeded.every((d: { attempts: number }) => d.attempts === 4),
      "three attempts while down, one after",
    );

    const other = await h.createApp();
    assert.equal((await call(h.url, "GET", `/v1/recoveries/${job.id}`, { token: other.token })).status, 404);
  });
});
