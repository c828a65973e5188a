import assert from "node:assert/strict";
import { generateKeyPairSync, verify } from "node:crypto";
import { describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { signStandardWebhook, verifyStandardWebhook } from "../src/index.js";

/** An ed25519 pair in the spec's encodings: `whsk_` seed + public key, `whpk_` public key. */
function asymmetricKeys() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  const [seed, pub] = [Buffer.from(jwk.d!, "base64url"), Buffer.from(jwk.x!, "base64url")];
  return {
    signingKey: `whsk_${Buffer.concat([seed, pub]).toString("base64")}`,
    publicKey: `whpk_${pub.toString("base64")}`,
    nodePublicKey: publicKey,
  };
}

const body = '{"type":"user.created","data":{"name":"Zoë"}}';
const now = Math.floor(Date.now() / 1000);

describe("Standard Webhooks signatures", () => {
  it("v1 matches the reference library byte for byte", () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert.equal(
      signStandardWebhook("msg_1", now, body, secret),
      new Webhook(secret).sign("msg_1", new Date(now * 1000), body),
    );
  });

  it("v1a is an ed25519 signature of id.timestamp.body that verifies with the whpk_ key", () => {
    const keys = asymmetricKeys();
    const signature = signStandardWebhook("msg_1", now, body, keys.signingKey);
    assert.match(signature, /^v1a,[A-Za-z0-9+/]{86}==$/);
    const raw = Buffer.from(signature.slice(4), "base64");
    assert.ok(verify(null, Buffer.from(`msg_1.${now}.${body}`), keys.nodePublicKey, raw), "node:crypto agrees");
    const request = { webhookId: "msg_1", timestamp: String(now), signature, body };
    assert.deepEqual(verifyStandardWebhook(request, [keys.publicKey]), { ok: true });
  });

  it("v1a: refuses a tampered body, another key, a garbled signature, and a v1 header given only a public key", () => {
    const keys = asymmetricKeys();
    const other = asymmetricKeys();
    const signature = signStandardWebhook("msg_2", now, body, keys.signingKey);
    const request = { webhookId: "msg_2", timestamp: String(now), signature, body };
    const refused = (r: typeof request, secrets: string[]) => verifyStandardWebhook(r, secrets).ok === false;
    assert.ok(refused({ ...request, body: body.replace("Zoë", "Zoe") }, [keys.publicKey]));
    assert.ok(refused(request, [other.publicKey]));
    assert.ok(refused({ ...request, signature: "v1a,not-base64!!" }, [keys.publicKey]));
    const hmacOnly = signStandardWebhook("msg_2", now, body, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert.ok(refused({ ...request, signature: hmacOnly }, [keys.publicKey]));
    // Both kinds in one header, during a migration from HMAC to ed25519: either key verifies.
    const both = { ...request, signature: `${hmacOnly} ${signature}` };
    assert.ok(verifyStandardWebhook(both, [other.publicKey, keys.publicKey]).ok);
    assert.ok(verifyStandardWebhook(both, ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).ok);
  });
});
