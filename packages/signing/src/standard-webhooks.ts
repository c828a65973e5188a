import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { hmacSha256, safeEqual } from "./hmac.js";

/** The Standard Webhooks headers (spec v1.0.0). */
export const STANDARD_WEBHOOK_ID_HEADER = "webhook-id";
export const STANDARD_WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp";
export const STANDARD_WEBHOOK_SIGNATURE_HEADER = "webhook-signature";

/** The reference libraries' tolerance for clock skew and replays. */
export const STANDARD_WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

const SECRET_PREFIX = "whsec_";
/** Asymmetric (v1a, ed25519) keys: the sender's secret key, the receivers' public key. */
const SIGNING_KEY_PREFIX = "whsk_";
const PUBLIC_KEY_PREFIX = "whpk_";

/** The key bytes of a `whsec_`-prefixed (or bare) base64 secret, as the reference libraries read it. */
export function standardWebhookKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return Buffer.from(encoded, "base64");
}

function signedContent(webhookId: string, timestampSeconds: number, body: string | Uint8Array): Buffer {
  const prefix = Buffer.from(`${webhookId}.${timestampSeconds}.`, "utf8");
  return Buffer.concat([prefix, typeof body === "string" ? Buffer.from(body, "utf8") : body]);
}

/** An ed25519 key from `whsk_` (seed then public key, 64 bytes) or `whpk_` (public key, 32 bytes). */
function ed25519Key(key: string): KeyObject {
  const b64url = (bytes: Buffer) => bytes.toString("base64url");
  if (key.startsWith(SIGNING_KEY_PREFIX)) {
    const bytes = Buffer.from(key.slice(SIGNING_KEY_PREFIX.length), "base64");
    const jwk = { kty: "OKP", crv: "Ed25519", d: b64url(bytes.subarray(0, 32)), x: b64url(bytes.subarray(32)) };
    return createPrivateKey({ key: jwk, format: "jwk" });
  }
  const bytes = Buffer.from(key.slice(PUBLIC_KEY_PREFIX.length), "base64");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: b64url(bytes) }, format: "jwk" });
}

const hmacSignature = (content: Buffer, secret: string) =>
  `v1,${hmacSha256(standardWebhookKey(secret), content).toString("base64")}`;

/**
 * Signs `id.timestamp.body`: `v1,<base64 HMAC-SHA256>` with a `whsec_` secret, or
 * `v1a,<base64 ed25519 signature>` with a `whsk_` signing key.
 */
export function signStandardWebhook(
  webhookId: string,
  timestampSeconds: number,
  body: string | Uint8Array,
  secret: string,
): string {
  const content = signedContent(webhookId, timestampSeconds, body);
  if (secret.startsWith(SIGNING_KEY_PREFIX)) return `v1a,${sign(null, content, ed25519Key(secret)).toString("base64")}`;
  return hmacSignature(content, secret);
}

/** Whether any offered signature is valid for this secret (`whsec_`) or public key (`whpk_`). */
function matchesAny(offered: readonly string[], content: Buffer, secret: string): boolean {
  if (secret.startsWith(PUBLIC_KEY_PREFIX)) {
    const key = ed25519Key(secret);
    return offered.some((part) => {
      if (!part.startsWith("v1a,")) return false;
      try {
        return verify(null, content, key, Buffer.from(part.slice(4), "base64"));
      } catch {
        return false;
      }
    });
  }
  const expected = hmacSignature(content, secret);
  return offered.some((candidate) => safeEqual(expected, candidate));
}

export interface StandardWebhookRequest {
  webhookId: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
  body: string | Uint8Array;
}

export type StandardWebhookCheck =
  | { ok: true }
  | { ok: false; reason: "missing-signature" | "stale-timestamp" | "bad-signature"; message: string };

/**
 * Verifies a Standard Webhooks request: every space-separated signature is tried against every
 * secret (rotation): `v1,` against `whsec_` secrets, `v1a,` against `whpk_` public keys. The
 * timestamp must be within the tolerance either side of now.
 */
export function verifyStandardWebhook(
  request: StandardWebhookRequest,
  secrets: readonly string[],
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): StandardWebhookCheck {
  const { webhookId, timestamp, signature } = request;
  if (!webhookId || !timestamp || !signature) {
    return {
      ok: false,
      reason: "missing-signature",
      message: "webhook-id, webhook-timestamp and webhook-signature are required",
    };
  }
  const seconds = Number(timestamp);
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? STANDARD_WEBHOOK_TOLERANCE_SECONDS;
  if (!/^\d+$/.test(timestamp.trim()) || Math.abs(now - seconds) > tolerance) {
    return {
      ok: false,
      reason: "stale-timestamp",
      message: `timestamp ${timestamp} is more than ${tolerance}s from now`,
    };
  }
  const offered = signature.split(" ").map((part) => part.trim());
  const content = signedContent(webhookId, seconds, request.body);
  const matches = secrets.some((secret) => matchesAny(offered, content, secret));
  return matches
    ? { ok: true }
    : { ok: false, reason: "bad-signature", message: "no v1 or v1a signature matches any secret or public key" };
}
