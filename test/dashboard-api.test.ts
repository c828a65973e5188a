import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { createHerald } from "../src/index.js";
import {
  call,
  configureChatWebhook,
  eventually,
  LOOPBACK_ALLOWED,
  startHerald,
  type TestHerald,
} from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

const event = (message: string) => ({
  category: "group_channel:message_send",
  sender: { user_id: "Jeff", nickname: "Jeff", profile_url: "", metadata: {} },
  type: "MESG",
  payload: { message_id: 1, message, created_at: 1732350000123 },
  channel: { channel_url: "sendbird_group_channel_1", name: "Trip", is_super: false },
});

/** A live stream read as the dashboard reads it: fetch with the token in a header, events parsed as they come. */
async function openLive(baseUrl: string, token: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/v1/live/deliveries`, {
    headers: { "api-token": token, ...headers },
    signal: controller.signal,
  });
  const events: { event: string; data: any }[] = [];
  let waiters: (() => void)[] = [];
  if (response.ok && response.body) {
    void (async () => {
      let buffer = "";
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let end = buffer.indexOf("\n\n");
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const name = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (name) events.push({ event: name, data: data ? JSON.parse(data) : undefined });
            for (const wake of waiters) wake();
            waiters = [];
            end = buffer.indexOf("\n\n");
          }
        }
      } catch {}
    })();
  }
  return {
    response,
    events,
    /** Resolves with the first event that passes `match`, or fails after `timeoutMs`. */
    async next(match: (e: { event: string; data: any }) => boolean, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching event in ${timeoutMs} ms: ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    close: () => controller.abort(),
  };
}

describe("the dashboard's server side", () => {
  let h: TestHerald;
  before(async () => {
    h = await startHerald({ retryDelayScale: 0.0001 });
  });
  after(async () => {
    await h?.close();
  });

  test("serves the built app at /dashboard with a strict policy, every page path, and hashed assets", async () => {
    const page = await fetch(`${h.url}/dashboard`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'.*script-src 'self'/);
    assert.equal(page.headers.get("cache-control"), "no-cache");
    const html = await page.text();
    // No inline script: every script is a file the policy allows.
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
    const deep = await fetch(`${h.url}/dashboard/deliveries`);
    assert.equal(await deep.text(), html);

    const assets = [...html.matchAll(/(?:src|href)="(\/dashboard\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith(".js")) && assets.some((a) => a.endsWith(".css")), html);
    let gzipped = 0;
    for (const asset of assets) {
      const response = await fetch(`${h.url}${asset}`);
      assert.equal(response.status, 200, asset);
      assert.match(response.headers.get("cache-control") ?? "", /immutable/);
      gzipped += gzipSync(Buffer.from(await response.arrayBuffer())).length;
    }
    console.log(`# dashboard bundle: ${(gzipped / 1024).toFixed(1)} KB gzipped`);
    assert.ok(gzipped < 150 * 1024, `the bundle is ${gzipped} bytes gzipped`);

    const missing = await call(h.url, "GET", "/dashboard/assets/nothing-here.js");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "not_found");
    for (const path of ["/dashboard/..%2f..%2fpackage.json", "/dashboard/%2e%2e/%2e%2e/package.json"]) {
      const escaped = await fetch(`${h.url}${path}`);
      assert.doesNotMatch(await escaped.text(), /"name": "herald"/, path);
    }
  });

  test("GET /v1/session says who a credential is", async () => {
    const app = await h.createApp("who");
    assert.deepEqual((await call(h.url, "GET", "/v1/session", { token: h.adminToken })).body, { kind: "admin" });
    const master = await call(h.url, "GET", "/v1/session", { token: app.token });
    assert.deepEqual(master.body, {
      kind: "app",
      app: { id: app.appId, name: "who" },
      scopes: ["publish", "read", "manage"],
      master: true,
    });
    const created = await call(h.url, "POST", "/v1/tokens", { token: app.token, body: { scopes: ["publish"] } });
    const publishOnly = await call(h.url, "GET", "/v1/session", { token: created.body.token });
    assert.deepEqual([publishOnly.body.scopes, publishOnly.body.master], [["publish"], false]);
    const wrong = await call(h.url, "GET", "/v1/session", { token: "not-a-token" });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.code, "unauthorized");
    assert.equal((await call(h.url, "GET", "/v1/session")).status, 401);
  });

  test("the admin acts for an app on Sendbird's settings routes with Herald-App-Id", async () => {
    const app = await h.createApp("admin-settings");
    const headers = { "herald-app-id": app.appId };
    const put = await call(h.url, "PUT", "/v3/applications/settings/webhook", {
      token: h.adminToken,
      headers,
      body: { enabled: true, url: "http://127.0.0.1:9/admin", enabled_events: ["*"] },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const read = await call(h.url, "GET", "/v3/applications/settings/webhook", { token: app.token });
    assert.equal(read.body.webhook.url, "http://127.0.0.1:9/admin");
    const calls = await call(h.url, "GET", `/v1/applications/${app.appId}/settings/webhook`, {
      token: h.adminToken,
      headers,
    });
    assert.equal(calls.status, 200);
    // Without the header the admin is no app, and is told how to name one, in Sendbird's format.
    const bare = await call(h.url, "GET", "/v3/applications/settings/webhook", { token: h.adminToken });
    assert.equal(bare.status, 403);
    assert.equal(bare.body.error, true);
    assert.match(bare.body.message, /Herald-App-Id/);
  });

  test("GET /v1/stats counts each endpoint's outcomes, latency and last error, failing endpoints first", async () => {
    const app = await h.createApp("stats");
    const failing = await Receiver.start((request) => (request.raw.toString().includes("fail me") ? 500 : 200));
    const healthy = await Receiver.start();
    try {
      const standard = await call(h.url, "POST", "/v1/endpoints", {
        token: app.token,
        body: { url: healthy.url, filter: ["group_channel:*"] },
      });
      await configureChatWebhook(h.url, app.token, { url: failing.url });
      for (const message of ["one", "two", "fail me"]) {
        await call(h.url, "POST", "/v1/events", { token: app.token, body: event(message) });
      }
      const stats = await eventually(async () => {
        const { body } = await call(h.url, "GET", "/v1/stats?hours=1", { token: app.token });
        const settled = body.endpoints.every((e: any) => e.succeeded + e.failed === 3);
        return settled ? body : undefined;
      }, 20_000);
      assert.equal(stats.complete, true);
      assert.equal(stats.hours, 1);
      const [first, second] = stats.endpoints;
      assert.equal(first.url, failing.url, "the failing endpoint comes first");
      assert.deepEqual([first.succeeded, first.failed, first.queue_depth], [2, 1, 0]);
      assert.equal(first.success_rate, 2 / 3);
      assert.match(first.last_error.message, /500/);
      assert.equal(second.endpoint_id, standard.body.id);
      assert.deepEqual([second.succeeded, second.failed, second.success_rate, second.last_error], [3, 0, 1, null]);
      assert.ok(second.latency_p50_ms >= 0 && second.latency_p99_ms >= second.latency_p50_ms);
      assert.equal(first.series.length, 36);
      assert.equal(
        first.series.reduce((sum: number, b: any) => sum + b.succeeded + b.failed, 0),
        3,
      );
      const bad = await call(h.url, "GET", "/v1/stats?hours=0", { token: app.token });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.parameter, "hours");
    } finally {
      await failing.close();
      await healthy.close();
    }
  });

  test("GET /v1/live/deliveries streams a delivery as it is created and as its attempt lands", async () => {
    const app = await h.createApp("live");
    // The answer takes longer than a poll, so the stream sees the delivery pending, then changed.
    const receiver = await Receiver.start(() => new Promise((resolve) => setTimeout(() => resolve(200), 2500)));
    try {
      await configureChatWebhook(h.url, app.token, { url: receiver.url });
      const live = await openLive(h.url, app.token);
      assert.equal(live.response.status, 200);
      assert.match(live.response.headers.get("content-type") ?? "", /^text\/event-stream/);
      await live.next((e) => e.event === "ready");
      const published = await call(h.url, "POST", "/v1/events", { token: app.token, body: event("live") });
      const created = await live.next((e) => e.data?.event_id === published.body.id);
      assert.deepEqual([created.event, created.data.status, created.data.attempt_log], ["delivery", "pending", []]);
      const done = await live.next((e) => e.data?.id === created.data.id && e.data.status === "succeeded");
      assert.equal(done.event, "delivery");
      assert.equal(done.data.attempt_log[0].status_code, 200);
      live.close();
    } finally {
      await receiver.close();
    }
  });

  test("a live stream sees deliveries another process made and sent (it reads the store)", async () => {
    const app = await h.createApp("two-processes");
    const receiver = await Receiver.start();
    const other = await createHerald({
      adminToken: h.adminToken,
      env: {},
      databaseUrl: h.database.url,
      host: "127.0.0.1",
      port: 0,
      logLevel: "silent",
      sqliteSynchronous: "normal",
      allowNetworks: LOOPBACK_ALLOWED,
      role: "api",
    });
    try {
      const otherUrl = await other.listen();
      await configureChatWebhook(h.url, app.token, { url: receiver.url });
      const live = await openLive(otherUrl, app.token);
      await live.next((e) => e.event === "ready");
      const published = await call(h.url, "POST", "/v1/events", { token: app.token, body: event("elsewhere") });
      await live.next((e) => e.data?.event_id === published.body.id && e.data.status === "succeeded");
      live.close();
    } finally {
      await other.close();
      await receiver.close();
    }
  });

  test("closing Herald ends its open live streams instead of waiting on them", async () => {
    const own = await startHerald();
    const app = await own.createApp("closing");
    const live = await openLive(own.url, app.token);
    await live.next((e) => e.event === "ready");
    const started = Date.now();
    const closed = await Promise.race([
      own.close().then(() => "closed"),
      new Promise((resolve) => setTimeout(() => resolve("still open after 8 s"), 8000)),
    ]);
    assert.equal(closed, "closed");
    console.log(`# closed with a live stream open in ${Date.now() - started} ms`);
    live.close();
  });

  test("live streams are bounded per app, and a closed one frees its place", async () => {
    const app = await h.createApp("bounded");
    const streams = [];
    for (let i = 0; i < 10; i++) {
      const live = await openLive(h.url, app.token);
      assert.equal(live.response.status, 200);
      streams.push(live);
    }
    const refused = await openLive(h.url, app.token);
    assert.equal(refused.response.status, 429);
    assert.ok(refused.response.headers.get("retry-after"));
    assert.match(((await refused.response.json()) as any).error.message, /already has 10 live streams/);
    // Another app is not held by this one's streams.
    const other = await h.createApp("bounded-other");
    const elsewhere = await openLive(h.url, other.token);
    assert.equal(elsewhere.response.status, 200);
    elsewhere.close();
    streams.pop()!.close();
    const again = await eventually(async () => {
      const live = await openLive(h.url, app.token);
      if (live.response.status === 200) return live;
      return undefined;
    });
    again.close();
    for (const live of streams) live.close();
    const anonymous = await fetch(`${h.url}/v1/live/deliveries`);
    assert.equal(anonymous.status, 401);
  });
});
