import { createHmac, timingSafeEqual } from "node:crypto";

/** HMAC-SHA256 of the exact bytes. */
export function hmacSha256(key: string | Uint8Array, data: string | Uint8Array): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/**
 * Constant-time equality of two strings. Lengths are compared first because `timingSafeEqual`
 * throws on a length mismatch (a trimmed or truncated header would otherwise crash the caller).
 */
export function safeEqual(expected: string, received: string): boolean {
  const a = Buffer.from(expected, "utf8");
  const b = Buffer.from(received, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}
