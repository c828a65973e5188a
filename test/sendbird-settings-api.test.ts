import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Sendbird, { type WebhooksApi } from "sendbird-platform-sdk";
import { call, startHerald, type TestHerald } from "./helpers/herald.js";

/**
 * Every Chat category Sendbird documents, written out from its docs (the Platform API v3 webhook
 * pages, as collected in shared/reference/sendbird.md §1.1), not from Herald's catalog. The legacy
 * `group_channel:old_kick_out:*` ones are left out: the dashboard hides them.
 */
const SENDBIRD_CHAT_CATEGORIES = [
  // Open channel
  "open_channel:create",
  "open_channel:remove",
  "open_channel:enter",
  "open_channel:exit",
  "open_channel:message_send",
  "open_channel:message_update",
  "open_channel:message_delete",
  "open_channel:report",
  // Group channel
  "group_channel:create",
  "group_channel:changed",
  "group_channel:remove",
  "group_channel:invite",
  "group_channel:decline_invite",
  "group_channel:join",
  "group_channel:leave",
  "group_channel:message_send",
  "group_channel:message_read",
  "group_channel:message_update",
  "group_channel:message_delete",
  "group_channel:freeze_unfreeze",
  "group_channel:reaction_add",
  "group_channel:reaction_delete",
  "group_channel:report",
  // User
  "user:block",
  "user:unblock",
  "user:push_preference",
  "user:push_channel_preference",
  "user:device_token_register",
  "user:device_token_unregister",
  "user:report",
  "user:mute",
  "user:ban",
  "user:deactivate",
  // Operators
  "operators:register_by_operator",
  "operators:unregister_by_operator",
  // Report, moderation extension, alert
  "message:report",
  "message:moderation_extension_triggered",
  "alert:user_message_rate_limit_exceeded",
  // Profanity filter, image moderation
  "profanity_filter:replace",
  "profanity_filter:block",
  "profanity_filter:moderate",
  "profanity_filter:detect",
  "image_moderation:block",
  // Announcement
  "announcement:create_channels",
  "announcement:send_messages",
];

/** The start of `all_webhook_categories` in the docs' own GET example, in its order. */
const DOCUMENTED_EXAMPLE_PREFIX = [
  "open_channel:create",
  "open_channel:remove",
  "open_channel:enter",
  "open_channel:exit",
  "open_channel:message_send",
  "open_channel:message_update",
  "open_channel:message_delete",
  "group_channel:create",
  "group_channel:changed",
  "group_channel:remove",
  "group_channel:invite",
  "group_channel:decline_invite",
  "group_channel:join",
  "group_channel:leave",
  "group_channel:message_send",
  "group_channel:message_read",
  "group_channel:message_update",
];

/** Sendbird Calls' webhook events, in the order of the Calls docs (the seed 002_7465b4c0269494c9): 3 direct call, 10 group call. */
const SENDBIRD_CALLS_CATEGORIES = [
  "direct_call:dial",
  "direct_call:accept",
  "direct_call:end",
  "room:create",
  "room:delete",
  "room:participant_enter",
  "room:participant_exit",
  "room:participant_disconnect",
  "room:invitation_send",
  "room:invitation_cancel",
  "room:invitation_accept",
  "room:invitation_decline",
  "room:invitation_no_answer",
];

const sorted = (list: readonly string[]) => [...list].sort();

/** The settings data model the real SDK sends, built the way a Sendbird customer builds it. */
function settings(fields: { enabled?: boolean; url?: string; include_members?: boolean; enabled_events?: string[] }) {
  const data = new Sendbird.ChooseWhichEventsToSubscribeToData(fields.enabled, fields.url);
  if (fields.include_members !== undefined) data.include_members = fields.include_members;
  if (fields.enabled_events !== undefined) data.enabled_events = fields.enabled_events;
  return { chooseWhichEventsToSubscribeToData: data };
}

/** What the SDK rejects with for a non-2xx answer. */
async function sdkError(
  promise: Promise<unknown>,
): Promise<{ status: number; body: { error: boolean; code: number; message: string } }> {
  try {
    await promise;
  } catch (error) {
    return error as { status: number; body: { error: boolean; code: number; message: string } };
  }
  throw new Error("expected the SDK call to fail");
}

