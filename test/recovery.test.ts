// Recover: every failed delivery of an endpoint in a window sent again by one call, as a background job
// whose progress the API reports. 1,000 deliveries fail against a receiver that is down, it comes back,
// one recover call brings every one of them, each webhook id once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, eventually, QUICK_DEAD_LETTERS, startHerald, type TestHerald } from "./helpers/herald.js";
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
    h = await startHerald(QUICK_DEAD_LETTERS);
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
    // Two at once: one starts, the other is told which one runs (1,000 deliveries take two batches).
    const both = await Promise.all([recover(endpointId, { since }), recover(endpointId, { since })]);
    assert.deepEqual(both.map((r) => r.status).sort(), [202, 409], JSON.stringify(both.map((r) => r.body)));
    const started = both.find((r) => r.status === 202)!;
    const refused = both.find((r) => r.status === 409)!;
    assert.equal(refused.body.error.code, "conflict");
    assert.match(
      refused.body.error.message,
      new RegExp(`Recovery "${started.body.id}" of this endpoint is still running`),
    );
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
    assert.equal(finished.skipped, 0);
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

    // Finished, it blocks nothing: the same window again finds nothing failed.
    const again = await recover(endpointId, { since });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    await eventually(async () => {
      const { body } = await call(h.url, "GET", `/v1/recoveries/${again.body.id}`, { token: app.token });
      return body.status === "succeeded" ? true : undefined;
    });
  });

  it("refuses a recovery while another process runs one of the endpoint (its row in the store)", async () => {
    // What another process sharing the database leaves while it works: a running row, leased for a minute.
    const now = Date.now();
    await h.database.exec(`
      INSERT INTO recoveries (id, app_id, endpoint_id, since, until, status, recovered, total, lease_until, created_at)
      VALUES ('rcv_elsewhere', '${app.appId}', '${endpointId}', ${now - 60_000}, ${now}, 'running', 0, NULL, ${now + 60_000}, ${now})`);
    const since = new Date(now - 1000).toISOString();
    const refused = await recover(endpointId, { since });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, "conflict");
    assert.match(refused.body.error.message, /Recovery "rcv_elsewhere" of this endpoint is still running/);
    // Not yet taken by any process (lease 0): running all the same.
    await h.database.exec("UPDATE recoveries SET lease_until = 0 WHERE id = 'rcv_elsewhere'");
    // This process's runner may take it now and finish it at once (nothing failed in its window): either way, no second one.
    const meanwhile = await recover(endpointId, { since });
    if (meanwhile.status === 202) {
      const { body } = await call(h.url, "GET", "/v1/recoveries/rcv_elsewhere", { token: app.token });
      assert.equal(body.status, "succeeded", "a second one started only once the first had finished");
    } else {
      assert.equal(meanwhile.status, 409, JSON.stringify(meanwhile.body));
    }
    await h.database.exec("UPDATE recoveries SET status = 'succeeded', finished_at = 1 WHERE id = 'rcv_elsewhere'");
    await eventually(async () => {
      const started = await recover(endpointId, { since });
      return started.status === 202 ? true : undefined;
    });
  });
});

describe("recover and the cap on manual resends", () => {
  let h: TestHerald;
  let receiver: Receiver;
  before(async () => {
    h = await startHerald({
      retryDelayScale: 0.01,
      maxManualRetries: 1,
      autoDisableFailures: 0,
      autoDisableAfterMs: 0,
      endpointBreakerFailures: 1_000_000,
    });
    receiver = await Receiver.start(() => 503);
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  it("counts as a manual resend per delivery it re-queues, and skips those at the cap", async () => {
    const app = await h.createApp();
    const { token } = app;
    const created = await call(h.url, "POST", "/v1/endpoints", {
      token,
      body: { url: receiver.url, profile: "sendbird" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const since = new Date(Date.now() - 1000).toISOString();
    const events = [{ category: "user:block" }, { category: "user:block" }];
    assert.equal((await call(h.url, "POST", "/v1/events/batch", { token, body: { events } })).status, 202);
    const failed = async () => {
      const { body } = await call(h.url, "GET", "/v1/deliveries?status=failed", { token });
      return body.deliveries.length === 2 ? (body.deliveries as { id: string; manual_retries: number }[]) : undefined;
    };
    const [capped, under] = await eventually(failed, 30_000);
    // One is resent by hand and fails again: at the cap of 1 now.
    assert.equal((await call(h.url, "POST", `/v1/deliveries/${capped!.id}/retry`, { token })).status, 202);
    const again = await eventually(async () => {
      const list = await failed();
      return list?.find((d) => d.id === capped!.id)?.manual_retries === 1 ? list : undefined;
    }, 30_000);
    assert.equal(again.find((d) => d.id === under!.id)?.manual_retries, 0);

    const started = await call(h.url, "POST", `/v1/endpoints/${created.body.id}/recover`, { token, body: { since } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.body.skipped, 0);
    const done = await eventually(async () => {
      const { body } = await call(h.url, "GET", `/v1/recoveries/${started.body.id}`, { token });
      return body.status === "succeeded" ? body : undefined;
    });
    assert.deepEqual([done.total, done.recovered, done.skipped], [2, 1, 1]);
    const delivery = async (id: string) => (await call(h.url, "GET", `/v1/deliveries/${id}`, { token })).body;
    const skipped = await delivery(capped!.id);
    assert.deepEqual([skipped.status, skipped.manual_retries], ["failed", 1], "at the cap: left failed");
    const requeued = await delivery(under!.id);
    assert.equal(requeued.manual_retries, 1, "re-queued, counting one manual resend");
    assert.notEqual(requeued.attempt_log.length, 0);
    // Its resend by hand is now past the cap too.
    await eventually(async () => ((await delivery(under!.id)).status === "failed" ? true : undefined), 30_000);
    const refused = await call(h.url, "POST", `/v1/deliveries/${under!.id}/retry`, { token });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, "limit_exceeded");
  });
});
