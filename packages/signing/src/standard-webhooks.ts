import { hmacSha256, safeEqual } from "./hmac.js";

/** The Standard Webhooks headers (spec v1.0.0). */
export const STANDARD_WEBHOOK_ID_HEADER = "webhook-id";
export const STANDARD_WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp";
export const STANDARD_WEBHOOK_SIGNATURE_HEADER = "webhook-signature";

/** The reference libraries' tolerance for clock skew and replays. */
export const STANDARD_WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

const SECRET_PREFIX = "whsec_";

/** The key bytes of a `whsec_`-prefixed (or bare) base64 secret, as the reference libraries read it. */
export function standardWebhookKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return Buffer.from(encoded, "base64");
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function signStandardWebhook(
  webhookId: string,
  timestampSeconds: number,
  body: string | Uint8Array,
  secret: string,
): string {
  const prefix = Buffer.from(`${webhookId}.${timestampSeconds}.`, "utf8");
  const content = Buffer.concat([prefix, typeof body === "string" ? Buffer.from(body, "utf8") : body]);
  return `v1,${hmacSha256(standardWebhookKey(secret), content).toString("base64")}`;
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
 * Verifies a Standard Webhooks request: every space-separated `v1,` signature is tried against
 * every secret (rotation), and the timestamp must be within the tolerance either side of now.
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
  const offered = signature
    .split(" ")
    .filter((part) => part.startsWith("v1,"))
    .map((part) => part.trim());
  const matches = secrets.some((secret) => {
    const expected = signStandardWebhook(webhookId, seconds, request.body, secret);
    return offered.some((candidate) => safeEqual(expected, candidate));
  });
  return matches ? { ok: true } : { ok: false, reason: "bad-signature", message: "no v1 signature matches any secret" };
}
