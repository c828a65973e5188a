import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, configureChatWebhook, startHerald, startWithReceiver, type TestHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

describe("bad input: a clear 4xx in the API's format, and the store unchanged", () => {
  let h: TestHerald;
  let receiver: Receiver;
  let app: { appId: string; token: string };

  before(async () => {
    ({ h, receiver, app } = await startWithReceiver({ bodyLimit: 64 * 1024 }));
    await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } });
  });
  after(() => Promise.all([h.close(), receiver.close()]));

  const cases: {
    name: string;
    path?: string;
    token?: string | null;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
    status: number;
    code: string;
    mentions?: RegExp;
  }[] = [
    { name: "malformed JSON", rawBody: '{"category": "user:block",', status: 400, code: "malformed_json" },
    {
      name: "an empty body",
      rawBody: "",
      status: 400,
      code: "invalid_type",
      mentions: /"body" must be of type object/,
    },
    {
      name: "a non-JSON content type",
      rawBody: "category=user:block",
      headers: { "content-type": "text/plain" },
      status: 415,
      code: "unsupported_media_type",
    },
    { name: "an array instead of an event", body: [{ category: "user:block" }], status: 400, code: "invalid_type" },
    { name: "a missing category", body: { sender: {} }, status: 400, code: "missing_parameter", mentions: /category/ },
    {
      name: "a category of the wrong type",
      body: { category: 12 },
      status: 400,
      code: "invalid_type",
      mentions: /category/,
    },
    {
      name: "an unknown category",
      body: { category: "group_channel:mesage_send" },
      status: 400,
      code: "invalid_value",
      mentions: /group_channel:mesage_send.*group_channel:message_send/,
    },
    {
      name: "a body over the limit",
      body: { category: "user:block", pad: "x".repeat(70 * 1024) },
      status: 413,
      code: "payload_too_large",
    },
    { name: "a missing token", token: null, body: { category: "user:block" }, status: 401, code: "unauthorized" },
    {
      name: "a wrong token",
      token: "f".repeat(40),
      body: { category: "user:block" },
      status: 401,
      code: "unauthorized",
    },
    {
      name: "a batch with one unknown category among good ones",
      path: "/v1/events/batch",
      body: { events: [{ category: "user:block" }, { category: "user:blok" }] },
      status: 400,
      code: "invalid_value",
      mentions: /events\[1\]\.category.*user:block/,
    },
    {
      name: "a batch that is not an array",
      path: "/v1/events/batch",
      body: { events: { category: "user:block" } },
      status: 400,
      code: "invalid_type",
    },
    { name: "an empty batch", path: "/v1/events/batch", body: { events: [] }, status: 400, code: "invalid_value" },
    {
      name: "a batch over 1,000 events",
      path: "/v1/events/batch",
      body: { events: Array.from({ length: 1001 }, () => ({ category: "user:block" })) },
      status: 400,
      code: "invalid_value",
      mentions: /1001/,
    },
  ];

  for (const c of cases) {
    it(`refuses ${c.name}`, async () => {
      const before = await h.counts();
      const response = await call(h.url, "POST", c.path ?? "/v1/events", {
        token: c.token === null ? undefined : (c.token ?? app.token),
        body: c.body,
        rawBody: c.rawBody,
        headers: c.headers,
      });
      assert.equal(response.status, c.status, JSON.stringify(response.body));
      assert.equal(response.body.error.code, c.code);
      assert.equal(typeof response.body.error.message, "string");
      if (c.mentions) assert.match(response.body.error.message, c.mentions);
      assert.deepEqual(await h.counts(), before);
    });
  }

  it("names the closest categories in a structured field", async () => {
    const { body } = await call(h.url, "POST", "/v1/events", {
      token: app.token,
      body: { category: "direct_call:dail" },
    });
    assert.equal(body.error.parameter, "category");
    assert.equal(body.error.suggestions[0], "direct_call:dial");
  });

  it("takes no body with a JSON content type as no body, where a route needs none", async () => {
    const created = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: "http://127.0.0.1:9/empty-body" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const deleted = await fetch(`${h.url}/v1/endpoints/${created.body.id}`, {
      method: "DELETE",
      headers: { "api-token": app.token, "content-type": "application/json" },
      body: "",
    });
    assert.equal(deleted.status, 204, await deleted.text());
  });

  it("answers unknown routes with a JSON 404, never HTML", async () => {
    const response = await fetch(`${h.url}/admin/../../etc/passwd`);
    assert.equal(response.status, 404);
    assert.match(response.headers.get("content-type") ?? "", /application\/json/);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "not_found");
  });

  it("still delivers after all that bad input", async () => {
    await receiver.waitFor(1);
    assert.equal(receiver.json(0).category, "user:block");
  });
});

