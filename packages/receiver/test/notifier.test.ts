import assert from "node:assert/strict";
import { createECDH, createPublicKey, randomBytes, verify } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SMTPServer } from "smtp-server";
import webpush from "web-push";
import { configureChatWebhook, startHerald, type TestHerald } from "../../../test/helpers/herald.js";
import { createOfflineNotifier, type NotificationChannel } from "../src/notifier/index.js";
import { eventually, ListeningProcess, serve, type TestInbox, testInbox } from "./helpers.js";

const ece = createRequire(import.meta.url)("http_ece") as {
  decrypt(body: Buffer, params: { version: string; privateKey: unknown; authSecret: Buffer }): Buffer;
};
const BIN = join(import.meta.dirname, "../bin/herald-receiver.js");

interface Recorded {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A local HTTP server standing in for a provider: records every request and answers `status`. */
async function providerStub(status: number, answer = "{}") {
  const requests: Recorded[] = [];
  const server = await serve((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(status, { "content-type": "application/json" }).end(answer);
    });
  });
  return { ...server, requests };
}

/** A real SMTP server on loopback that insists on a login and keeps each mail with its envelope. */
async function smtpServer() {
  const mails: { to: string[]; raw: string; user: string }[] = [];
  const server = new SMTPServer({
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      if (auth.username === "mailer" && auth.password === "mail-pass") callback(null, { user: auth.username });
      else callback(new Error("invalid credentials"));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString(),
          user: String(session.user),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { mails, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A browser's side of a push subscription: keys to decrypt with. */
function browserSubscription(endpoint: string) {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const authSecret = randomBytes(16);
  return {
    subscription: {
      endpoint,
      keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: authSecret.toString("base64url") },
    },
    decrypt: (body: Buffer) =>
      JSON.parse(ece.decrypt(body, { version: "aes128gcm", privateKey: ecdh, authSecret }).toString()),
  };
}

/** Checks a VAPID `Authorization: vapid t=<JWT>, k=<key>` header: signed by that key, for that audience. */
function verifyVapid(header: string, publicKey: string, audience: string) {
  const match = /^vapid t=([^,]+), k=(.+)$/.exec(header);
  assert.ok(match, header);
  const [token, key] = [match[1]!, match[2]!];
  assert.equal(key, publicKey);
  const [head, claims, signature] = token.split(".");
  const raw = Buffer.from(publicKey, "base64url");
  const jwk = {
    kty: "EC",
    crv: "P-256",
    x: raw.subarray(1, 33).toString("base64url"),
    y: raw.subarray(33).toString("base64url"),
  };
  const valid = verify(
    "sha256",
    Buffer.from(`${head}.${claims}`),
    { key: createPublicKey({ key: jwk, format: "jwk" }), dsaEncoding: "ieee-p1363" },
    Buffer.from(signature!, "base64url"),
  );
  assert.ok(valid, "the JWT is signed with the VAPID private key");
  const payload = JSON.parse(Buffer.from(claims!, "base64url").toString());
  assert.equal(payload.aud, audience);
  assert.equal(payload.sub, "mailto:ops@example.com");
  assert.ok(payload.exp > Date.now() / 1000);
}

const member = (userId: string, fields: Record<string, unknown>) => ({
  user_id: userId,
  nickname: userId[0]!.toUpperCase() + userId.slice(1),
  is_active: true,
  is_online: false,
  state: "joined",
  push_trigger_option: "default",
  do_not_disturb: false,
  metadata: {},
  ...fields,
});

describe("offline notifier, end to end: Herald → herald-receiver notifier → SMTP, SMS and Web Push", () => {
  let h: TestHerald;
  let inbox: TestInbox;
  let smtp: Awaited<ReturnType<typeof smtpServer>>;
  let sms: Awaited<ReturnType<typeof providerStub>>;
  let push: Awaited<ReturnType<typeof providerStub>>;
  let service: ListeningProcess | undefined;
  const vapid = webpush.generateVAPIDKeys();

  before(async () => {
    [h, smtp, sms, push] = await Promise.all([
      startHerald(),
      smtpServer(),
      providerStub(201, '{"sid":"SM1"}'),
      providerStub(201),
    ]);
    inbox = testInbox();
  });
  after(async () => {
    await service?.kill9();
    await Promise.all([h.close(), smtp.close(), sms.close(), push.close(), inbox.drop()]);
  });

  it("notifies only the offline, unmuted members other than the sender, on every channel, within the rate limit", async () => {
    const app = await h.createApp();
    const alicePush = browserSubscription(`${push.url}/push/alice`);
    const contacts = join(mkdtempSync(join(tmpdir(), "contacts-")), "contacts.json");
    writeFileSync(contacts, JSON.stringify({ alice: { pushSubscription: alicePush.subscription } }));
    service = new ListeningProcess(
      [BIN, "notifier", "--port", "0", "--secret", app.token, "--inbox", inbox.spec, "--contacts", contacts],
      {
        HERALD_RECEIVER_SMTP_URL: `smtp://mailer:mail-pass@127.0.0.1:${smtp.port}`,
        HERALD_RECEIVER_MAIL_FROM: "Chat <chat@example.com>",
        HERALD_RECEIVER_SMS_BASE_URL: sms.url,
        HERALD_RECEIVER_SMS_ACCOUNT_SID: "AC123",
        HERALD_RECEIVER_SMS_AUTH_TOKEN: "sms-secret",
        HERALD_RECEIVER_SMS_FROM: "+15559999",
        HERALD_RECEIVER_VAPID_SUBJECT: "mailto:ops@example.com",
        HERALD_RECEIVER_VAPID_PUBLIC_KEY: vapid.publicKey,
        HERALD_RECEIVER_VAPID_PRIVATE_KEY: vapid.privateKey,
        HERALD_RECEIVER_RATE_LIMIT: "2/60",
      },
    );
    const url = await service.start();
    const output = () => service!.output;
    const processed = () => (output().match(/"outcomes"/g) ?? []).length;
    await configureChatWebhook(h.url, app.token, { url, include_members: true });

    const members = [
      member("jeff", { metadata: { email: "jeff@example.com" } }),
      member("alice", { metadata: { email: "alice@example.com", phone: "+15550001" } }),
      member("bob", { is_online: true, metadata: { email: "bob@example.com" } }),
      member("carol", { push_trigger_option: "off", metadata: { email: "carol@example.com" } }),
      member("erin", { do_not_disturb: true, metadata: { email: "erin@example.com" } }),
      member("ivan", { state: "invited", metadata: { email: "ivan@example.com" } }),
    ];
    const messages = ["Deploy is done", "Second message", "Third message"];
    for (const [index, text] of messages.entries()) {
      await h.herald.publish(app.appId, {
        category: "group_channel:message_send",
        sender: { user_id: "jeff", nickname: "Jeff", profile_url: "", metadata: {} },
        payload: { message_id: index + 1, message: text, created_at: Date.now() },
        channel: { channel_url: "sendbird_group_channel_eng", name: "Engineers", custom_type: "" },
        members,
      });
      // One at a time, in order: the next is published once the notifier has logged this one's outcomes.
      await eventually(() => (processed() >= index + 1 ? true : undefined), 20_000);
    }

    // Email: two (the rate limit is 2 a minute), both to Alice only, sent with the SMTP login.
    assert.equal(smtp.mails.length, 2, output());
    for (const mail of smtp.mails) {
      assert.deepEqual(mail.to, ["alice@example.com"]);
      assert.equal(mail.user, "mailer");
      assert.match(mail.raw, /Subject: New message from Jeff in Engineers/);
      assert.match(mail.raw, /From: Chat <chat@example.com>/);
    }
    assert.match(smtp.mails.map((m) => m.raw).join(), /Jeff wrote in Engineers:\s+Deploy is done/);

    // SMS: Twilio's path, Basic auth with the account SID and token, form-encoded fields.
    assert.equal(sms.requests.length, 2);
    for (const request of sms.requests) {
      assert.equal(request.path, "/2010-04-01/Accounts/AC123/Messages.json");
      assert.equal(request.headers.authorization, `Basic ${Buffer.from("AC123:sms-secret").toString("base64")}`);
      assert.equal(request.headers["content-type"], "application/x-www-form-urlencoded");
      const form = new URLSearchParams(request.body.toString());
      assert.equal(form.get("To"), "+15550001");
      assert.equal(form.get("From"), "+15559999");
      assert.match(form.get("Body") ?? "", /^Jeff in Engineers: (Deploy is done|Second message|Third message)$/);
    }

    // Web Push: VAPID-signed for the push service's origin, aes128gcm, decryptable by Alice's browser keys.
    assert.equal(push.requests.length, 2);
    for (const request of push.requests) {
      assert.equal(request.path, "/push/alice");
      verifyVapid(String(request.headers.authorization), vapid.publicKey, push.url);
      assert.equal(request.headers["content-encoding"], "aes128gcm");
      assert.equal(request.headers.ttl, "86400");
      const shown = alicePush.decrypt(request.body);
      assert.equal(shown.title, "Jeff in Engineers");
      assert.match(shown.body, /^(Deploy is done|Second message|Third message)$/);
    }

    const outcomes = output()
      .split("\n")
      .filter((line) => line.includes('"outcomes"'))
      .flatMap((line) => JSON.parse(line).outcomes as { userId: string; status: string }[]);
    assert.deepEqual(new Set(outcomes.map((o) => o.userId)), new Set(["alice"]));
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ["rate-limited", "sent", "sent"]);
  });
});

describe("offline notifier retries", () => {
  it("resends only the channel that failed, and does not count the retry against the rate limit", async () => {
    const calls: string[] = [];
    let smsUp = false;
    const channel = (name: string, fails: () => boolean): NotificationChannel => ({
      name,
      reaches: () => true,
      async send() {
        calls.push(name);
        if (fails()) throw new Error(`${name} down`);
      },
    });
    const notifier = createOfflineNotifier({
      channels: [channel("email", () => false), channel("sms", () => !smsUp)],
      contacts: () => ({ email: "a@example.com", phone: "+1" }),
      rateLimit: { limit: 1, windowMs: 60_000 },
    });
    const event = {
      key: "evt-1",
      profile: "stream" as const,
      type: "message.new",
      attempt: 1,
      receivedAt: new Date(),
      payload: {
        type: "message.new",
        cid: "messaging:eng",
        message: { text: "hi", user: { id: "jeff" } },
        members: [
          { user_id: "jeff", user: { online: false } },
          { user_id: "alice", user: { online: false } },
          { user_id: "bob", user: { online: true } },
          { user_id: "carol", user: { online: false }, notifications_muted: true },
        ],
      },
    };
    await assert.rejects(notifier.notify(event), AggregateError);
    smsUp = true;
    const outcomes = await notifier.notify({ ...event, attempt: 2 });
    assert.deepEqual(calls, ["email", "sms", "sms"]);
    assert.deepEqual(outcomes, [{ userId: "alice", status: "sent", channels: ["email", "sms"] }]);
    const next = await notifier.notify({ ...event, key: "evt-2" });
    assert.deepEqual(next, [{ userId: "alice", status: "rate-limited", channels: [] }]);
  });
});
