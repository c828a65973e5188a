import type { FastifyReply } from "fastify";
import { parseStoredJson, stringifyJson } from "../core/json.js";
import type { DeliveryView, Endpoint, EventView, Recovery, SigningKey } from "../storage/records.js";
import { iso, isoTime } from "./pagination.js";

/** How the native API shows what Herald keeps: snake_case, RFC 3339 times, never a secret. */

export const endpointJson = (
  endpoint: Endpoint,
  keys: readonly SigningKey[],
  breaker: "closed" | "open" | "half_open" = "closed",
) => ({
  id: endpoint.id,
  url: endpoint.url,
  description: endpoint.description,
  profile: endpoint.profile,
  vocabulary: endpoint.vocabulary,
  filter: endpoint.eventTypes,
  enabled: endpoint.enabled,
  disabled_reason: endpoint.disabledReason,
  headers: endpoint.headers,
  options: endpoint.options,
  retry_policy: endpoint.retryPolicy,
  rate_limit: endpoint.rateLimit ?? null,
  max_concurrency: endpoint.maxConcurrency ?? null,
  breaker,
  signing_keys: keys.map((key) => ({
    id: key.id,
    type: key.kind,
    public_key: key.publicKey,
    created_at: isoTime(key.createdAt),
    expires_at: iso(key.expiresAt),
  })),
  created_at: isoTime(endpoint.createdAt),
  updated_at: isoTime(endpoint.updatedAt),
});

export const eventJson = (event: EventView) => ({
  id: event.id,
  type: event.type,
  created_at: isoTime(event.createdAt),
  payload: parseStoredJson(event.payload),
});

/** The delivery log as the API shows it: every attempt with what it sent and what came back. */
export const deliveryJson = (delivery: DeliveryView) => ({
  id: delivery.id,
  event_id: delivery.eventId,
  endpoint_id: delivery.endpointId,
  type: delivery.type,
  category: delivery.type,
  status: delivery.state,
  attempts: delivery.attempts,
  max_attempts: delivery.maxAttempts,
  next_attempt_at: iso(delivery.nextAttemptAt),
  created_at: isoTime(delivery.createdAt),
  updated_at: isoTime(delivery.updatedAt),
  manual_retries: delivery.manualRetries,
  ended_reason: delivery.endedReason,
  attempt_log: delivery.attemptLog.map((attempt) => ({
    attempt: attempt.attempt,
    started_at: isoTime(attempt.startedAt),
    duration_ms: attempt.durationMs,
    status_code: attempt.statusCode,
    error: attempt.error,
    error_class: attempt.errorClass,
    request_headers: attempt.requestHeaders,
    response_headers: attempt.responseHeaders,
    response_body: attempt.responseBody,
    response_truncated: attempt.truncated,
    body_sha256: attempt.bodySha256,
  })),
  ...(delivery.payload === undefined ? {} : { payload: parseStoredJson(delivery.payload) }),
});

/** What a master-token rotation answers, through the admin's route or the app's own. */
export const rotatedTokenJson = (appId: string, rotated: { apiToken: string; previousExpiresAt: number }) => ({
  app_id: appId,
  api_token: rotated.apiToken,
  previous_token_expires_at: isoTime(rotated.previousExpiresAt),
});

/** `overlap_seconds` from a body, in milliseconds (undefined: the configured default). */
export const overlapMs = (body: { overlap_seconds?: number }): number | undefined =>
  body.overlap_seconds === undefined ? undefined : body.overlap_seconds * 1000;

/**
 * Sends a view that holds event payloads with their numbers as published: the response schema's
 * serialiser would round them, so Herald's own writes the JSON.
 */
export const sendWithPayloads = (reply: FastifyReply, view: unknown) =>
  reply.type("application/json; charset=utf-8").serializer(stringifyJson).send(view);

/** A recovery job and how far it has got. */
export const recoveryJson = (recovery: Recovery) => ({
  id: recovery.id,
  endpoint_id: recovery.endpointId,
  since: isoTime(recovery.since),
  until: isoTime(recovery.until),
  status: recovery.status,
  recovered: recovery.recovered,
  skipped: recovery.skipped,
  total: recovery.total,
  error: recovery.error,
  created_at: isoTime(recovery.createdAt),
  finished_at: iso(recovery.finishedAt),
});