describe("idempotent publishing", () => {
  it("makes a repeated publish with the same Idempotency-Key a no-op", async () => {
    const h = await startHerald();
    const receiver = await Receiver.start();
    const otherReceiver = await Receiver.start();
    try {
      const app = await h.createApp();
      await configureChatWebhook(h.url, app.token, { url: receiver.url });
      const publish = () =>
        call(h.url, "POST", "/v1/events/batch", {
          token: app.token,
          headers: { "idempotency-key": "order-42" },
          body: { events: [{ category: "user:block" }, { category: "user:unblock" }] },
        });
      const first = await publish();
      const second = await publish();
      assert.equal(first.status, 202);
      assert.equal(second.status, 202);
      assert.deepEqual(second.body.ids, first.body.ids);
      assert.equal(first.body.replayed, false);
      assert.equal(second.body.replayed, true);
      assert.equal((await h.counts()).events, 2);

      // Keys are per app: another app's publish with the same key is a new event of its own.
      const other = await h.createApp("other");
      await configureChatWebhook(h.url, other.token, { url: otherReceiver.url });
      const foreign = await call(h.url, "POST", "/v1/events", {
        token: other.token,
        headers: { "idempotency-key": "order-42" },
        body: { category: "group_channel:join" },
      });
      assert.equal(foreign.status, 202, JSON.stringify(foreign.body));
      assert.equal(foreign.body.replayed, false, "another app's key is not a replay");
      assert.match(foreign.body.id, /^evt_/);
      assert.ok(!first.body.ids.includes(foreign.body.id), "another app got the first app's event id");
      assert.equal((await h.counts()).events, 3, "the other app's event is stored");
      await otherReceiver.waitFor(1);
      const delivered = otherReceiver.json(0);
      assert.equal(delivered.category, "group_channel:join");
      assert.equal(delivered.app_id, other.appId);
      const { body: log } = await call(h.url, "GET", "/v1/deliveries", { token: other.token });
      assert.deepEqual(
        log.deliveries.map((d: { event_id: string }) => d.event_id),
        [foreign.body.id],
        "the other app's delivery log holds its own event",
      );
      assert.equal(log.deliveries[0].id, otherReceiver.requests[0]!.headers["x-webhook-id"]);

      // ...and the first app's key still answers with the first app's ids.
      const third = await publish();
      assert.deepEqual([third.status, third.body.replayed, third.body.ids], [202, true, first.body.ids]);
      assert.deepEqual(await h.counts(), { events: 3, deliveries: 3, endpoints: 2 });
      await receiver.waitFor(2);
      assert.deepEqual(receiver.requests.map((r) => JSON.parse(r.raw.toString()).category).sort(), [
        "user:block",
        "user:unblock",
      ]);
      assert.equal(otherReceiver.requests.length, 1);
    } finally {
      await h.close();
      await receiver.close();
      await otherReceiver.close();
    }
  });
});

describe("storage unavailable", () => {
  it("answers 503 in the API's format while the database is locked, and stores nothing", async () => {
    const { h, receiver, app } = await startWithReceiver();
    // Another connection holds the locks past Herald's 5 s lock timeout.
    let unlock: (() => Promise<void>) | undefined = await h.database.lock();
    try {
      const locked = await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } });
      assert.equal(locked.status, 503);
      assert.equal(locked.body.error.code, "unavailable");
      const sendbird = await call(h.url, "PUT", "/v3/applications/settings/webhook", {
        token: app.token,
        body: { enabled: false },
      });
      assert.equal(sendbird.status, 503);
      assert.equal(sendbird.body.error, true);
      await unlock();
      unlock = undefined;
      assert.equal((await h.counts()).events, 0);
      const after = await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } });
      assert.equal(after.status, 202);
      await receiver.waitFor(1);
    } finally {
      await unlock?.();
      await h.close();
      await receiver.close();
    }
  });
});
