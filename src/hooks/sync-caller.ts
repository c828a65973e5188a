import { createHash } from "node:crypto";
import type { EndpointDirectory } from "../apps/endpoint-directory.js";
import { newDeliveryId, newEventId } from "../core/ids.js";
import { parseStoredJson, stringifyJson } from "../core/json.js";
import type { Logger } from "../core/logger.js";
import type { Metrics } from "../core/metrics.js";
import { type OutboundTransport, redactHeaders, type TransportResult } from "../delivery/transport/index.js";
import type { WireRequest } from "../profiles/profile.js";
import { wireFormatById } from "../profiles/registry.js";
import type { App, Endpoint, SyncCallRecord } from "../storage/records.js";
import type { Store } from "../storage/store.js";
import { type BreakerOptions, Breakers } from "./breaker.js";

/** A synchronous hook's answer is its result: read this much of it. */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** What the delivery log keeps of an answer. */
const LOGGED_ANSWER_BYTES = 1024;
const FLUSH_INTERVAL_MS = 25;

export interface SyncCall {
  app: App;
  endpoint: Endpoint;
  /** The URL called: the endpoint's, with any per-call substitution (Stream's `{type}`) made. */
  url: string;
  /** The type the call is logged under, e.g. `before_message_send`. */
  type: string;
  payload: Record<string, unknown>;
  /** One attempt's budget, and the envelope around all of Herald's work for the call. */
  timeoutMs: number;
  envelopeMs: number;
  /** Skip the hook while its breaker is open (before-message-send fails open); commands always call. */
  useBreaker: boolean;
}

/** What a call came to, before the vendor's semantics judge it. */
/** Why a call was not made at all. */
type SkipReason = "circuit_open" | "no_api_key" | "invalid_request";

export interface SyncAnswer {
  /** Why there is no usable answer: the call was not made (see SkipReason), timeout, non-2xx, … */
  failure: SkipReason | "timeout" | "network" | "status" | "invalid_response" | null;
  statusCode: number | null;
  /** The parsed JSON answer of a 2xx. */
  body: unknown;
  durationMs: number;
  /** A short account for logs and results, e.g. "status 503" or "timeout after 1500 ms". */
  detail: string;
}

/**
 * Calls synchronous hooks (Stream's before-message-send and custom commands) once each, signed by
 * the endpoint's wire format, with a deadline and a circuit breaker per endpoint. Every call lands
 * in the delivery log as an event with one finished delivery, written in batches after the answer.
 */
