import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { call, eventually, startHerald, type TestHerald } from "./helpers/herald.js";
import { type ReceivedRequest, Receiver } from "./helpers/receiver.js";

const headersOf = (request: ReceivedRequest): Record<string, string> => ({
  "webhook-id": String(request.headers["webhook-id"]),
  "webhook-timestamp": String(request.headers["webhook-timestamp"]),
  "webhook-signature": String(request.headers["webhook-signature"]),
});

const message = (text: string) => ({
  category: "group_channel:message_send",
  sender: { user_id: "Jeff", nickname: "Jeff 🦊" },
  payload: { message_id: 1, message: text, created_at: 1732350000123 },
  channel: { channel_url: "sendbird_group_channel_1", name: "Trip / 旅行", is_super: false },
});

describe("Standard Webhooks deliveries, checked by the standardwebhooks reference library", () => {
  let h: TestHerald;
  let receiver: Receiver;
  let app: { appId: string; token: string };

  before(async () => {
    h = await startHerald();
    receiver = await Receiver.start();
    app = await h.createApp();
  });
  after(() => Promise.all([h.close(), receiver.close()]));

  const createEndpoint = async (body: Record<string, unknown>) => {
    const created = await call(h.url, "POST", "/v1/endpoints", { token: app.token, body });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body;
  };
  const publish = async (event: Record<string, unknown>) => {
    const published = await call(h.url, "POST", "/v1/events", { token: app.token, body: event });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    return published.body.id as string;
  };

  it("verifies plain and emoji payloads; the body is {type, timestamp, data} as published", async () => {
    const endpoint = await createEndpoint({ url: receiver.url, profile: "standard", filter: ["group_channel:*"] });
    assert.match(endpoint.secret, /^whsec_[A-Za-z0-9+/=]{40,}$/);
    const texts = ["plain text", 'Hello 👋 — ça va? 你好 مرحبا </script> \\ " /'];
    const start = receiver.requests.length;
    const eventIds = [];
    for (const text of texts) eventIds.push(await publish(message(text)));
    await receiver.waitFor(start + texts.length);
    const verifier = new Webhook(endpoint.secret);
    const got = receiver.requests.slice(start).map((request) => {
      const verified = verifier.verify(request.raw, headersOf(request)) as Record<string, any>;
      // The library's parse of the exact bytes: no re-serialisation in between.
      assert.deepEqual(verified, JSON.parse(request.raw.toString("utf8")));
      assert.equal(request.headers["content-type"], "application/json");
      return verified;
    });
    assert.deepEqual(got.map((body) => body.data.payload.message).sort(), [...texts].sort());
    for (const body of got) {
      assert.equal(body.type, "group_channel:message_send");
      assert.match(body.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.deepEqual(Object.keys(body), ["type", "timestamp", "data"]);
    }
    // Plain UTF-8, not Sendbird's \u escapes.
    assert.ok(receiver.requests.slice(start).some((request) => request.raw.toString("utf8").includes("👋")));
    // A replay of a captured request later than the tolerance is refused by the library.
    const captured = receiver.requests[start]!;
    const stale = { ...headersOf(captured) };
    assert.throws(() =>
      verifier.verify(captured.raw, {
        ...stale,
        "webhook-timestamp": String(Number(stale["webhook-timestamp"]) - 6 * 60),
      }),
    );
    // And the id is the delivery id in the log.
    const log = await call(h.url, "GET", `/v1/events/${eventIds[0]}`, { token: app.token });
    assert.equal(log.status, 200);
    assert.ok(
      log.body.deliveries.some((d: { id: string }) => receiver.requests.some((r) => r.headers["webhook-id"] === d.id)),
    );
  });

  it("signs with the old and the new secret during a rotation, then with the new one only", async () => {
    const endpoint = await createEndpoint({ url: receiver.url, profile: "standard", filter: ["user:block"] });
    const rotated = await call(h.url, "POST", `/v1/endpoints/${endpoint.id}/secret/rotate`, {
      token: app.token,
      body: { overlap_seconds: 2 },
    });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.notEqual(rotated.body.secret, endpoint.secret);
    let start = receiver.requests.length;
    await publish({ category: "user:block", blocker: { user_id: "a" }, blockees: [{ user_id: "b" }] });
    await receiver.waitFor(start + 1);
    const during = receiver.requests[start]!;
    assert.equal(String(during.headers["webhook-signature"]).split(" ").length, 2);
    new Webhook(endpoint.secret).verify(during.raw, headersOf(during));
    new Webhook(rotated.body.secret).verify(during.raw, headersOf(during));
    // After the overlap the old secret no longer signs.
    await eventually(async () => {
      const { body } = await call(h.url, "GET", `/v1/endpoints/${endpoint.id}`, { token: app.token });
      return body.signing_keys.length === 1 ? true : undefined;
    }, 5000);
    start = receiver.requests.length;
    await publish({ category: "user:block", blocker: { user_id: "a" }, blockees: [{ user_id: "c" }] });
    await receiver.waitFor(start + 1);
    const later = receiver.requests[start]!;
    new Webhook(rotated.body.secret).verify(later.raw, headersOf(later));
    assert.throws(() => new Webhook(endpoint.secret).verify(later.raw, headersOf(later)));
  });

  it("retries under the same webhook-id with a fresh timestamp per attempt, on the spec's schedule", async () => {
    // Delays scaled down: 5 s, 5 min, ... become 0.5 ms, 30 ms, ...
    const fast = await startHerald({ retryDelayScale: 0.0001 });
    const failing = await Receiver.start((_request, index) => (index < 3 ? 503 : 200));
    try {
      const tenant = await fast.createApp();
      const created = await call(fast.url, "POST", "/v1/endpoints", {
        token: tenant.token,
        body: { url: failing.url, filter: ["user:unblock"] },
      });
      assert.equal(created.body.profile, "standard", "standard is the default profile");
      await call(fast.url, "POST", "/v1/events", {
        token: tenant.token,
        body: { category: "user:unblock", blocker: { user_id: "a" } },
      });
      await failing.waitFor(4);
      const ids = new Set(failing.requests.map((r) => r.headers["webhook-id"]));
      assert.equal(ids.size, 1);
      const verifier = new Webhook(created.body.secret);
      for (const request of failing.requests) verifier.verify(request.raw, headersOf(request));
      const delivery = await eventually(async () => {
        const { body } = await call(fast.url, "GET", "/v1/deliveries", { token: tenant.token });
        return body.deliveries[0]?.status === "succeeded" ? body.deliveries[0] : undefined;
      });
      assert.equal(delivery.attempts, 4);
      assert.equal(delivery.max_attempts, 8);
      // Every attempt logged the digest of the bytes it sent: all the same body.
      const digests = new Set(delivery.attempt_log.map((a: { body_sha256: string }) => a.body_sha256));
      assert.equal(digests.size, 1);
      assert.match([...digests][0] as string, /^[0-9a-f]{64}$/);
    } finally {
      await Promise.all([fast.close(), failing.close()]);
    }
  });

  it("ends a delivery on 410 Gone without retrying", async () => {
    const gone = await Receiver.start(() => 410);
    try {
      const endpoint = await createEndpoint({ url: gone.url, filter: ["user:unblock"] });
      await publish({ category: "user:unblock", blocker: { user_id: "z" } });
      await gone.waitFor(1);
      const failed = await eventually(async () => {
        const { body } = await call(h.url, "GET", `/v1/deliveries?endpoint_id=${endpoint.id}&status=failed`, {
          token: app.token,
        });
        return body.deliveries[0];
      });
      assert.equal(failed.attempts, 1);
      assert.equal(gone.requests.length, 1);
    } finally {
      await gone.close();
    }
  });

  it("signs v1 and v1a with an ed25519 key, verifiable with the whpk_ public key", async () => {
    const { createPublicKey, verify } = await import("node:crypto");
    const own = await Receiver.start();
    const endpoint = await createEndpoint({ url: own.url, filter: ["user:block"], ed25519: true });
    assert.match(endpoint.public_key, /^whpk_/);
    await publish({ category: "user:block", blocker: { user_id: "ed" } });
    await own.waitFor(1);
    await own.close();
    const request = own.requests[0]!;
    const signatures = String(request.headers["webhook-signature"]).split(" ");
    assert.deepEqual(signatures.map((s) => s.split(",")[0]).sort(), ["v1", "v1a"]);
    new Webhook(endpoint.secret).verify(request.raw, headersOf(request));
    const x = Buffer.from(endpoint.public_key.slice(5), "base64").toString("base64url");
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
    const v1a = signatures.find((s) => s.startsWith("v1a,"))!.slice(4);
    const content = Buffer.concat([
      Buffer.from(`${request.headers["webhook-id"]}.${request.headers["webhook-timestamp"]}.`),
      request.raw,
    ]);
    assert.ok(verify(null, content, key, Buffer.from(v1a, "base64")));
    assert.ok(!verify(null, Buffer.concat([content, Buffer.from(" ")]), key, Buffer.from(v1a, "base64")));
  });
});
