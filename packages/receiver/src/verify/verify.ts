import { gunzipSync } from "node:zlib";
import { type HeaderSource, readHeaders } from "./headers.js";
import { type ProfileName, refuse, type Verification } from "./outcome.js";
import { bodyDigest, type CheckContext, detectProfile, profileNamed, type ReceiverProfile } from "./profiles.js";

/** One secret for every profile, several (rotation), or per profile. */
export type SecretsOption = string | readonly string[] | Partial<Record<ProfileName, string | readonly string[]>>;

export interface VerifyOptions {
  secrets: SecretsOption;
  /** Skip detection and insist on one profile. */
  profile?: ProfileName;
  /** Standard Webhooks timestamp tolerance; default 300 s. */
  toleranceSeconds?: number;
  /** Clock in milliseconds, for tests. */
  now?: () => number;
}

export interface RawWebhookRequest {
  headers: HeaderSource;
  /** The bytes as they arrived. Anything else (a parsed object) is refused as `body-not-raw`. */
  body: unknown;
}

const GZIP_MAGIC = [0x1f, 0x8b];

function secretsFor(option: SecretsOption, profile: ProfileName): string[] {
  if (typeof option === "string") return [option];
  if (Array.isArray(option)) return [...option];
  const own = (option as Partial<Record<ProfileName, string | readonly string[]>>)[profile];
  if (own === undefined) return [];
  return typeof own === "string" ? [own] : [...own];
}

function rawBytes(body: unknown): Buffer | undefined {
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return undefined;
}

/** Tells a forged body from one a framework parsed and re-serialised: the latter verifies once re-encoded. */
function wasReserialised(profile: ReceiverProfile, body: Buffer, context: CheckContext): boolean {
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString("utf8"));
  } catch {
    return false;
  }
  const received = body.toString("utf8");
  return profile
    .reencodings(payload)
    .some((text) => text !== received && profile.check(Buffer.from(text, "utf8"), context).ok);
}

/**
 * Verifies a webhook from its raw bytes: detects the profile from the headers (unless told), checks
 * the signature against every secret, decompresses gzip bodies (Stream signs the uncompressed
 * JSON), parses the JSON and names the id to deduplicate on. Never throws for a bad request.
 */
export function verifyWebhook(request: RawWebhookRequest, options: VerifyOptions): Verification {
  const raw = rawBytes(request.body);
  if (!raw) {
    return refuse(
      "body-not-raw",
      "the body was already parsed; verification needs the raw request bytes (use this kit's adapters, or express.raw())",
    );
  }
  const headers = readHeaders(request.headers);
  const profile = options.profile ? profileNamed(options.profile) : detectProfile(headers);
  if (!profile?.matches(headers)) {
    const expected = options.profile ?? "sendbird, stream or standard-webhooks";
    return refuse("missing-signature", `no signature header of ${expected} on the request`, options.profile);
  }
  const secrets = secretsFor(options.secrets, profile.name);
  if (secrets.length === 0) return refuse("no-secret", `no secret configured for ${profile.name}`, profile.name);

  let body = raw;
  if (raw[0] === GZIP_MAGIC[0] && raw[1] === GZIP_MAGIC[1]) {
    try {
      body = gunzipSync(raw);
    } catch {
      return refuse("bad-encoding", "the body starts as gzip but does not decompress", profile.name);
    }
  }
  const context: CheckContext = {
    headers,
    secrets,
    nowSeconds: Math.floor((options.now?.() ?? Date.now()) / 1000),
    ...(options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds }),
  };
  const checked = profile.check(body, context);
  if (!checked.ok) {
    if (checked.reason === "bad-signature" && wasReserialised(profile, body, context)) {
      return refuse(
        "body-not-raw",
        "the signature matches the JSON re-serialised, not these bytes: something parsed and re-wrote the body before verification",
        profile.name,
      );
    }
    return refuse(checked.reason, checked.message, profile.name);
  }

  let payload: unknown;
  try {
    payload = JSON.parse(body.toString("utf8"));
  } catch {
    return refuse("invalid-json", "the signature is valid but the body is not JSON", profile.name);
  }
  const headerId = profile.webhookId(headers);
  const attempt = profile.attempt(headers);
  return {
    ok: true,
    webhook: {
      profile: profile.name,
      id: headerId ?? bodyDigest(body),
      idSource: headerId ? "header" : "body-digest",
      type: profile.eventType(payload),
      body,
      payload,
      ...(attempt === undefined ? {} : { attempt }),
    },
  };
}