export class SyncHookCaller {
  readonly #breakers: Breakers;
  #pending: SyncCallRecord[] = [];
  #flushTimer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly endpoints: EndpointDirectory,
    private readonly transport: OutboundTransport,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    breaker: BreakerOptions,
  ) {
    this.#breakers = new Breakers(breaker, (key, change) => {
      const endpointId = key.split(" ")[0];
      this.metrics.breakersOpen.set(this.#breakers.openCount());
      const message =
        change === "opened"
          ? "synchronous hook failing: skipped (failing open) until a probe succeeds"
          : "synchronous hook answering again: breaker closed";
      this.logger.warn({ endpointId, breaker: change }, message);
    });
  }

  async call(call: SyncCall): Promise<SyncAnswer> {
    const started = performance.now();
    const answer = await this.#attempt(call);
    const hook = call.endpoint.profile;
    this.metrics.hookCalls.inc({ hook, outcome: answer.failure ?? "answered" });
    this.metrics.hookSeconds.observe({ hook }, (performance.now() - started) / 1000);
    return answer;
  }

  async #attempt(call: SyncCall): Promise<SyncAnswer> {
    const { endpoint, app } = call;
    const skipped = (failure: SkipReason, detail: string): SyncAnswer => ({
      failure,
      statusCode: null,
      body: undefined,
      durationMs: 0,
      detail,
    });
    // Checked before the breaker: a call that cannot be made is not a probe of the hook.
    const apiKeys = await this.endpoints.apiKeys(app.id);
    if (apiKeys.length === 0) return skipped("no_api_key", "the app has no API key to sign with");
    const wire = wireFormatById(endpoint.profile);
    const now = Date.now();
    const event = { id: newEventId(), type: call.type, createdAt: now, payload: call.payload };
    const webhookId = newDeliveryId();
    let body: string;
    let request: WireRequest;
    try {
      body = wire.render(event, endpoint, app);
      const keys = { appToken: "", endpointKeys: [], apiKeys };
      request = wire.request(body, { webhookId, attempt: 1, now }, keys, endpoint);
    } catch (error) {
      return skipped("invalid_request", `the request could not be written: ${(error as Error).message}`);
    }
    // One breaker per hook URL: pointing the hook somewhere else starts it afresh.
    const breakerKey = `${endpoint.id} ${endpoint.url}`;
    if (call.useBreaker && !this.#breakers.allows(breakerKey)) return skipped("circuit_open", "circuit breaker open");
    const headers = { ...endpoint.headers, ...request.headers };
    const sent = await this.#send(call, request.body, headers);
    const answer = judge(sent);
    if (call.useBreaker) {
      if (answer.failure === null) this.#breakers.succeeded(breakerKey);
      else this.#breakers.failed(breakerKey);
    }
    this.#log({
      event: { id: event.id, appId: app.id, type: call.type, payload: stringifyJson(call.payload), createdAt: now },
      delivery: {
        id: webhookId,
        appId: app.id,
        eventId: event.id,
        endpointId: endpoint.id,
        body,
        maxAttempts: 1,
        createdAt: now,
        state: answer.failure === null ? "succeeded" : "failed",
      },
      attempt: {
        attempt: 1,
        startedAt: now,
        durationMs: sent.durationMs,
        statusCode: sent.statusCode,
        error: answer.failure === null ? null : answer.detail,
        responseBody: sent.responseBody?.slice(0, LOGGED_ANSWER_BYTES) ?? null,
        truncated: sent.truncated || (sent.responseBody?.length ?? 0) > LOGGED_ANSWER_BYTES,
        errorClass: sent.errorClass,
        requestHeaders: redactHeaders(headers),
        responseHeaders: sent.responseHeaders,
        bodySha256: createHash("sha256").update(request.body).digest("hex"),
      },
    });
    return answer;
  }

  /** One POST within the attempt's deadline, and within the envelope whatever the attempt does. */
  async #send(call: SyncCall, body: string | Buffer, headers: Record<string, string>): Promise<TransportResult> {
    let timer: NodeJS.Timeout | undefined;
    const envelope = new Promise<TransportResult>((resolve) => {
      const timedOut: TransportResult = {
        statusCode: null,
        responseHeaders: {},
        responseBody: null,
        truncated: false,
        durationMs: call.envelopeMs,
        errorClass: "timeout",
        error: `timeout after ${call.envelopeMs} ms`,
      };
      timer = setTimeout(() => resolve(timedOut), call.envelopeMs);
    });
    const options = { timeoutMs: call.timeoutMs, maxResponseBytes: MAX_ANSWER_BYTES };
    try {
      return await Promise.race([this.transport.post(call.url, body, headers, options), envelope]);
    } finally {
      clearTimeout(timer);
    }
  }

  #log(record: SyncCallRecord): void {
    this.#pending.push(record);
    this.#flushTimer ??= setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
  }

  /** Writes the logged calls; a failed write is reported and dropped (the calls were answered already). */
  flush(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    this.#flushing = this.#flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.store.logSyncCalls(batch);
      } catch (error) {
        this.logger.error({ err: error, calls: batch.length }, "logging synchronous hook calls failed");
      }
    });
    return this.#flushing;
  }
}

function judge(sent: TransportResult): SyncAnswer {
  const base = { statusCode: sent.statusCode, durationMs: sent.durationMs, body: undefined };
  if (sent.statusCode === null) {
    const failure = sent.errorClass === "timeout" ? "timeout" : "network";
    return { ...base, failure, detail: sent.error ?? failure };
  }
  if (sent.statusCode < 200 || sent.statusCode >= 300) {
    return { ...base, failure: "status", detail: `status ${sent.statusCode}` };
  }
  // An answer cut off (past the cap, or stalled past the deadline) is not the hook's whole answer.
  if (sent.truncated) return { ...base, failure: "invalid_response", detail: "the answer was cut off" };
  try {
    // Parsed as Herald parses what it stores, so large numbers in the hook's answer keep their digits.
    const body = parseStoredJson(sent.responseBody || "{}");
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return { ...base, failure: "invalid_response", detail: "the answer is not a JSON object" };
    }
    return { ...base, failure: null, body, detail: `status ${sent.statusCode}` };
  } catch {
    return { ...base, failure: "invalid_response", detail: "the answer is not JSON" };
  }
}
