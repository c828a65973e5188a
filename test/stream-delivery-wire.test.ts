import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { StreamChat } from "stream-chat";
import { streamChatCatalog } from "../src/profiles/stream/index.js";
import { call, eventually, startHerald, type TestHerald } from "./helpers/herald.js";
import { type Behaviour, Receiver, refusingUrl } from "./helpers/receiver.js";

const sample = (type: string) => streamChatCatalog.get(type)!.sample as Record<string, any>;
const messageNew = (text: string) => ({
  ...sample("message.new"),
  message: { ...sample("message.new").message, text },
});

describe("Stream push webhooks, checked by stream-chat's own verifyWebhook", () => {
  let h: TestHerald;
  let app: { appId: string; token: string };
  let client: StreamChat;
  const receivers: Receiver[] = [];

  before(async () => {
    h = await startHerald({ endpointConcurrency: 1 });
    app = await h.createApp("stream");
    const created = await call(h.url, "POST", "/v1/keys", { token: app.token });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    client = new StreamChat(created.body.api_key, created.body.api_secret, { baseURL: h.url });
  });
  after(() => Promise.all([h.close(), ...receivers.map((receiver) => receiver.close())]));

  const receiver = async (behaviour?: Behaviour) => {
    const started = await Receiver.start(behaviour);
    receivers.push(started);
    return started;
  };
  /** Points the app's only event hook at a URL (every other hook is deleted, as Stream does). */
  const hookTo = async (url: string, extra: Record<string, unknown> = {}) => {
    await client.updateAppSettings({
      event_hooks: [{ hook_type: "webhook", webhook_url: url, enabled: true }],
      ...extra,
    } as never);
  };
  const publish = async (event: Record<string, unknown>) => {
    const published = await call(h.url, "POST", "/v1/events", { token: app.token, body: event });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    return published.body.id as string;
  };
  const deliveriesOf = async (eventId: string) =>
    (await call(h.url, "GET", `/v1/events/${eventId}`, { token: app.token })).body.deliveries as Record<string, any>[];
  const finished = (eventId: string, timeoutMs = 10_000) =>
    eventually(async () => {
      const [delivery] = await deliveriesOf(eventId);
      return delivery && delivery.status !== "pending" ? delivery : undefined;
    }, timeoutMs);

  it("signs the exact bytes: verifyWebhook and verifyAndParseWebhook accept emoji, CJK and / payloads", async () => {
    const got = await receiver();
    await hookTo(got.url);
    const texts = ["plain", 'Hello 👋 ça va? 你好 </p> / \\ " \u2028', "a/b/c"];
    for (const text of texts) await publish(messageNew(text));
    await got.waitFor(texts.length);
    for (const request of got.requests) {
      const signature = String(request.headers["x-signature"]);
      assert.match(signature, /^[0-9a-f]{64}$/);
      assert.equal(client.verifyWebhook(request.raw, signature), true);
      assert.equal(client.verifyWebhook(Buffer.concat([request.raw, Buffer.from(" ")]), signature), false);
      const parsed = client.verifyAndParseWebhook(request.raw, signature) as Record<string, any>;
      assert.equal(parsed.type, "message.new");
      assert.equal(request.headers["x-api-key"], (client as any).key);
      assert.equal(request.headers["x-webhook-attempt"], "1");
      assert.match(String(request.headers["x-webhook-id"]), /^[0-9a-f-]{36}$/);
      assert.equal(request.headers["content-type"], "application/json");
      assert.equal(request.headers["content-encoding"], undefined);
    }
    assert.deepEqual(
      got.requests.map((r) => JSON.parse(r.raw.toString("utf8")).message.text).sort(),
      [...texts].sort(),
    );
  });

  it("signs with the newest API key at once after a rotation; the old secret no longer verifies new deliveries", async () => {
    const got = await receiver();
    await hookTo(got.url);
    // A delivery just before the rotation: the worker has the old key in hand (and cached).
    await publish(messageNew("before rotation"));
    await got.waitFor(1);
    assert.equal(client.verifyWebhook(got.requests[0]!.raw, String(got.requests[0]!.headers["x-signature"])), true);
    const rotated = await call(h.url, "POST", "/v1/keys", { token: app.token });
    assert.equal(rotated.status, 201);
    const newClient = new StreamChat(rotated.body.api_key, rotated.body.api_secret, { baseURL: h.url });
    await publish(messageNew("after rotation"));
    await got.waitFor(2);
    const request = got.requests[1];
    const signature = String(request!.headers["x-signature"]);
    assert.equal(request!.headers["x-api-key"], rotated.body.api_key);
    assert.equal(newClient.verifyWebhook(request!.raw, signature), true);
    assert.equal(client.verifyWebhook(request!.raw, signature), false);
    client = newClient;
  });

  it("gzips with enable_hook_payload_compression, signing the uncompressed JSON", async () => {
    const got = await receiver();
    await hookTo(got.url, { enable_hook_payload_compression: true });
    assert.equal(((await client.getAppSettings()) as any).app.enable_hook_payload_compression, true);
    await publish(messageNew("squeezed 🗜️ 圧縮"));
    await got.waitFor(1);
    const [request] = got.requests;
    assert.equal(request!.headers["content-encoding"], "gzip");
    assert.deepEqual([...request!.raw.subarray(0, 2)], [0x1f, 0x8b]);
    const signature = String(request!.headers["x-signature"]);
    assert.equal(client.verifyWebhook(request!.raw, signature), false, "the signature is not over the gzip bytes");
    assert.equal(client.verifyWebhook(gunzipSync(request!.raw), signature), true);
    const parsed = client.verifyAndParseWebhook(request!.raw, signature) as Record<string, any>;
    assert.equal(parsed.message.text, "squeezed 🗜️ 圧縮");
    await client.updateAppSettings({ enable_hook_payload_compression: false } as never);
  });

  it("caps members at 50 and adds an RFC 3339 created_at when the event has none", async () => {
    const got = await receiver();
    await hookTo(got.url);
    const members = Array.from({ length: 80 }, (_, i) => ({ user_id: `u${i}` }));
    const { created_at: _, ...event } = { ...sample("channel.updated"), members } as Record<string, any>;
    await publish(event);
    await got.waitFor(1);
    const body = got.json(0) as Record<string, any>;
    assert.equal(body.members.length, 50);
    assert.equal(body.members[49].user_id, "u49");
    assert.match(body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("retries 408, 429 and 5xx up to 3 attempts under one X-Webhook-Id, and ends other 4xx at once", async () => {
    for (const [status, attempts, state] of [
      [500, 3, "failed"],
      [503, 3, "failed"],
      [429, 3, "failed"],
      [408, 3, "failed"],
      [400, 1, "failed"],
      [404, 1, "failed"],
      [301, 1, "failed"],
    ] as const) {
      const got = await receiver(() => status);
      await hookTo(got.url);
      const delivery = await finished(await publish(sample("user.banned")));
      assert.deepEqual([delivery.status, delivery.attempts], [state, attempts], `status ${status}`);
      assert.equal(got.requests.length, attempts, `status ${status}`);
      assert.deepEqual(
        got.requests.map((r) => [r.headers["x-webhook-id"], r.headers["x-webhook-attempt"]]),
        Array.from({ length: attempts }, (_, i) => [delivery.id, String(i + 1)]),
      );
    }
  });

  it("tries a refused connection twice, and succeeds when a retry does", async () => {
    await hookTo(await refusingUrl());
    const refused = await finished(await publish(sample("user.banned")));
    assert.deepEqual([refused.status, refused.attempts], ["failed", 2]);
    assert.ok(refused.attempt_log.every((a: { status_code: null; error: string }) => a.status_code === null));
    const flaky = await receiver((_, index) => (index === 0 ? 502 : 200));
    await hookTo(flaky.url);
    const recovered = await finished(await publish(sample("user.banned")));
    assert.deepEqual([recovered.status, recovered.attempts], ["succeeded", 2]);
  });

  it("stops queued deliveries when a hook is disabled, and resumes them when it is enabled again", async () => {
    const got = await receiver(async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return 200;
    });
    await hookTo(got.url);
    const ids = [];
    for (let i = 0; i < 30; i++) ids.push(await publish(sample("reaction.new")));
    await got.waitFor(2);
    const { app: settings } = (await client.getAppSettings()) as any;
    const [hook] = settings.event_hooks;
    await client.updateAppSettings({ event_hooks: [{ ...hook, enabled: false }] } as never);
    const atSwitch = got.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // At most the attempts already claimed (one round of the endpoint's slots) go out after the switch.
    assert.ok(got.requests.length <= atSwitch + 3, `${got.requests.length} arrived after disabling at ${atSwitch}`);
    assert.ok(got.requests.length < 30);
    await client.updateAppSettings({ event_hooks: [{ ...hook, enabled: true }] } as never);
    await got.waitFor(30, 15_000);
    const delivered = new Set(got.requests.map((r) => r.headers["x-webhook-id"]));
    assert.equal(delivered.size, 30);
  });

  it("ends every attempt within 15 s of the first when the receiver never answers", { timeout: 30_000 }, async () => {
    const hanging = await receiver(() => "hang");
    await hookTo(hanging.url);
    const delivery = await finished(await publish(sample("user.banned")), 25_000);
    assert.equal(delivery.status, "failed");
    assert.equal(delivery.attempts, 3);
    const log = delivery.attempt_log as { started_at: string; duration_ms: number }[];
    const first = Date.parse(log[0]!.started_at);
    const last = log.at(-1)!;
    const end = Date.parse(last.started_at) + last.duration_ms;
    assert.ok(end - first <= 15_200, `attempts spanned ${end - first} ms`);
    assert.ok(log[0]!.duration_ms >= 5_900, "the first attempt had Stream's 6 s");
    assert.ok(last.duration_ms < 5_000, `the last attempt was cut to the window: ${last.duration_ms} ms`);
  });
});
