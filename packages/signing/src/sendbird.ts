import { hmacSha256, safeEqual } from "./hmac.js";

/** Header names Sendbird puts on every webhook request. */
export const SENDBIRD_SIGNATURE_HEADER = "x-sendbird-signature";
export const SENDBIRD_LEGACY_SIGNATURE_HEADER = "x-signature";

// `/` and every UTF-16 code unit outside ASCII: what Sendbird's encoder escapes.
const SENDBIRD_ESCAPED = /[/\u0080-\uffff]/g;

function escapeForSendbird(char: string): string {
  if (char === "/") return "\\/";
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * Serialises a payload the way Sendbird puts it on the wire: compact JSON with `/` written as `\/`
 * and every non-ASCII character as a `\uXXXX` escape (astral characters as surrogate pairs),
 * so the body is pure ASCII and its bytes are the same in any encoding a receiver assumes.
 */
export function encodeSendbirdJson(payload: unknown): string {
  return escapeSendbirdJson(JSON.stringify(payload));
}

/**
 * Sendbird's escapes applied to JSON text already serialised (by a serialiser that keeps numbers
 * exactly as written, for example): the same bytes `encodeSendbirdJson` makes from the value.
 */
export function escapeSendbirdJson(json: string): string {
  // `/` never appears outside a string in JSON, so escaping it everywhere only touches strings.
  return json.replace(SENDBIRD_ESCAPED, escapeForSendbird);
}

/** Lowercase hex HMAC-SHA256 of the exact body bytes, keyed with the app's master API token. */
export function signSendbird(body: string | Uint8Array, masterApiToken: string): string {
  return hmacSha256(masterApiToken, body).toString("hex");
}

/**
 * Checks a Sendbird signature header against the raw body in constant time, accepting any of the
 * given tokens (so a receiver can rotate its master token without dropping requests).
 */
export function verifySendbird(
  body: string | Uint8Array,
  signature: string | undefined,
  masterApiTokens: readonly string[],
): boolean {
  if (!signature) return false;
  const received = signature.trim().toLowerCase();
  return masterApiTokens.some((token) => safeEqual(signSendbird(body, token), received));
}
