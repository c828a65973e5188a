import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { encodeSendbirdJson } from "@herald/signing";
import { Webhook } from "standardwebhooks";
import { StreamChat } from "stream-chat";
import { seedSnippetAccepts } from "../../../test/helpers/seed-snippet.js";
import { verifyWebhook } from "../src/index.js";

const payload = {
  category: "group_channel:message_send",
  payload: { message: "héllo 你好 😀 שלום <b>&</b> https://x.example/a", message_id: 42 },
};

/** Stream's documented scheme, computed here independently: lowercase hex HMAC-SHA256 of the raw body. */
const streamSignature = (body: string | Buffer, secret: string) =>
  createHmac("sha256", secret).update(body).digest("hex");

describe("Sendbird verification", () => {
  const token = "master-token";
  const body = Buffer.from(encodeSendbirdJson(payload));
  const signature = createHmac("sha256", token).update(body).digest("hex");

  it("accepts the signed bytes under either header, and agrees with the seed's snippet on valid and tampered bodies", async () => {
    for (const header of ["x-sendbird-signature", "x-signature"]) {
      const result = verifyWebhook({ headers: { [header]: signature }, body }, { secrets: token });
      assert.ok(result.ok, header);
      assert.equal(result.webhook.profile, "sendbird");
      assert.equal(result.webhook.type, "group_channel:message_send");
      assert.equal(result.webhook.idSource, "body-digest");
      assert.deepEqual(result.webhook.payload, payload);
    }
    assert.equal(await seedSnippetAccepts(token, body, signature), true);
    const tampered = Buffer.from(body.toString().replace("42", "43"));
    const refused = verifyWebhook(
      { headers: { "x-sendbird-signature": signature }, body: tampered },
      { secrets: token },
    );
    assert.deepEqual(refused.ok ? "accepted" : refused.reason, "bad-signature");
    assert.equal(await seedSnippetAccepts(token, tampered, signature), false);
  });

  it("tells a re-serialised body apart from a forged one", () => {
    const reserialised = JSON.stringify(JSON.parse(body.toString()));
    assert.notEqual(reserialised, body.toString(), "Sendbird escapes what JSON.stringify does not");
    const result = verifyWebhook(
      { headers: { "x-sendbird-signature": signature }, body: reserialised },
      { secrets: token },
    );
    assert.ok(!result.ok && result.reason === "body-not-raw", JSON.stringify(result));
    const parsed = verifyWebhook({ headers: { "x-sendbird-signature": signature }, body: payload }, { secrets: token });
    assert.ok(!parsed.ok && parsed.reason === "body-not-raw");
  });

  it("rotates: any configured token verifies; a wrong one is a bad signature", () => {
    const request = { headers: { "X-Sendbird-Signature": signature }, body };
    assert.ok(verifyWebhook(request, { secrets: ["old", token] }).ok);
    const wrong = verifyWebhook(request, { secrets: ["old"] });
    assert.ok(!wrong.ok && wrong.reason === "bad-signature" && wrong.profile === "sendbird");
  });

  it("uses Herald's x-webhook-id as the deduplication key when present", () => {
    const result = verifyWebhook(
      { headers: { "x-sendbird-signature": signature, "x-webhook-id": "wh-1", "x-webhook-attempt": "2" }, body },
      { secrets: token },
    );
    assert.ok(result.ok);
    assert.deepEqual([result.webhook.id, result.webhook.idSource, result.webhook.attempt], ["wh-1", "header", 2]);
  });
});

describe("Stream verification agrees with stream-chat's own", () => {
  const secret = "secret456";
  const client = new StreamChat("key123", secret);
  const body = Buffer.from(JSON.stringify({ type: "message.new", cid: "messaging:general", message: payload.payload }));
  const headers = (signature: string) => ({
    "x-signature": signature,
    "x-api-key": "key123",
    "x-webhook-id": "3f1c8e0a-0000-4000-8000-000000000001",
    "x-webhook-attempt": "1",
  });

  it("matches the published test vector", () => {
    const vector = '{"type":"message.new","cid":"messaging:general"}';
    const expected = "df05cdced9194464a9e0e054718653201e34372b3d4358c9d93c509f25649d15";
    assert.ok(verifyWebhook({ headers: headers(expected), body: vector }, { secrets: secret }).ok);
    assert.equal(client.verifyWebhook(vector, expected), true);
  });

  it("accepts plain and gzip bodies signed over the uncompressed JSON, as verifyAndParseWebhook does", () => {
    const signature = streamSignature(body, secret);
    for (const sent of [body, gzipSync(body)]) {
      const ours = verifyWebhook(
        { headers: { ...headers(signature), "content-encoding": "gzip" }, body: sent },
        { secrets: secret },
      );
      assert.ok(ours.ok);
      assert.equal(ours.webhook.profile, "stream");
      assert.equal(ours.webhook.id, "3f1c8e0a-0000-4000-8000-000000000001");
      assert.equal(ours.webhook.type, "message.new");
      assert.deepEqual(client.verifyAndParseWebhook(sent, signature), ours.webhook.payload);
    }
    assert.equal(client.verifyWebhook(body, signature), true);
  });

  it("refuses what stream-chat refuses: tampered, uppercased, wrong secret, corrupt gzip", () => {
    const signature = streamSignature(body, secret);
    const cases: { body: Buffer; signature: string; secret: string; reason: string }[] = [
      { body: Buffer.from(body.toString().replace("42", "41")), signature, secret, reason: "bad-signature" },
      { body, signature: signature.toUpperCase(), secret, reason: "bad-signature" },
      { body, signature: streamSignature(body, "other"), secret, reason: "bad-signature" },
      { body: Buffer.concat([gzipSync(body).subarray(0, 12)]), signature, secret, reason: "bad-encoding" },
    ];
    for (const c of cases) {
      const ours = verifyWebhook({ headers: headers(c.signature), body: c.body }, { secrets: c.secret });
      assert.ok(!ours.ok && ours.reason === c.reason, `${c.reason}: ${JSON.stringify(ours)}`);
      assert.throws(() => client.verifyAndParseWebhook(c.body, c.signature));
    }
  });
});

