import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { call, configureChatWebhook, startHerald, type TestHerald } from "../../../test/helpers/herald.js";
import { Receiver as RecordingReceiver } from "../../../test/helpers/receiver.js";
import { seedSnippetAccepts } from "../../../test/helpers/seed-snippet.js";
import { createReceiver, fastifyReceiver, type ReceivedEvent, type Receiver, verifyWebhook } from "../src/index.js";
import { eventually, type TestInbox, testInbox } from "./helpers.js";

const TEXTS = [
  "Plain",
  "Emoji 🎉👩‍👩‍👧",
  'Slashes a/b https://x.example/p "q" \\',
  "CJK 你好 RTL שלום",
  "U+2028 \u2028",
];

const messageEvents = () =>
  TEXTS.map((message, index) => ({
    category: "group_channel:message_send",
    sender: { user_id: "Jeff", nickname: "Jeff/🎸", profile_url: "", metadata: {} },
    payload: { message_id: index, message, created_at: 1732350000123 },
    channel: { channel_url: "sendbird_group_channel_1", is_super: false },
  }));

describe("deliveries from a running Herald (Sendbird Chat and Calls profiles)", () => {
  let h: TestHerald;
  let app: { appId: string; token: string };
  let inbox: TestInbox;
  let kit: Receiver;
  let server: FastifyInstance;
  const handled: ReceivedEvent[] = [];

  before(async () => {
    h = await startHerald();
    app = await h.createApp();
    inbox = testInbox();
    const record = (event: ReceivedEvent) => void handled.push(event);
    kit = createReceiver({
      secrets: { sendbird: ["an-old-token", app.token] },
      inbox: inbox.option,
      handlers: { "group_channel:*": record, "direct_call:*": record },
    });
    server = Fastify();
    await server.register(fastifyReceiver, { receiver: kit, path: "/sendbird" });
    const kitUrl = `${await server.listen({ port: 0, host: "127.0.0.1" })}/sendbird`;
    await configureChatWebhook(h.url, app.token, { url: kitUrl });
    await call(h.url, "PUT", `/v1/applications/${app.appId}/settings/webhook`, {
      token: app.token,
      body: { enabled: true, url: kitUrl, enabled_events: ["*"] },
    });
  });
  after(async () => {
    await server.close();
    await kit.close();
    await inbox.drop();
    await h.close();
  });

  it("are accepted and handled once each, keyed by Herald's webhook id", async () => {
    const events = messageEvents();
    assert.equal((await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: { events } })).status, 202);
    await h.herald.publish(app.appId, {
      category: "direct_call:dial",
      direct_call: { call_id: "c/1", caller_id: "알리스" },
    });

    await eventually(() => (handled.length >= events.length + 1 ? true : undefined));
    const messages = handled.filter((e) => e.type === "group_channel:message_send");
    assert.deepEqual(messages.map((e) => e.payload.payload.message).sort(), [...TEXTS].sort());
    for (const event of handled) assert.equal(event.profile, "sendbird");
    assert.equal(new Set(handled.map((e) => e.key)).size, handled.length);
    const { body: log } = await call(h.url, "GET", "/v1/deliveries?limit=50", { token: app.token });
    const deliveryIds = new Set((log.deliveries as { id: string }[]).map((d) => d.id));
    for (const event of handled) assert.ok(deliveryIds.has(event.key), `${event.key} is a Herald delivery id`);
    const dial = handled.find((e) => e.type === "direct_call:dial");
    assert.equal(dial?.payload.application_id, app.appId);
  });

  it("the seed's snippet and the kit agree on Herald's exact requests, tampered or not", async () => {
    const other = await h.createApp("recorded");
    const recorder = await RecordingReceiver.start();
    try {
      await configureChatWebhook(h.url, other.token, { url: recorder.url });
      await call(h.url, "POST", "/v1/events/batch", { token: other.token, body: { events: messageEvents() } });
      await recorder.waitFor(TEXTS.length);
      for (const { headers, raw } of recorder.requests) {
        const signature = String(headers["x-sendbird-signature"]);
        assert.ok(verifyWebhook({ headers, body: raw }, { secrets: other.token }).ok);
        assert.ok(await seedSnippetAccepts(other.token, raw, signature));
        const tampered = Buffer.from(raw.toString().replace('"message_id":', '"message_id":1'));
        const refused = verifyWebhook({ headers, body: tampered }, { secrets: other.token });
        assert.ok(!refused.ok && refused.reason === "bad-signature");
        assert.equal(await seedSnippetAccepts(other.token, tampered, signature), false);
        const reserialised = JSON.stringify(JSON.parse(raw.toString()));
        if (reserialised !== raw.toString()) {
          const diagnosed = verifyWebhook({ headers, body: reserialised }, { secrets: other.token });
          assert.ok(!diagnosed.ok && diagnosed.reason === "body-not-raw");
        }
      }
    } finally {
      await recorder.close();
    }
  });
});
