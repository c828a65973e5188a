import { gzipSync } from "node:zlib";
import {
  STREAM_API_KEY_HEADER,
  STREAM_ATTEMPT_HEADER,
  STREAM_SIGNATURE_HEADER,
  STREAM_WEBHOOK_ID_HEADER,
  signStream,
} from "@herald/signing";
import { stringifyJson } from "../../core/json.js";
import type { Endpoint } from "../../storage/records.js";
import {
  type AttemptIdentity,
  type AttemptResult,
  isSuccess,
  type Outcome,
  type RenderedEvent,
  type SigningKeys,
  type WireFormat,
  type WireRequest,
} from "../profile.js";

/** Stream truncates the member list of message and channel events to 50 "for performance reasons". */
export const MAX_MEMBERS = 50;

const RESERVED_HEADERS = [
  "content-type",
  "content-encoding",
  "user-agent",
  STREAM_WEBHOOK_ID_HEADER,
  STREAM_ATTEMPT_HEADER,
  STREAM_API_KEY_HEADER,
  STREAM_SIGNATURE_HEADER,
];

/** The event as Stream sends it: its own `type`, an RFC 3339 `created_at`, at most 50 members. */
function renderStreamEvent(event: RenderedEvent): string {
  const payload: Record<string, unknown> = { ...event.payload };
  if (payload.created_at === undefined) payload.created_at = new Date(event.createdAt).toISOString();
  if (Array.isArray(payload.members) && payload.members.length > MAX_MEMBERS) {
    payload.members = payload.members.slice(0, MAX_MEMBERS);
  }
  return stringifyJson(payload);
}

/**
 * One signed Stream request: `X-Signature` is the lowercase hex HMAC of the uncompressed JSON with
 * the newest API key's secret, named by `X-Api-Key`; with compression the body is gzipped after.
 */
export function streamRequest(
  body: string,
  identity: AttemptIdentity,
  keys: SigningKeys,
  compress: boolean,
): WireRequest {
  const key = keys.apiKeys[0];
  if (!key) throw new Error("A Stream request needs an API key: the app has none");
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "Herald",
    [STREAM_WEBHOOK_ID_HEADER]: identity.webhookId,
    [STREAM_ATTEMPT_HEADER]: String(identity.attempt),
    [STREAM_API_KEY_HEADER]: key.apiKey,
    [STREAM_SIGNATURE_HEADER]: signStream(body, key.secret),
  };
  if (!compress) return { body, headers };
  return { body: gzipSync(body), headers: { ...headers, "content-encoding": "gzip" } };
}

/** A Stream request with the endpoint's compression switch. */
const requestForEndpoint: WireFormat["request"] = (body, identity, keys, endpoint: Endpoint) =>
  streamRequest(body, identity, keys, endpoint.options.compress === true);

// Stream's push policy: 408, 429 and 5xx up to 3 attempts, a failed connection up to 2, a timeout
// up to 3; any other answer ends the delivery. The attempt cap itself is the policy's maxAttempts.
const RETRYABLE_STATUS = (statusCode: number) => statusCode === 408 || statusCode === 429 || statusCode >= 500;
const NETWORK_ATTEMPTS = 2;

function classifyPush({ statusCode, failure }: AttemptResult, attempt: number): Outcome {
  if (statusCode !== null) {
    if (isSuccess(statusCode)) return "succeeded";
    return RETRYABLE_STATUS(statusCode) ? "retry" : "failed";
  }
  return failure === "network" && attempt >= NETWORK_ATTEMPTS ? "failed" : "retry";
}

/** Stream Chat push webhooks (event hooks and the legacy `webhook_url`). */
export const streamWireFormat: WireFormat = {
  id: "stream",
  description: "Stream Chat: the event JSON, X-Webhook-Id/-Attempt, X-Api-Key, X-Signature (hex HMAC), optional gzip",
  defaultVocabulary: "stream",
  policy: {
    timeoutMs: 6000,
    maxAttempts: 3,
    // Short waits: three 6 s attempts must fit Stream's 15 s window, which cuts the last one short.
    retryDelaysMs: [500, 1000],
    windowMs: 15_000,
  },
  reservedHeaders: RESERVED_HEADERS,
  signsWith: "api-keys",
  render: renderStreamEvent,
  // The event alone: every endpoint gets the same bytes.
  renderVariant: () => "",
  request: requestForEndpoint,
  classify: classifyPush,
};

/**
 * A synchronous Stream hook (before-message-send, custom commands): one attempt, signed like a
 * push webhook, called by the hooks module and never by the queue, so it carries no pushed events.
 */
function synchronousHook(id: string, description: string, timeoutMs: number): WireFormat {
  return {
    id,
    description,
    defaultVocabulary: "stream",
    synchronous: true,
    policy: { timeoutMs, maxAttempts: 1, retryDelaysMs: [] },
    reservedHeaders: RESERVED_HEADERS,
    signsWith: "api-keys",
    carries: () => false,
    render: (event) => stringifyJson(event.payload),
    request: requestForEndpoint,
    classify: ({ statusCode }) => (statusCode !== null && isSuccess(statusCode) ? "succeeded" : "failed"),
  };
}

/** Default per-attempt timeout of before-message-send (Stream: 1,500 ms; settable from 1 to 5,000). */
export const BEFORE_SEND_TIMEOUT_MS = 1500;
/** Custom commands have no documented timeout beyond the legacy "1 second"; Herald allows 3 s. */
export const COMMAND_TIMEOUT_MS = 3000;

export const streamBeforeSendFormat = synchronousHook(
  "stream-before-send",
  "Stream Chat before-message-send hook: one signed attempt, fails open",
  BEFORE_SEND_TIMEOUT_MS,
);
export const streamCommandsFormat = synchronousHook(
  "stream-commands",
  "Stream Chat custom command handler: one signed attempt; {type} in the URL is the command",
  COMMAND_TIMEOUT_MS,
);
