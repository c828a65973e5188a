import { hmacSha256, safeEqual } from "./hmac.js";

/** Headers Stream Chat puts on every webhook request. */
export const STREAM_SIGNATURE_HEADER = "x-signature";
export const STREAM_WEBHOOK_ID_HEADER = "x-webhook-id";
export const STREAM_ATTEMPT_HEADER = "x-webhook-attempt";
export const STREAM_API_KEY_HEADER = "x-api-key";

/** Lowercase hex HMAC-SHA256 of the uncompressed body bytes, keyed with the app's API secret. */
export function signStream(body: string | Uint8Array, apiSecret: string): string {
  return hmacSha256(apiSecret, body).toString("hex");
}

/**
 * Checks an `X-Signature` against the uncompressed body in constant time, accepting any of the
 * secrets. Case-sensitive, as Stream's own `verifyWebhook` is: an uppercased signature fails.
 */
export function verifyStream(
  body: string | Uint8Array,
  signature: string | undefined,
  apiSecrets: readonly string[],
): boolean {
  if (!signature) return false;
  const received = signature.trim();
  return apiSecrets.some((secret) => safeEqual(signStream(body, secret), received));
}
