import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { sendbirdChatCatalog } from "../src/profiles/sendbird/index.js";
import { call, configureChatWebhook, startHerald, startWithReceiver, type TestHerald } from "./helpers/herald.js";
import { type ReceivedRequest, Receiver } from "./helpers/receiver.js";
import { seedSnippetAccepts as acceptsSeedSnippet } from "./helpers/seed-snippet.js";

// Asynchronous on purpose: Herald runs in this process, and a synchronous child would freeze it.
const run = promisify(execFile);

const seedSnippetAccepts = (token: string, request: ReceivedRequest, header = "x-sendbird-signature") =>
  acceptsSeedSnippet(token, request.raw, String(request.headers[header]));

/** Python's json.dumps with Sendbird's escaping, as an independent reference for the body bytes. */
async function pythonEncoding(value: unknown): Promise<string> {
  const script = join(import.meta.dirname, "fixtures/sendbird_encode.py");
  const child = run("python3", [script]);
  child.child.stdin?.end(JSON.stringify(value));
  return (await child).stdout;
}

const hmacHex = (key: string, body: Buffer) => createHmac("sha256", key).update(body).digest("hex");

const TRICKY_TEXTS = [
  "Plain ASCII",
  "Emoji 🎉👩‍👩‍👧 and ⛺",
  'Slashes a/b https://x.example.com/p?q=1 and "quotes" and \\ backslash',
  "CJK 你好，世界 こんにちは 안녕하세요",
  "RTL مرحبا بالعالم שלום",
  "Control \u0001 tab\t newline\n and U+2028 \u2028",
];

describe("Sendbird Chat deliveries on the wire", () => {
  let h: TestHerald;
  let receiver: Receiver;
  let app: { appId: string; token: string };

  before(async () => ({ h, receiver, app } = await startWithReceiver()));
  after(() => Promise.all([h.close(), receiver.close()]));

  it("signs the exact bytes so the seed's snippet and node:crypto both verify, for any text", async () => {
    const events = TRICKY_TEXTS.map((message, index) => ({
      category: "group_channel:message_send",
      sender: { user_id: "Jeff", nickname: "Jeff/🎸", profile_url: "https://cdn.example.com/a/b.png", metadata: {} },
      payload: { message_id: index, message, created_at: 1732350000123 },
      channel: { channel_url: "sendbird_group_channel_1", is_super: false },
    }));
    const published = await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: { events } });
    assert.equal(published.status, 202);
    await receiver.waitFor(events.length);
    for (const request of receiver.requests) {
      const signature = request.headers["x-sendbird-signature"] as string;
      assert.match(signature, /^[0-9a-f]{64}$/);
      assert.equal(signature, hmacHex(app.token, request.raw), "node:crypto over the raw body");
      assert.equal(request.headers["x-signature"], signature, "legacy header carries the same value");
      assert.ok(await seedSnippetAccepts(app.token, request), "the seed's Python snippet accepts x-sendbird-signature");
      assert.ok(await seedSnippetAccepts(app.token, request, "x-signature"), "and x-signature, even for emoji");
      assert.ok(!(await seedSnippetAccepts("another-token", request)), "and refuses another token");
      assert.ok(
        request.raw.every((byte) => byte < 0x80),
        "the body is pure ASCII",
      );
      const parsed = JSON.parse(request.raw.toString("utf8")) as { payload: { message_id: number; message: string } };
      assert.equal(parsed.payload.message, TRICKY_TEXTS[parsed.payload.message_id]);
      assert.equal(request.raw.toString("utf8"), await pythonEncoding(parsed), "bytes match Python's escaping");
      assert.ok(!request.raw.toString("utf8").includes("https://"), "every / is written \\/");
    }
  });

  it("sends Sendbird's headers plus a stable webhook id and attempt number", async () => {
    const request = receiver.requests[0]!;
    assert.equal(request.headers["user-agent"], "SendBird");
    assert.equal(request.headers["content-type"], "application/json");
    assert.equal(request.headers["unicode-escaped"], "true");
    assert.equal(request.headers.connection, "keep-alive");
    assert.match(String(request.headers["x-webhook-id"]), /^[0-9a-f-]{36}$/);
    assert.equal(request.headers["x-webhook-attempt"], "1");
    const ids = new Set(receiver.requests.map((r) => r.headers["x-webhook-id"]));
    assert.equal(ids.size, receiver.requests.length, "each delivery has its own id");
  });

  it("adds app_id when missing and keeps the publisher's when present", async () => {
    const start = receiver.requests.length;
    await call(h.url, "POST", "/v1/events/batch", {
      token: app.token,
      body: { events: [{ category: "user:block" }, { category: "user:unblock", app_id: "given" }] },
    });
    await receiver.waitFor(start + 2);
    const bodies = [receiver.json(start), receiver.json(start + 1)];
    const block = bodies.find((b) => b.category === "user:block")!;
    const unblock = bodies.find((b) => b.category === "user:unblock")!;
    assert.equal(block.app_id, app.appId);
    assert.equal(unblock.app_id, "given");
  });

  it("drops members unless include_members is on, and always for Supergroups", async () => {
    const sample = sendbirdChatCatalog.get("group_channel:message_send")!.sample;
    const superSample = { ...sample, channel: { ...(sample.channel as object), is_super: true } };
    const deliver = async (event: object) => {
      const start = receiver.requests.length;
      await call(h.url, "POST", "/v1/events", { token: app.token, body: event });
      await receiver.waitFor(start + 1);
      return receiver.json(start);
    };
    assert.ok(!("members" in (await deliver(sample))), "off by default");
    await configureChatWebhook(h.url, app.token, { include_members: true });
    const withMembers = await deliver(sample);
    assert.deepEqual(withMembers.members, sample.members);
    assert.ok(!("members" in (await deliver(superSample))), "never for a Supergroup");
    await configureChatWebhook(h.url, app.token, { include_members: false });
  });
});

describe("Sendbird Calls deliveries on the wire", () => {
  it("carry application_id, Sendbird's headers and a valid signature", async () => {
    const h = await startHerald();
    const receiver = await Receiver.start();
    try {
      const app = await h.createApp();
      await call(h.url, "PUT", `/v1/applications/${app.appId}/settings/webhook`, {
        token: app.token,
        body: { enabled: true, url: receiver.url, enabled_events: ["*"] },
      });
      const id = await h.herald.publish(app.appId, {
        category: "direct_call:dial",
        direct_call: { call_id: "c/1", caller_id: "알리스" },
      });
      assert.match(id, /^evt_/);
      await receiver.waitFor(1);
      const body = receiver.json(0);
      assert.equal(body.application_id, app.appId);
      assert.ok(!("app_id" in body));
      const request = receiver.requests[0]!;
      assert.equal(request.headers["x-sendbird-signature"], hmacHex(app.token, request.raw));
      assert.ok(await seedSnippetAccepts(app.token, request));
      // A Chat event is not a Calls category: the Calls endpoint never gets it.
      await h.herald.publish(app.appId, { category: "group_channel:join" });
      assert.equal((await h.counts()).deliveries, 1);
    } finally {
      await h.close();
      await receiver.close();
    }
  });
});
