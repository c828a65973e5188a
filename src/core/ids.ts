import { randomBytes, randomFillSync, randomUUID } from "node:crypto";

/**
 * Random bytes drawn from a pool refilled 4 KiB at a time: every event and delivery takes an id,
 * and one call into the CSPRNG per id measured 5% of Herald's time under load.
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
function randomInto(target: Buffer, offset: number, length: number): void {
  if (poolOffset + length > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  pool.copy(target, offset, poolOffset, poolOffset + length);
  poolOffset += length;
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids made later sort later,
 * so new rows land at the right edge of every index instead of on random pages of a growing table.
 */
export function uuidv7(now = Date.now()): string {
  const bytes = Buffer.allocUnsafe(16);
  bytes.writeUIntBE(now, 0, 6);
  randomInto(bytes, 6, 10);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A Sendbird-style application id: an uppercase UUID. */
export const newAppId = (): string => randomUUID().toUpperCase();
/** A Sendbird-style API token: 40 lowercase hex characters. */
export const newApiToken = (): string => randomBytes(20).toString("hex");
/** `evt_` and 24 hex digits, time-ordered like delivery ids. */
export const newEventId = (): string => `evt_${uuidv7().replaceAll("-", "").slice(0, 24)}`;
/** A delivery's id is the webhook id receivers see on every attempt: a UUIDv7. */
export const newDeliveryId = (): string => uuidv7();
/** `ep_` and 24 hex digits. */
export const newEndpointId = (): string => `ep_${uuidv7().replaceAll("-", "").slice(0, 24)}`;
/** `key_` and 24 hex digits. */
export const newSigningKeyId = (): string => `key_${uuidv7().replaceAll("-", "").slice(0, 24)}`;

/** `rcv_` and 24 hex digits. */
export const newRecoveryId = (): string => `rcv_${uuidv7().replaceAll("-", "").slice(0, 24)}`;

const LOWER_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyz0123456789";
/** `length` characters from [a-z0-9], without modulo bias (36 does not divide 256). */
function lowerAlphanumeric(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length)) {
      if (byte < 252 && out.length < length) out += LOWER_ALPHANUMERIC[byte % 36];
    }
  }
  return out;
}
/** A Stream-style API key: 12 lowercase letters and digits. */
export const newStreamApiKey = (): string => lowerAlphanumeric(12);
/** A Stream-style API secret: 64 lowercase letters and digits. */
export const newStreamApiSecret = (): string => lowerAlphanumeric(64);