describe("Standard Webhooks verification agrees with the standardwebhooks library", () => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const rotated = "whsec_dGhpcyBpcyB0aGUgbmV3IHNlY3JldCBrZXkhIQ==";
  const body = JSON.stringify({ type: "user.created", data: { name: "Zoë 😀" } });
  const signed = (key: string, id = "msg_1", at = new Date()) => ({
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(key).sign(id, at, body),
  });

  it("accepts what the library signs, with several signatures and secrets for rotation", () => {
    const headers = signed(secret);
    const ours = verifyWebhook({ headers, body }, { secrets: secret });
    assert.ok(ours.ok);
    assert.deepEqual(
      [ours.webhook.profile, ours.webhook.id, ours.webhook.type],
      ["standard-webhooks", "msg_1", "user.created"],
    );
    const both = {
      ...headers,
      "webhook-signature": `${signed(rotated)["webhook-signature"]} ${headers["webhook-signature"]}`,
    };
    assert.ok(verifyWebhook({ headers: both, body }, { secrets: secret }).ok);
    assert.ok(verifyWebhook({ headers: both, body }, { secrets: { "standard-webhooks": [rotated] } }).ok);
    assert.deepEqual(new Webhook(rotated).verify(body, both), JSON.parse(body));
  });

  it("refuses stale and future timestamps, as the library does, and honours a custom tolerance", () => {
    for (const offsetSeconds of [-301, 301]) {
      const headers = signed(secret, "msg_2", new Date(Date.now() + offsetSeconds * 1000));
      const ours = verifyWebhook({ headers, body }, { secrets: secret });
      assert.ok(!ours.ok && ours.reason === "stale-timestamp", String(offsetSeconds));
      assert.throws(() => new Webhook(secret).verify(body, headers));
      assert.ok(verifyWebhook({ headers, body }, { secrets: secret, toleranceSeconds: 600 }).ok);
    }
  });

  it("refuses a tampered body, a wrong secret and missing headers", () => {
    const headers = signed(secret);
    const tampered = body.replace("Zoë", "Zoe");
    const cases = [
      { headers, body: tampered, secrets: secret, reason: "bad-signature" },
      { headers, body, secrets: rotated, reason: "bad-signature" },
      { headers: { ...headers, "webhook-id": undefined }, body, secrets: secret, reason: "missing-signature" },
    ];
    for (const c of cases) {
      const ours = verifyWebhook({ headers: c.headers, body: c.body }, { secrets: c.secrets });
      assert.ok(!ours.ok && ours.reason === c.reason, JSON.stringify(ours));
    }
    assert.throws(() => new Webhook(secret).verify(tampered, headers));
  });
});

describe("profile detection and configuration errors", () => {
  it("says what is missing, and which secret is not configured", () => {
    const none = verifyWebhook({ headers: { "content-type": "application/json" }, body: "{}" }, { secrets: "s" });
    assert.ok(!none.ok && none.reason === "missing-signature");
    const forced = verifyWebhook(
      { headers: { "webhook-signature": "v1,x" }, body: "{}" },
      { secrets: "s", profile: "stream" },
    );
    assert.ok(!forced.ok && forced.reason === "missing-signature" && forced.profile === "stream");
    const noSecret = verifyWebhook(
      { headers: { "x-signature": "ab", "x-api-key": "k" }, body: "{}" },
      { secrets: { sendbird: "token" } },
    );
    assert.ok(!noSecret.ok && noSecret.reason === "no-secret" && noSecret.profile === "stream");
  });

  it("refuses a correctly signed body that is not JSON", () => {
    const body = "not json";
    const result = verifyWebhook({ headers: { "x-signature": streamSignature(body, "t") }, body }, { secrets: "t" });
    assert.ok(!result.ok && result.reason === "invalid-json" && result.profile === "sendbird");
  });
});