describe("Sendbird Chat webhook settings, driven by sendbird-platform-sdk", () => {
  let h: TestHerald;
  let api: WebhooksApi;
  let token: string;

  before(async () => {
    h = await startHerald();
    ({ token } = await h.createApp());
    api = new Sendbird.WebhooksApi(new Sendbird.ApiClient(h.url));
  });
  after(() => h.close());

  it("starts with webhooks off and lists every visible category on request", async () => {
    const { webhook } = await api.retrieveListOfSubscribedEvents(token, { displayAllWebhookCategories: true });
    assert.equal(webhook.enabled, false);
    assert.equal(webhook.url, "");
    assert.deepEqual(webhook.enabled_events, []);
    const all = webhook.all_webhook_categories ?? [];
    assert.deepEqual(sorted(all), sorted(SENDBIRD_CHAT_CATEGORIES), "exactly the categories Sendbird documents");
    assert.equal(new Set(all).size, all.length, "each once");
    // In the relative order of the docs' own example response.
    assert.deepEqual(
      all.filter((category) => DOCUMENTED_EXAMPLE_PREFIX.includes(category)),
      DOCUMENTED_EXAMPLE_PREFIX,
    );
    assert.ok(!webhook.all_webhook_categories?.includes("group_channel:old_kick_out:join"), "legacy ones hidden");
    const plain = await api.retrieveListOfSubscribedEvents(token, {});
    assert.equal(plain.webhook.all_webhook_categories, undefined);
  });

  it("subscribes with chooseWhichEventsToSubscribeTo and reads it back", async () => {
    const chosen = ["group_channel:create", "group_channel:join", "group_channel:invite"];
    const { webhook } = await api.chooseWhichEventsToSubscribeTo(
      token,
      settings({
        enabled: true,
        url: "https://hooks.example.com/sendbird",
        include_members: true,
        enabled_events: chosen,
      }),
    );
    assert.deepEqual(webhook.enabled_events, chosen);
    assert.equal(webhook.include_members, true);
    const read = await api.retrieveListOfSubscribedEvents(token, {});
    assert.deepEqual(
      { ...read.webhook },
      {
        enabled: true,
        url: "https://hooks.example.com/sendbird",
        include_members: true,
        include_unread_count: false,
        enabled_events: chosen,
      },
    );
  });

  it("keeps the fields a partial PUT leaves out", async () => {
    const { status, body } = await call(h.url, "PUT", "/v3/applications/settings/webhook", {
      token,
      body: { include_unread_count: true },
    });
    assert.equal(status, 200);
    assert.equal(body.webhook.url, "https://hooks.example.com/sendbird");
    assert.equal(body.webhook.include_members, true);
    assert.equal(body.webhook.include_unread_count, true);
    assert.deepEqual(body.webhook.enabled_events, [
      "group_channel:create",
      "group_channel:join",
      "group_channel:invite",
    ]);
  });

  it('stores ["*"] as every category and [] as webhooks off', async () => {
    const all = await api.chooseWhichEventsToSubscribeTo(token, settings({ enabled: true, enabled_events: ["*"] }));
    assert.deepEqual(all.webhook.enabled_events, ["*"]);
    const none = await api.chooseWhichEventsToSubscribeTo(token, settings({ enabled_events: [] }));
    assert.deepEqual(none.webhook.enabled_events, []);
    assert.equal(none.webhook.enabled, false);
  });

  it("refuses an unknown category with 400111 naming it and the closest known name", async () => {
    const before = (await h.counts()).endpoints;
    const error = await sdkError(
      api.chooseWhichEventsToSubscribeTo(
        token,
        settings({ enabled_events: ["group_channel:create", "group_chanel:join"] }),
      ),
    );
    assert.equal(error.status, 400);
    assert.equal(error.body.error, true);
    assert.equal(error.body.code, 400111);
    assert.match(error.body.message, /group_chanel:join/);
    assert.match(error.body.message, /group_channel:join/);
    assert.equal((await h.counts()).endpoints, before);
  });

  it("refuses a URL that is not http(s) with 400111 naming it", async () => {
    const error = await sdkError(
      api.chooseWhichEventsToSubscribeTo(token, settings({ url: "ftp://example.com/hook" })),
    );
    assert.equal(error.status, 400);
    assert.equal(error.body.code, 400111);
    assert.match(error.body.message, /ftp:\/\/example\.com\/hook/);
  });

  it("refuses wrong types with the 40010x code of the expected type", async () => {
    const cases: [Record<string, unknown>, number][] = [
      [{ enabled: "yes" }, 400104],
      [{ include_members: 1 }, 400104],
      [{ url: 42 }, 400100],
      [{ enabled_events: "group_channel:create" }, 400102],
      [{ enabled_events: [7] }, 400100],
    ];
    for (const [body, code] of cases) {
      const response = await call(h.url, "PUT", "/v3/applications/settings/webhook", { token, body });
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.deepEqual(Object.keys(response.body), ["error", "code", "message"]);
      assert.equal(response.body.code, code, JSON.stringify(body));
    }
  });

  it("refuses turning webhooks on without a URL with 400105", async () => {
    const fresh = await h.createApp("no-url");
    const error = await sdkError(api.chooseWhichEventsToSubscribeTo(fresh.token, settings({ enabled: true })));
    assert.equal(error.status, 400);
    assert.equal(error.body.code, 400105);
    assert.match(error.body.message, /url/);
  });

  it("rejects a bad or missing token as unauthorized, in Sendbird's format", async () => {
    const bad = await sdkError(api.retrieveListOfSubscribedEvents("0".repeat(40), {}));
    assert.equal(bad.status, 401);
    assert.equal(bad.body.code, 400401);
    const missing = await call(h.url, "GET", "/v3/applications/settings/webhook");
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error, true);
  });

  it("answers malformed JSON and unknown routes under /v3 in Sendbird's format", async () => {
    const malformed = await call(h.url, "PUT", "/v3/applications/settings/webhook", { token, rawBody: "{not json" });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error, true);
    assert.equal(typeof malformed.body.code, "number");
    const unknown = await call(h.url, "GET", "/v3/applications/nothing-here", { token });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error, true);
    assert.equal(unknown.body.code, 400201);
  });

  it("keeps one app's settings invisible to another app's token", async () => {
    const other = await h.createApp("other");
    await api.chooseWhichEventsToSubscribeTo(
      other.token,
      settings({ enabled: true, url: "https://other.example.com/h", enabled_events: ["user:block"] }),
    );
    const mine = await api.retrieveListOfSubscribedEvents(token, {});
    assert.notEqual(mine.webhook.url, "https://other.example.com/h");
    const theirs = await api.retrieveListOfSubscribedEvents(other.token, {});
    assert.deepEqual(theirs.webhook.enabled_events, ["user:block"]);
  });

  it("lets a secondary token call the API; only the master token manages tokens", async () => {
    const created = await call(h.url, "POST", "/v3/applications/api_tokens", { token });
    assert.equal(created.status, 200);
    const secondary = created.body.token as string;
    assert.match(secondary, /^[0-9a-f]{40}$/);
    const read = await api.retrieveListOfSubscribedEvents(secondary, {});
    assert.equal(typeof read.webhook.enabled, "boolean");
    const forbidden = await call(h.url, "POST", "/v3/applications/api_tokens", { token: secondary });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.code, 403100);
    const listed = await call(h.url, "GET", "/v3/applications/api_tokens", { token });
    assert.equal(listed.body.api_tokens.length, 1);
    const revoked = await call(h.url, "DELETE", `/v3/applications/api_tokens/${secondary}`, { token });
    assert.equal(revoked.status, 200);
    assert.equal((await sdkError(api.retrieveListOfSubscribedEvents(secondary, {}))).status, 401);
  });
});

