import {
  escapeSendbirdJson,
  SENDBIRD_LEGACY_SIGNATURE_HEADER,
  SENDBIRD_SIGNATURE_HEADER,
  signSendbird,
} from "@herald/signing";
import type { Catalog } from "../../catalog/index.js";
import { stringifyJson } from "../../core/json.js";
import type { App, Endpoint } from "../../storage/records.js";
import { type DeliveryPolicy, isSuccess, type WireFormat } from "../profile.js";

export interface SendbirdVariant {
  id: string;
  description: string;
  /** The catalog whose events this format carries. */
  catalog: Catalog;
  /** Chat payloads carry `app_id`, Calls payloads `application_id`. */
  appIdField: "app_id" | "application_id";
  /** Chat waits 5 s for an answer, Calls 1 s; both try three times. */
  timeoutMs: number;
}

// Three attempts within about 15 s when every one times out (5 + 0.25 + 5 + 0.5 + 5), as Sendbird does.
const RETRY_DELAYS_MS = [250, 500];

const RESERVED_HEADERS = [
  "content-type",
  "user-agent",
  SENDBIRD_SIGNATURE_HEADER,
  SENDBIRD_LEGACY_SIGNATURE_HEADER,
  "unicode-escaped",
  "x-webhook-id",
  "x-webhook-attempt",
];

/** Drops what Sendbird never sends: members unless the app asked for them, and always for Supergroups. */
function shapePayload(
  payload: Readonly<Record<string, unknown>>,
  endpoint: Endpoint,
  app: App,
  appIdField: SendbirdVariant["appIdField"],
): Record<string, unknown> {
  const shaped: Record<string, unknown> = { ...payload };
  const channel = shaped.channel as { is_super?: unknown } | undefined;
  if ("members" in shaped && (endpoint.options.include_members !== true || channel?.is_super === true)) {
    delete shaped.members;
  }
  if (shaped[appIdField] === undefined) shaped[appIdField] = app.id;
  return shaped;
}

/** A Sendbird wire format: byte-exact bodies, `x-sendbird-signature`, Sendbird's timeouts and retries. */
export function sendbirdWireFormat(variant: SendbirdVariant): WireFormat {
  const policy: DeliveryPolicy = { timeoutMs: variant.timeoutMs, maxAttempts: 3, retryDelaysMs: RETRY_DELAYS_MS };
  return {
    id: variant.id,
    description: variant.description,
    policy,
    reservedHeaders: RESERVED_HEADERS,
    carries: (type) => variant.catalog.has(type),
    // Sendbird's encoding over Herald's serialiser, which writes published numbers as they were written.
    render: (event, endpoint, app) =>
      escapeSendbirdJson(stringifyJson(shapePayload(event.payload, endpoint, app, variant.appIdField))),
    // Of the endpoint, shapePayload reads whether it takes members.
    renderVariant: (endpoint) => (endpoint.options.include_members === true ? "members" : ""),
    request(body, identity, keys) {
      // Always the master token: secondary tokens never sign, as Sendbird documents.
      const signature = signSendbird(body, keys.appToken);
      const headers = {
        "user-agent": "SendBird",
        "content-type": "application/json",
        [SENDBIRD_SIGNATURE_HEADER]: signature,
        // The legacy header carries the same value; the body is pure ASCII, so both always verify.
        [SENDBIRD_LEGACY_SIGNATURE_HEADER]: signature,
        "unicode-escaped": "true",
        // Herald's additions: receivers can deduplicate retries, which Sendbird gives them no id for.
        "x-webhook-id": identity.webhookId,
        "x-webhook-attempt": String(identity.attempt),
      };
      return { body, headers };
    },
    signsWith: "app-token",
    // Any other status is retried, 4xx included, as Sendbird does.
    classify: ({ statusCode }) => (statusCode !== null && isSuccess(statusCode) ? "succeeded" : "retry"),
  };
}
