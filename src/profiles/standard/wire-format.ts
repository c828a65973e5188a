import { generateKeyPairSync, randomBytes } from "node:crypto";
import {
  STANDARD_WEBHOOK_ID_HEADER,
  STANDARD_WEBHOOK_SIGNATURE_HEADER,
  STANDARD_WEBHOOK_TIMESTAMP_HEADER,
  signStandardWebhook,
} from "@herald/signing";
import { stringifyJson } from "../../core/json.js";
import { isSuccess, type NewEndpointKey, type WireFormat } from "../profile.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** An HMAC secret as the spec has it: `whsec_` and 32 random bytes in base64. */
const newHmacKey = (): NewEndpointKey => ({
  kind: "hmac",
  secret: `whsec_${randomBytes(32).toString("base64")}`,
  publicKey: null,
});

/** An ed25519 pair: `whsk_` (seed and public key, kept by Herald) and `whpk_` (for receivers). */
function newEd25519Key(): NewEndpointKey {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  const seed = Buffer.from(jwk.d!, "base64url");
  const publicKey = Buffer.from(jwk.x!, "base64url");
  return {
    kind: "ed25519",
    secret: `whsk_${Buffer.concat([seed, publicKey]).toString("base64")}`,
    publicKey: `whpk_${publicKey.toString("base64")}`,
  };
}

/**
 * Standard Webhooks (spec v1.0.0): `{"type", "timestamp", "data"}` as plain UTF-8 JSON;
 * `webhook-id` (the delivery id on every attempt), `webhook-timestamp` (seconds, per attempt) and
 * `webhook-signature` with one `v1,` (HMAC) or `v1a,` (ed25519) signature per active key.
 */
export const standardWireFormat: WireFormat = {
  id: "standard",
  description: "Standard Webhooks: {type, timestamp, data}, webhook-id/-timestamp/-signature (v1 HMAC, v1a ed25519)",
  policy: {
    timeoutMs: 15 * SECOND,
    maxAttempts: 8,
    // Immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 27.5 h, so a receiver down for hours loses nothing.
    retryDelaysMs: [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR],
  },
  reservedHeaders: [
    "content-type",
    "user-agent",
    STANDARD_WEBHOOK_ID_HEADER,
    STANDARD_WEBHOOK_TIMESTAMP_HEADER,
    STANDARD_WEBHOOK_SIGNATURE_HEADER,
  ],
  // Herald's serialiser: published numbers are written as they were written.
  render: (event) =>
    stringifyJson({ type: event.type, timestamp: new Date(event.createdAt).toISOString(), data: event.payload }),
  // The event alone: every endpoint gets the same bytes.
  renderVariant: () => "",
  request(body, identity, keys) {
    const timestamp = Math.floor(identity.now / 1000);
    const signatures = keys.endpointKeys.map((key) =>
      signStandardWebhook(identity.webhookId, timestamp, body, key.secret),
    );
    return {
      body,
      headers: {
        "content-type": "application/json",
        "user-agent": "Herald",
        [STANDARD_WEBHOOK_ID_HEADER]: identity.webhookId,
        [STANDARD_WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
        [STANDARD_WEBHOOK_SIGNATURE_HEADER]: signatures.join(" "),
      },
    };
  },
  signsWith: "endpoint-keys",
  // The spec: 2xx succeeds, 410 Gone means the receiver wants no more, anything else (3xx too) is retried.
  classify: ({ statusCode }) =>
    statusCode === null || !isSuccess(statusCode) ? (statusCode === 410 ? "failed" : "retry") : "succeeded",
  // The spec again: a 410 means the receiver wants this endpoint's webhooks no more, so it is disabled.
  disablesOn: ({ statusCode }) =>
    statusCode === 410 ? "410 Gone: the receiver asked for no more webhooks at this URL" : undefined,
  newKeys: ({ ed25519 }) => (ed25519 ? [newHmacKey(), newEd25519Key()] : [newHmacKey()]),
};
