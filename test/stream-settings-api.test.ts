import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SignJWT } from "jose";
import { StreamChat } from "stream-chat";
import { call, startHerald, type TestHerald } from "./helpers/herald.js";

/** What `stream-chat` throws for a non-2xx answer: an ErrorFromResponse with Stream's code and the HTTP status. */
async function streamError(
  promise: Promise<unknown>,
): Promise<{ code: number | null; status: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    const { code, status, message, name } = error as {
      code: number | null;
      status: number;
      message: string;
      name: string;
    };
    assert.equal(name, "ErrorFromResponse", message);
    return { code, status, message };
  }
  assert.fail("the call succeeded");
}

describe("Stream's /app settings API, driven by the real stream-chat server client", () => {
  let h: TestHerald;
  let app: { appId: string; token: string };
  let key: { api_key: string; api_secret: string };
  let client: StreamChat;

  const newKey = async (appId: string) => {
    const created = await call(h.url, "POST", `/v1/apps/${appId}/keys`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as { api_key: string; api_secret: string };
  };
  // A path prefix on the base URL, as a deployment behind a reverse proxy has.
  const clientFor = (apiKey: string, secret: string) =>
    new StreamChat(apiKey, secret, { baseURL: `${h.url}/chat/api` });

  before(async () => {
    h = await startHerald();
    app = await h.createApp("stream");
    key = await newKey(app.appId);
    client = clientFor(key.api_key, key.api_secret);
  });
  after(() => h.close());

  it("round-trips webhook_url, event_hooks and the synchronous hook settings, under any base path", async () => {
    await client.updateAppSettings({
      webhook_url: "http://127.0.0.1:9/legacy",
      webhook_events: ["message.new", "message.updated"],
      event_hooks: [
        { hook_type: "webhook", enabled: true, event_types: [], webhook_url: "http://127.0.0.1:9/all" },
        {
          hook_type: "webhook",
          enabled: false,
          event_types: ["channel.created"],
          webhook_url: "http://127.0.0.1:9/off",
        },
      ],
      before_message_send_hook_url: "http://127.0.0.1:9/before",
      before_message_send_hook_attempt_timeout_ms: 2500,
      custom_action_handler_url: "http://127.0.0.1:9/commands/{type}",
    } as never);
    const { app: settings } = (await client.getAppSettings()) as { app: Record<string, any> };
    assert.equal(settings.webhook_url, "http://127.0.0.1:9/legacy");
    assert.deepEqual(settings.webhook_events, ["message.new", "message.updated"]);
    assert.equal(settings.before_message_send_hook_url, "http://127.0.0.1:9/before");
    assert.equal(settings.before_message_send_hook_attempt_timeout_ms, 2500);
    assert.equal(settings.custom_action_handler_url, "http://127.0.0.1:9/commands/{type}");
    const hooks = settings.event_hooks as Record<string, any>[];
    assert.deepEqual(
      hooks.map((hook) => [hook.webhook_url, hook.enabled, hook.event_types]),
      [
        ["http://127.0.0.1:9/all", true, []],
        ["http://127.0.0.1:9/off", false, ["channel.created"]],
      ],
    );
    for (const hook of hooks) {
      assert.match(hook.id, /^[0-9a-f-]{36}$/);
      assert.ok(!Number.isNaN(Date.parse(hook.created_at)));
    }
    // Every Stream hook is an endpoint of the app, in the native API too.
    const listed = await call(h.url, "GET", "/v1/endpoints", { token: app.token });
    const urls = (listed.body.endpoints as { url: string; profile: string }[])
      .map((e) => `${e.profile} ${e.url}`)
      .sort();
    assert.deepEqual(urls, [
      "stream http://127.0.0.1:9/all",
      "stream http://127.0.0.1:9/legacy",
      "stream http://127.0.0.1:9/off",
      "stream-before-send http://127.0.0.1:9/before",
      "stream-commands http://127.0.0.1:9/commands/{type}",
    ]);
    // The alias the newer SDKs use answers the same.
    const aliased = await fetch(`${h.url}/api/v2/app?api_key=${key.api_key}`, {
      headers: { authorization: (client as any).tokenManager.getToken(), "stream-auth-type": "jwt" },
    });
    assert.equal(aliased.status, 200);
    assert.deepEqual(((await aliased.json()) as any).app.event_hooks, hooks);
  });

  it("upserts event_hooks by id, creates hooks without one, and deletes the ones left out", async () => {
    const before = ((await client.getAppSettings()) as any).app.event_hooks as Record<string, any>[];
    const [kept, dropped] = before as [Record<string, any>, Record<string, any>];
    await client.updateAppSettings({
      event_hooks: [
        { ...kept, webhook_url: "http://127.0.0.1:9/changed", event_types: ["message.*"] },
        { hook_type: "webhook", webhook_url: "http://127.0.0.1:9/new", event_types: ["user.banned"] },
        { id: "my-own-id", webhook_url: "http://127.0.0.1:9/named" },
      ],
    } as never);
    const after = ((await client.getAppSettings()) as any).app.event_hooks as Record<string, any>[];
    assert.equal(after.length, 3);
    const byUrl = new Map<string, any>(after.map((hook) => [hook.webhook_url, hook]));
    assert.equal(byUrl.get("http://127.0.0.1:9/changed").id, kept.id);
    assert.equal(byUrl.get("http://127.0.0.1:9/changed").created_at, kept.created_at);
    assert.deepEqual(byUrl.get("http://127.0.0.1:9/changed").event_types, ["message.*"]);
    assert.equal(byUrl.get("http://127.0.0.1:9/named").id, "my-own-id");
    assert.ok(!after.some((hook) => hook.id === dropped.id), "the omitted hook is deleted");
    const newId = byUrl.get("http://127.0.0.1:9/new").id;
    assert.notEqual(newId, kept.id);
    assert.notEqual(newId, dropped.id);
    // The legacy hook and the synchronous ones were not in the request: they keep their values.
    const settings = ((await client.getAppSettings()) as any).app;
    assert.equal(settings.webhook_url, "http://127.0.0.1:9/legacy");
    assert.equal(settings.before_message_send_hook_url, "http://127.0.0.1:9/before");
    // An empty list deletes every event hook.
    await client.updateAppSettings({ event_hooks: [] } as never);
    assert.deepEqual(((await client.getAppSettings()) as any).app.event_hooks, []);
  });

  it("leaves a stream-format listen session's endpoint out of event_hooks: PATCH /app neither changes nor deletes it", async () => {
    const session = await call(h.url, "POST", "/v1/listen", { token: app.token, body: { profile: "stream" } });
    assert.equal(session.status, 201, JSON.stringify(session.body));
    const endpointId = session.body.endpoint.id as string;
    await client.updateAppSettings({
      event_hooks: [{ hook_type: "webhook", enabled: true, event_types: [], webhook_url: "http://127.0.0.1:9/mine" }],
    } as never);
    const hooks = ((await client.getAppSettings()) as any).app.event_hooks as Record<string, any>[];
    assert.deepEqual(
      hooks.map((hook) => hook.webhook_url),
      ["http://127.0.0.1:9/mine"],
    );
    await client.updateAppSettings({ event_hooks: [] } as never);
    const kept = await call(h.url, "GET", `/v1/endpoints/${endpointId}`, { token: app.token });
    assert.equal(kept.status, 200, "not deleted by a list that leaves it out");
    assert.equal(kept.body.url, `listen://${session.body.id}`);
    assert.equal((await call(h.url, "DELETE", `/v1/listen/${session.body.id}`, { token: app.token })).status, 204);
  });

  it("lists the hook events for getHookEvents", async () => {
    const { events } = (await client.getHookEvents()) as { events: { name: string; products: string[] }[] };
    const names = events.map((event) => event.name);
    for (const name of ["message.new", "reaction.new", "channel.truncated", "user.banned", "member.added"]) {
      assert.ok(names.includes(name), name);
    }
    assert.ok(events.every((event) => event.products.includes("chat")));
  });

  it("refuses bad settings with Stream's code 4 and changes nothing", async () => {
    const before = await client.getAppSettings();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ before_message_send_hook_attempt_timeout_ms: 5001 }, /0 to 5000/],
      [{ before_message_send_hook_attempt_timeout_ms: -1 }, /0 to 5000/],
      [{ event_hooks: [{ hook_type: "sqs", sqs_queue_url: "https://sqs" }] }, /cloud service.*"webhook"/],
      [{ event_hooks: [{ hook_type: "pending_message", webhook_url: "http://127.0.0.1:9/p" }] }, /"webhook"/],
      [{ event_hooks: [{ webhook_url: "http://127.0.0.1:9/x", event_types: ["message.nwe"] }] }, /message\.new/],
      [{ webhook_url: "ftp://example.com/hook" }, /http or https/],
      [{ webhook_url: "not a url" }, /whitespace or control characters/],
      [{ webhook_url: "http://169.254.169.254/latest/meta-data" }, /internal networks/],
      [{ event_hooks: [{ webhook_url: "http://[::ffff:10.0.0.1]/hook" }] }, /internal networks/],
      [{ before_message_send_hook_url: "http://user:pw@example.com/hook" }, /user/],
      [{ custom_action_handler_url: `http://example.com/${"x".repeat(2100)}/{type}` }, /2 KiB|2048/],
      [{ sqs_url: "https://sqs.example.com" }, /does not support the app setting "sqs_url"/],
      [{ event_hooks: "all" }, /must be an array/],
      [
        {
          event_hooks: [
            { id: "a", webhook_url: "http://127.0.0.1:9/1" },
            { id: "a", webhook_url: "http://127.0.0.1:9/2" },
          ],
        },
        /twice/,
      ],
      [{ event_hooks: [{ webhook_url: "http://127.0.0.1:9/x", event_types: ["x".repeat(300)] }] }, /256/],
    ];
    for (const [settings, message] of cases) {
      const error = await streamError(client.updateAppSettings(settings as never));
      assert.equal(error.code, 4, `${JSON.stringify(settings)}: ${error.message}`);
      assert.equal(error.status, 400);
      assert.match(error.message, message);
    }
    assert.deepEqual(await client.getAppSettings().then((r: any) => ({ ...r, duration: 0 })), {
      ...before,
      duration: 0,
    });
  });

  it("answers Stream's error body for bad JSON and unknown routes", async () => {
    const token = (client as any).tokenManager.getToken() as string;
    const response = await fetch(`${h.url}/app?api_key=${key.api_key}`, {
      method: "PATCH",
      headers: { authorization: token, "content-type": "application/json" },
      body: '{"webhook_url": ',
    });
    const body = (await response.json()) as any;
    assert.equal(response.status, 400);
    assert.deepEqual(Object.keys(body).sort(), ["StatusCode", "code", "details", "duration", "message", "more_info"]);
    assert.equal(body.code, 4);
    assert.equal(body.StatusCode, 400);
    assert.match(body.duration, /^\d+\.\d{2}ms$/);
  });

  it("refuses a wrong key (2), a wrong secret (43), an expired token (40) and a user token (17)", async () => {
    const wrongKey = await streamError(clientFor("nosuchkey123", key.api_secret).getAppSettings());
    assert.deepEqual([wrongKey.code, wrongKey.status], [2, 401]);
    const wrongSecret = await streamError(clientFor(key.api_key, "not-the-secret").getAppSettings());
    assert.deepEqual([wrongSecret.code, wrongSecret.status], [43, 401]);
    const secret = new TextEncoder().encode(key.api_secret);
    const expired = await new SignJWT({ server: true })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(secret);
    const userToken = await new SignJWT({ user_id: "alice" }).setProtectedHeader({ alg: "HS256" }).sign(secret);
    for (const [token, code, status] of [
      [expired, 40, 401],
      [`Bearer ${userToken}`, 17, 403],
      ["not.a.jwt", 43, 401],
    ] as const) {
      const response = await fetch(`${h.url}/app?api_key=${key.api_key}`, { headers: { authorization: token } });
      const body = (await response.json()) as any;
      assert.deepEqual([body.code, response.status, body.StatusCode], [code, status, status], JSON.stringify(body));
    }
    const noKey = await fetch(`${h.url}/app`, { headers: { authorization: "x" } });
    assert.deepEqual([((await noKey.json()) as any).code, noKey.status], [2, 401]);
  });

  it("keeps an older key working after a new one is made, until it is revoked", async () => {
    const second = await newKey(app.appId);
    await clientFor(second.api_key, second.api_secret).getAppSettings();
    await client.getAppSettings();
    const revoked = await call(h.url, "DELETE", `/v1/apps/${app.appId}/keys/${key.api_key}`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
    assert.equal(revoked.status, 204);
    const refused = await streamError(client.getAppSettings());
    assert.deepEqual([refused.code, refused.status], [2, 401]);
    key = second;
    client = clientFor(second.api_key, second.api_secret);
    const listed = await call(h.url, "GET", `/v1/apps/${app.appId}/keys`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
    assert.deepEqual(
      listed.body.keys.map((k: { api_key: string }) => k.api_key),
      [second.api_key],
    );
    assert.ok(!JSON.stringify(listed.body).includes(second.api_secret), "a secret is never shown again");
    const adminAuth = { authorization: `Bearer ${h.adminToken}` };
    const chosen = await call(h.url, "POST", `/v1/apps/${app.appId}/keys`, {
      headers: adminAuth,
      body: { api_key: "chosen", api_secret: "weak" },
    });
    assert.equal(chosen.status, 400, "keys are Herald's to make");
  });

  it("gives another app's key nothing of this app", async () => {
    const other = await h.createApp("other");
    const otherKey = await newKey(other.appId);
    const otherClient = clientFor(otherKey.api_key, otherKey.api_secret);
    await client.updateAppSettings({ webhook_url: "http://127.0.0.1:9/mine" } as never);
    const seen = ((await otherClient.getAppSettings()) as any).app;
    assert.equal(seen.webhook_url, "");
    assert.deepEqual(seen.event_hooks, []);
    // Its own key with this app's secret is a bad signature, not access.
    const mixed = await streamError(clientFor(otherKey.api_key, key.api_secret).getAppSettings());
    assert.equal(mixed.code, 43);
    assert.equal(((await client.getAppSettings()) as any).app.webhook_url, "http://127.0.0.1:9/mine");
  });

  it("six updates at once end with one of them whole: hooks left out are removed, none doubled", async () => {
    const hooksOf = (request: number) =>
      Array.from({ length: 20 }, (_, n) => ({
        hook_type: "webhook" as const,
        enabled: true,
        event_types: ["message.new"],
        webhook_url: `http://127.0.0.1:9/r${request}/h${n}`,
      }));
    await Promise.all(Array.from({ length: 6 }, (_, r) => client.updateAppSettings({ event_hooks: hooksOf(r) })));
    const hooks = ((await client.getAppSettings()) as any).app.event_hooks as { webhook_url: string }[];
    assert.equal(hooks.length, 20, "one request's hooks, not a mix of several");
    const requests = new Set(hooks.map((hook) => /\/r(\d)\//.exec(hook.webhook_url)?.[1]));
    assert.equal(requests.size, 1, [...requests].join(","));
    const endpoints = await call(h.url, "GET", "/v1/endpoints?limit=100", { token: app.token });
    const streamHooks = (endpoints.body.endpoints as { url: string }[]).filter((e) => e.url.includes("/h"));
    assert.equal(streamHooks.length, 20, "as many endpoints as hooks");
  });
});