describe("Sendbird Calls webhook settings", () => {
  let h: TestHerald;
  let app: { appId: string; token: string };
  const path = () => `/v1/applications/${app.appId}/settings/webhook`;

  before(async () => {
    h = await startHerald();
    app = await h.createApp();
  });
  after(() => h.close());

  it("are separate from Chat settings and have no member options", async () => {
    const put = await call(h.url, "PUT", path(), {
      token: app.token,
      body: {
        enabled: true,
        url: "https://calls.example.com/hook",
        enabled_events: ["direct_call:dial", "room:create"],
      },
    });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body, {
      webhook: {
        enabled: true,
        url: "https://calls.example.com/hook",
        enabled_events: ["direct_call:dial", "room:create"],
      },
    });
    const chat = await call(h.url, "GET", "/v3/applications/settings/webhook", { token: app.token });
    assert.equal(chat.body.webhook.enabled, false);
    const all = await call(h.url, "GET", `${path()}?display_all_webhook_categories=true`, { token: app.token });
    assert.deepEqual(all.body.webhook.all_webhook_categories, SENDBIRD_CALLS_CATEGORIES);
  });

  it("refuses Chat categories and other apps' tokens, in Calls' error format", async () => {
    const wrong = await call(h.url, "PUT", path(), {
      token: app.token,
      body: { enabled_events: ["group_channel:join"] },
    });
    assert.equal(wrong.status, 400);
    assert.deepEqual(Object.keys(wrong.body), ["error", "code", "type", "message"]);
    assert.equal(wrong.body.type, "INVALID_PARAMS");
    const other = await h.createApp("other");
    const foreign = await call(h.url, "GET", path(), { token: other.token });
    assert.equal(foreign.status, 401);
    assert.equal(foreign.body.type, "NOT_AUTHORIZED");
  });
});
