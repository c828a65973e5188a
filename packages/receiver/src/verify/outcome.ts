/** Names for the profiles a receiver can take. */
export type ProfileName = "sendbird" | "stream" | "standard-webhooks";

/** Why a request was refused. Each maps to one HTTP status and one sentence a developer can act on. */
export type VerifyFailureReason =
  | "missing-signature"
  | "unknown-profile"
  | "no-secret"
  | "bad-signature"
  | "stale-timestamp"
  | "body-not-raw"
  | "bad-encoding"
  | "invalid-json"
  | "body-too-large";

/** A request whose signature checked out. */
export interface VerifiedWebhook {
  profile: ProfileName;
  /** The key to deduplicate on: the sender's webhook id, or a body digest where the profile sends none. */
  id: string;
  idSource: "header" | "body-digest";
  /** `category` (Sendbird) or `type` (Stream, Standard Webhooks); "" when the payload has neither. */
  type: string;
  /** The signed bytes, decompressed. */
  body: Buffer;
  payload: unknown;
  /** The sender's attempt number, where it sends one. */
  attempt?: number;
}

export type Verification =
  | { ok: true; webhook: VerifiedWebhook }
  | { ok: false; reason: VerifyFailureReason; message: string; profile?: ProfileName };

export function refuse(reason: VerifyFailureReason, message: string, profile?: ProfileName): Verification {
  return profile ? { ok: false, reason, message, profile } : { ok: false, reason, message };
}

/** The status a receiver answers with for each failure. */
export const FAILURE_STATUS: Readonly<Record<VerifyFailureReason, number>> = {
  "missing-signature": 401,
  "unknown-profile": 401,
  "no-secret": 500,
  "bad-signature": 401,
  "stale-timestamp": 401,
  "body-not-raw": 500,
  "bad-encoding": 400,
  "invalid-json": 400,
  "body-too-large": 413,
};
