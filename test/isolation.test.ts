import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createHerald } from "../src/index.js";
import {
  call,
  configureChatWebhook,
  eventually,
  LOOPBACK_ALLOWED,
  sleep,
  startHerald,
  type TestHerald,
  testDatabase,
} from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

describe("a slow endpoint slows only itself", () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    h = await startHerald({ endpointConcurrency: 8 });
  });
  after(async () => {
    await h.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  it("delivers a healthy app's events while another app's endpoint hangs with a backlog", async () => {
    const stuck = await Receiver.start(() => "hang");
    const healthy = await Receiver.start();
    receivers.push(stuck, healthy);
    const slowApp = await h.createApp("slow");
    const fastApp = await h.createApp("fast");
    await configureChatWebhook(h.url, slowApp.token, { url: stuck.url });
    await configureChatWebhook(h.url, fastApp.token, { url: healthy.url });

    const events = (n: number) => ({ events: Array.from({ length: n }, () => ({ category: "user:block" })) });
    await call(h.url, "POST", "/v1/events/batch", { token: slowApp.token, body: events(300) });
    await stuck.waitFor(8);
    const started = Date.now();
    await call(h.url, "POST", "/v1/events/batch", { token: fastApp.token, body: events(200) });
    await healthy.waitFor(200, 3000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 2000, `healthy app took ${elapsed} ms behind a hanging one`);
    assert.equal(stuck.requests.length, 8, "the hanging endpoint holds no more than its own concurrency");
  });
});

describe("the process-wide cap on attempts in flight", () => {
  it("never has more attempts in flight than HERALD_MAX_IN_FLIGHT over all endpoints, and starts each delivery once", async () => {
    // Two endpoints that may each take 2 at once, under a process-wide cap of 3: without the cap, 4 run at once.
    const cap = 3;
    const h = await startHerald({ maxInFlight: cap, endpointConcurrency: 2 });
    let inFlight = 0;
    let peak = 0;
    /** Counts the requests the receivers hold (arrived, not yet answered): each is an attempt Herald has in flight. */
    const held = async () => {
      peak = Math.max(peak, ++inFlight);
      await sleep(100); // a slow endpoint, so attempts overlap
      inFlight--;
      return 200;
    };
    const receivers = await Promise.all([Receiver.start(held), Receiver.start(held)]);
    try {
      const events = Array.from({ length: 12 }, () => ({ category: "user:block" }));
      for (const [n, receiver] of receivers.entries()) {
        const app = await h.createApp(`app-${n}`);
        await configureChatWebhook(h.url, app.token, { url: receiver.url });
        await h.herald.publishBatch(app.appId, events);
      }
      await Promise.all(receivers.map((receiver) => receiver.waitFor(12, 10_000)));
      assert.equal(peak, cap, `at most ${cap} requests in flight at once, and the cap was reached (peak ${peak})`);
      for (const receiver of receivers) {
        const ids = receiver.requests.map((r) => r.headers["x-webhook-id"]);
        assert.equal(ids.length, 12);
        assert.equal(new Set(ids).size, 12, "each delivery arrived exactly once");
      }
    } finally {
      await h.close();
      await Promise.all(receivers.map((receiver) => receiver.close()));
    }
  });
});

describe("endpoints that share a host", () => {
  it("are each bounded only by their own concurrency, not by a pool shared per origin", async () => {
    const h = await startHerald();
    const receiver = await Receiver.start(async () => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      return 200;
    });
    try {
      const apps = await Promise.all([1, 2, 3].map((n) => h.createApp(`shared-${n}`)));
      for (const app of apps) {
        await call(h.url, "PUT", `/v1/applications/${app.appId}/settings/webhook`, {
          token: app.token,
          body: { enabled: true, url: `${receiver.url}/${app.appId}`, enabled_events: ["*"] },
        });
      }
      // 3 × 32 Calls attempts at once to one host, each answered in 400 ms, each with a 1 s deadline.
      const events = Array.from({ length: 32 }, () => ({ category: "room:participant_enter" }));
      await Promise.all(apps.map((app) => h.herald.publishBatch(app.appId, events)));
      await receiver.waitFor(96, 5000);
      for (const app of apps) {
        const delivered = await eventually(async () => {
          const { body } = await call(h.url, "GET", "/v1/deliveries?limit=100", { token: app.token });
          const done = body.deliveries.filter((d: { status: string }) => d.status !== "pending");
          return done.length === 32 ? done : undefined;
        });
        assert.ok(
          delivered.every((d: { status: string; attempts: number }) => d.status === "succeeded" && d.attempts === 1),
          "no attempt timed out",
        );
      }
      assert.equal(receiver.requests.length, 96);
    } finally {
      await h.close();
      await receiver.close();
    }
  });
});

describe("in-process API", () => {
  it("publishes with createHerald() and herald.publish() and delivers without the HTTP server", async () => {
    const receiver = await Receiver.start();
    const database = testDatabase();
    after(() => database.drop());
    const herald = await createHerald({
      env: {},
      databaseUrl: database.url,
      logLevel: "silent",
      allowNetworks: LOOPBACK_ALLOWED,
    });
    try {
      const { app, apiToken } = await herald.apps.create("in-process");
      const put = await herald.server.inject({
        method: "PUT",
        url: "/v3/applications/settings/webhook",
        headers: { "api-token": apiToken },
        payload: { enabled: true, url: receiver.url, enabled_events: ["group_channel:join"] },
      });
      assert.equal(put.statusCode, 200);
      const id = await herald.publish(app.id, { category: "group_channel:join", users: [{ user_id: "Mina" }] });
      const ids = await herald.publishBatch(app.id, [{ category: "group_channel:join" }, { category: "user:block" }]);
      assert.match(id, /^evt_[0-9a-f]{24}$/);
      assert.equal(ids.length, 2);
      await receiver.waitFor(2);
      assert.deepEqual(
        receiver.requests.map((r) => JSON.parse(r.raw.toString()).category),
        ["group_channel:join", "group_channel:join"],
      );
      await assert.rejects(herald.publish(app.id, { category: "nope" }), /Unknown category "nope"/);
      await assert.rejects(herald.publish("no-such-app", { category: "user:block" }), /No app/);
    } finally {
      await herald.close();
      await receiver.close();
    }
  });
});
