import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { HeraldError } from "../src/index.js";
import { call, sleep, startHerald, type TestHerald } from "./helpers/herald.js";

const events = (n: number) => ({ events: Array.from({ length: n }, () => ({ category: "user:block" })) });

describe("per-app publish rate limit", () => {
  let h: TestHerald;
  before(async () => {
    // The deployment default: 100 events per second per app.
    h = await startHerald({ publishRateLimit: 100 });
  });
  after(() => h.close());

  const setLimit = (appId: string, limit: unknown) =>
    call(h.url, "PATCH", `/v1/apps/${appId}`, { token: h.adminToken, body: { publish_rate_limit: limit } });

  it("refuses a flood with 429 and Retry-After, storing nothing of it, while another app publishes", async () => {
    const flooder = await h.createApp("flooder");
    const quiet = await h.createApp("quiet");
    const first = await call(h.url, "POST", "/v1/events/batch", { token: flooder.token, body: events(100) });
    assert.equal(first.status, 202);
    const before = await h.counts();
    const response = await fetch(`${h.url}/v1/events/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", "api-token": flooder.token },
      body: JSON.stringify(events(50)),
    });
    assert.equal(response.status, 429);
    const retryAfter = Number(response.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 2, `Retry-After ${retryAfter}`);
    const body = (await response.json()) as { error: Record<string, unknown> };
    assert.equal(body.error.code, "rate_limited");
    // The body says it too, in the API's own snake_case.
    assert.equal(body.error.retry_after_seconds, retryAfter);
    assert.equal(body.error.retryAfterSeconds, undefined);
    assert.match(String(body.error.message), /100 events per second/);
    assert.deepEqual(await h.counts(), before, "a refused publish stores nothing");
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    assert.match(metrics, /^herald_publish_rate_limited_total [1-9]/m);

    // Another app has a bucket of its own.
    assert.equal(
      (await call(h.url, "POST", "/v1/events/batch", { token: quiet.token, body: events(100) })).status,
      202,
    );

    // The bucket refills at the limit: after Retry-After the same request goes through.
    await sleep(retryAfter * 1000);
    assert.equal(
      (await call(h.url, "POST", "/v1/events/batch", { token: flooder.token, body: events(50) })).status,
      202,
    );
  });

  it("answers an app in debt before its upload arrives, so a flood is refused without being read", async () => {
    const app = await h.createApp();
    // 300 events against 100 in the bucket: 2 s of debt.
    assert.equal((await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: events(300) })).status, 202);
    // Headers that promise 1 MB, and none of it sent: only a refusal that does not wait for the body answers.
    const { port } = new URL(h.url);
    const socket = connect(Number(port), "127.0.0.1");
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        let received = "";
        socket.on("data", (chunk) => {
          received += chunk;
          if (received.includes("\r\n\r\n")) resolve(received);
        });
        socket.on("error", reject);
        setTimeout(() => reject(new Error(`no answer before the body: ${JSON.stringify(received)}`)), 3000);
        socket.write(
          `POST /v1/events/batch HTTP/1.1\r\nHost: x\r\nApi-Token: ${app.token}\r\n` +
            "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n",
        );
      });
      assert.match(answer, /^HTTP\/1\.1 429 /);
      assert.match(answer, /\r\nretry-after: \d+\r\n/i);
    } finally {
      socket.destroy();
    }
  });

  it("answers the retry of a publish that went through from its record, even while the app is over its rate", async () => {
    const app = await h.createApp();
    const headers = { "idempotency-key": "retry-me" };
    const first = await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: events(300), headers });
    assert.equal(first.status, 202);
    // 2 s of debt now; the retry (its 202 lost, say) is still answered, and a new publish is not.
    const retried = await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: events(300), headers });
    assert.equal(retried.status, 202, JSON.stringify(retried.body));
    assert.equal(retried.body.replayed, true);
    assert.deepEqual(retried.body.ids, first.body.ids);
    const fresh = await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } });
    assert.equal(fresh.status, 429);
  });

  it("counts events, not requests: single publishes past the limit are refused too", async () => {
    const app = await h.createApp();
    await setLimit(app.appId, 20);
    const statuses: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 60; i++) {
      statuses.push(
        (await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } })).status,
      );
    }
    const elapsedSeconds = (Date.now() - started) / 1000;
    const accepted = statuses.filter((s) => s === 202).length;
    // 20 from the full bucket, plus what refilled while the requests ran (at 20/s); the rest refused.
    assert.ok(accepted >= 20 && accepted <= 20 + Math.ceil(20 * elapsedSeconds) + 1, `${accepted} accepted`);
    assert.equal(statuses.filter((s) => s === 429).length, 60 - accepted);
    assert.equal((await h.herald.store.listEvents(app.appId, { limit: 100 })).length, accepted);
  });

  it("admits a batch bigger than a second's worth when the bucket is full, then makes the app wait", async () => {
    const app = await h.createApp();
    assert.equal((await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: events(300) })).status, 202);
    const next = await fetch(`${h.url}/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json", "api-token": app.token },
      body: JSON.stringify({ category: "user:block" }),
    });
    assert.equal(next.status, 429);
    // 300 events paid for with 100 in the bucket: about 2 s of debt before one more event fits.
    assert.ok(Number(next.headers.get("retry-after")) >= 2);
  });

  it("an app's own limit replaces the default, and null restores it", async () => {
    const app = await h.createApp();
    const shown = await setLimit(app.appId, 5);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.publish_rate_limit, 5);
    assert.equal(
      (await call(h.url, "GET", `/v1/apps/${app.appId}`, { token: h.adminToken })).body.publish_rate_limit,
      5,
    );
    assert.equal((await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: events(5) })).status, 202);
    const refused = await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } });
    assert.equal(refused.status, 429);
    assert.match(refused.body.error.message, /5 events per second/);

    assert.equal((await setLimit(app.appId, null)).body.publish_rate_limit, null);
    const batch = await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: events(50) });
    assert.equal(batch.status, 202, "back on the default of 100/s");
  });

  it("the in-process API is limited too, with a rate_limited HeraldError", async () => {
    const app = await h.createApp();
    await setLimit(app.appId, 1);
    await h.herald.publish(app.appId, { category: "user:block" });
    await assert.rejects(h.herald.publish(app.appId, { category: "user:block" }), (error: unknown) => {
      assert.ok(error instanceof HeraldError);
      assert.equal(error.kind, "rate_limited");
      assert.equal(error.details.retryAfterSeconds, 1);
      return true;
    });
  });

  it("refuses bad limits in the native format, and only the admin may set them", async () => {
    const app = await h.createApp();
    for (const bad of [0, -1, 1.5, "10", 2_000_000]) {
      const response = await setLimit(app.appId, bad);
      assert.equal(response.status, 400, `limit ${JSON.stringify(bad)}`);
      assert.equal(response.body.error.parameter, "publish_rate_limit");
    }
    const extra = await call(h.url, "PATCH", `/v1/apps/${app.appId}`, {
      token: h.adminToken,
      body: { publish_rate_limit: 5, name: "x" },
    });
    assert.equal(extra.status, 400);
    const byApp = await call(h.url, "PATCH", `/v1/apps/${app.appId}`, {
      token: app.token,
      body: { publish_rate_limit: 1_000_000 },
    });
    assert.equal(byApp.status, 403);
    assert.equal((await setLimit("app_nonexistent", 5)).status, 404);
  });

  it("an invalid event is a 400 whatever the rate, and costs nothing", async () => {
    const app = await h.createApp();
    await setLimit(app.appId, 2);
    for (let i = 0; i < 5; i++) {
      const bad = await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "no_such:type" } });
      assert.equal(bad.status, 400);
    }
    assert.equal((await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: events(2) })).status, 202);
  });
});
