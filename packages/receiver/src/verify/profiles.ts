import { createHash } from "node:crypto";
import {
  encodeSendbirdJson,
  SENDBIRD_LEGACY_SIGNATURE_HEADER,
  SENDBIRD_SIGNATURE_HEADER,
  STANDARD_WEBHOOK_ID_HEADER,
  STANDARD_WEBHOOK_SIGNATURE_HEADER,
  STANDARD_WEBHOOK_TIMESTAMP_HEADER,
  STREAM_API_KEY_HEADER,
  STREAM_ATTEMPT_HEADER,
  STREAM_SIGNATURE_HEADER,
  STREAM_WEBHOOK_ID_HEADER,
  verifySendbird,
  verifyStandardWebhook,
  verifyStream,
} from "@herald/signing";
import type { HeaderReader } from "./headers.js";
import type { ProfileName, VerifyFailureReason } from "./outcome.js";

export type SignatureCheck = { ok: true } | { ok: false; reason: VerifyFailureReason; message: string };

export interface CheckContext {
  headers: HeaderReader;
  secrets: readonly string[];
  toleranceSeconds?: number;
  nowSeconds: number;
}

/** Everything the receiver needs to know about one wire format; the rest of the kit never asks which it is. */
export interface ReceiverProfile {
  readonly name: ProfileName;
  /** Whether these headers are this profile's. */
  matches(headers: HeaderReader): boolean;
  check(body: Buffer, context: CheckContext): SignatureCheck;
  /** The sender's id for the webhook, the same on every retry, if it sends one. */
  webhookId(headers: HeaderReader): string | undefined;
  attempt(headers: HeaderReader): number | undefined;
  eventType(payload: unknown): string;
  /** Ways a framework commonly re-serialises this profile's JSON; used to tell "not the raw bytes" from "forged". */
  reencodings(payload: unknown): string[];
}

const field = (payload: unknown, name: string): string => {
  const value = (payload as Record<string, unknown> | null)?.[name];
  return typeof value === "string" ? value : "";
};

const attemptNumber = (value: string | undefined): number | undefined =>
  value && /^\d+$/.test(value) ? Number(value) : undefined;

const hexSignatureCheck = (valid: boolean): SignatureCheck =>
  valid
    ? { ok: true }
    : { ok: false, reason: "bad-signature", message: "the HMAC of the body does not match any secret" };

// Go's encoding/json, which Stream's servers use, escapes <, > and & in strings.
const goJson = (payload: unknown) =>
  JSON.stringify(payload).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);

const sendbird: ReceiverProfile = {
  name: "sendbird",
  matches: (headers) =>
    headers(SENDBIRD_SIGNATURE_HEADER) !== undefined ||
    (headers(SENDBIRD_LEGACY_SIGNATURE_HEADER) !== undefined && headers(STREAM_API_KEY_HEADER) === undefined),
  check: (body, { headers, secrets }) => {
    const signature = headers(SENDBIRD_SIGNATURE_HEADER) ?? headers(SENDBIRD_LEGACY_SIGNATURE_HEADER);
    return hexSignatureCheck(verifySendbird(body, signature, secrets));
  },
  // Herald adds an id Sendbird itself does not send; without it the body digest stands in.
  webhookId: (headers) => headers(STREAM_WEBHOOK_ID_HEADER),
  attempt: (headers) => attemptNumber(headers(STREAM_ATTEMPT_HEADER)),
  eventType: (payload) => field(payload, "category"),
  reencodings: (payload) => [encodeSendbirdJson(payload), JSON.stringify(payload)],
};

const stream: ReceiverProfile = {
  name: "stream",
  matches: (headers) =>
    headers(STREAM_SIGNATURE_HEADER) !== undefined &&
    (headers(STREAM_API_KEY_HEADER) !== undefined || headers(STREAM_WEBHOOK_ID_HEADER) !== undefined),
  check: (body, { headers, secrets }) =>
    hexSignatureCheck(verifyStream(body, headers(STREAM_SIGNATURE_HEADER), secrets)),
  webhookId: (headers) => headers(STREAM_WEBHOOK_ID_HEADER),
  attempt: (headers) => attemptNumber(headers(STREAM_ATTEMPT_HEADER)),
  eventType: (payload) => field(payload, "type"),
  reencodings: (payload) => [goJson(payload), JSON.stringify(payload)],
};

const standardWebhooks: ReceiverProfile = {
  name: "standard-webhooks",
  matches: (headers) => headers(STANDARD_WEBHOOK_SIGNATURE_HEADER) !== undefined,
  check: (body, { headers, secrets, toleranceSeconds, nowSeconds }) =>
    verifyStandardWebhook(
      {
        webhookId: headers(STANDARD_WEBHOOK_ID_HEADER),
        timestamp: headers(STANDARD_WEBHOOK_TIMESTAMP_HEADER),
        signature: headers(STANDARD_WEBHOOK_SIGNATURE_HEADER),
        body,
      },
      secrets,
      { nowSeconds, ...(toleranceSeconds === undefined ? {} : { toleranceSeconds }) },
    ),
  webhookId: (headers) => headers(STANDARD_WEBHOOK_ID_HEADER),
  attempt: () => undefined,
  eventType: (payload) => field(payload, "type"),
  reencodings: (payload) => [JSON.stringify(payload)],
};

/** Detection order matters: `x-sendbird-signature` first, since Herald's Sendbird requests also carry an id. */
export const RECEIVER_PROFILES: readonly ReceiverProfile[] = [sendbird, standardWebhooks, stream];

export function profileNamed(name: ProfileName): ReceiverProfile {
  return RECEIVER_PROFILES.find((profile) => profile.name === name)!;
}

export function detectProfile(headers: HeaderReader): ReceiverProfile | undefined {
  return RECEIVER_PROFILES.find((profile) => profile.matches(headers));
}

export function bodyDigest(body: Buffer): string {
  return `sha256:${createHash("sha256").update(body).digest("hex")}`;
}
