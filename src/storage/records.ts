/** The rows Herald keeps, in the shapes the engine works with (times are epoch milliseconds). */

import type { ErrorClass } from "../delivery/transport/index.js";

/** A wire format's id (`sendbird`, `sendbird-calls`, `standard`, …); each lives in `src/profiles/<vendor>/`. */
export type WireFormatId = string;
/** A vocabulary's id (`sendbird`, …): which language an endpoint's event types are in. */
export type VocabularyId = string;

export interface App {
  id: string;
  name: string;
  /** The master API token: the HMAC key of every webhook this app sends. Never logged. */
  signingKey: string;
  createdAt: number;
}

export type TokenKind = "master" | "secondary";

/** What an app token may do: publish events, read the log, manage endpoints, settings and tokens. */
export type Scope = "publish" | "read" | "manage";
export const ALL_SCOPES: readonly Scope[] = ["publish", "read", "manage"];

export interface ApiTokenRecord {
  /** SHA-256 of the token; the token itself is shown once, at creation. */
  tokenHash: string;
  appId: string;
  kind: TokenKind;
  /** Enough of the token for a person to recognise it in a list. */
  preview: string;
  scopes: Scope[];
  createdAt: number;
  /** After this the token no longer authenticates (a rotated master token's overlap); null: never. */
  expiresAt: number | null;
}

/**
 * A Stream-style API key: the key names the app in requests (`?api_key=`, `X-Api-Key`), its secret
 * signs webhooks and the JWTs that authenticate Stream's API. The newest key of an app signs.
 */
export interface ApiKey {
  apiKey: string;
  appId: string;
  /** Never logged, never returned after creation. */
  secret: string;
  createdAt: number;
}

export interface Endpoint {
  id: string;
  appId: string;
  /** The language of the event types it subscribes to. */
  vocabulary: VocabularyId;
  /** The wire format its deliveries are rendered and signed in. */
  profile: WireFormatId;
  url: string;
  description: string;
  enabled: boolean;
  /**
   * Why Herald disabled it by itself (a 410 Gone, …); null while enabled or when a person disabled it.
   * Enabling it again clears it.
   */
  disabledReason: string | null;
  /** Its retry schedule: the wire format's (`profile`) or `durable`; see `src/delivery/retry.ts`. */
  retryPolicy: RetryPolicyName;
  /** Requests per second the worker sends it at most; null or absent: no limit beyond its concurrency. */
  rateLimit?: number | null;
  /** Attempts in flight to it at once, below the process's `HERALD_ENDPOINT_CONCURRENCY`; null: that setting. */
  maxConcurrency?: number | null;
  /** Subscribed types: exact names and `prefix*` wildcards; `["*"]` is every type, including ones added later. */
  eventTypes: string[];
  /** Extra request headers; the wire format's own headers always win. */
  headers: Record<string, string>;
  /** Wire-format options, e.g. Sendbird's `include_members`. */
  options: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

/** Which schedule an endpoint's deliveries are retried on: its wire format's own, or about three days. */
export type RetryPolicyName = "profile" | "durable";
export const RETRY_POLICIES: readonly RetryPolicyName[] = ["profile", "durable"];

/** How a signing key signs: Sendbird's HMAC with the app token, Standard Webhooks' HMAC or ed25519. */
export type SigningKeyKind = "hmac" | "ed25519";

/** A key an endpoint's deliveries are signed with. Several are active at once during a rotation. */
export interface SigningKey {
  id: string;
  appId: string;
  endpointId: string;
  kind: SigningKeyKind;
  /** `whsec_…` for HMAC, `whsk_…` for ed25519. Never logged, never returned after creation. */
  secret: string;
  /** `whpk_…` for ed25519, which receivers verify with. */
  publicKey: string | null;
  createdAt: number;
  /** Signs until then (a rotated key's overlap); null: until rotated. */
  expiresAt: number | null;
}

export interface NewEvent {
  id: string;
  appId: string;
  /** The event's type in its vocabulary, e.g. `group_channel:message_send`. */
  type: string;
  /** The event as published, serialised once. */
  payload: string;
  createdAt: number;
}

export interface NewDelivery {
  id: string;
  appId: string;
  eventId: string;
  endpointId: string;
  /** The exact bytes every attempt sends and signs. */
  body: string;
  /**
   * Another delivery of the same publish whose body is these very bytes: only that one's is stored,
   * so an event fanned out to many endpoints is not stored once per endpoint.
   */
  bodyOf?: string | undefined;
  maxAttempts: number;
  createdAt: number;
}

export interface IdempotencyRecord {
  /** What the key is scoped to besides its app: the route, e.g. `POST /v1/events`. */
  scope: string;
  key: string;
  /** SHA-256 (hex) of the request the key was first used with: a different request under it is refused. */
  requestSha256: string;
  /** The response the first request got, replayed to every retry of it. */
  response: string;
  createdAt: number;
  /** A stored key older than this has expired and is replaced. */
  expiredBefore: number;
}

/** What an idempotency key remembers of its first request. */
export interface IdempotentResponse {
  response: string;
  /** Null for keys stored before requests were fingerprinted: they replay whatever the body. */
  requestSha256: string | null;
}

/** Everything one publish writes, in one transaction. */
export interface PublishBatch {
  appId: string;
  events: NewEvent[];
  deliveries: NewDelivery[];
  idempotency?: IdempotencyRecord;
}

/** A delivery leased to a worker for one attempt. */
export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  /** Its event's type: the worker checks it against the endpoint's filter as it is now. */
  type: string;
  body: string;
  /** Attempts already recorded; this one is number `attempts + 1`. */
  attempts: number;
  maxAttempts: number;
  /** When its first attempt started (null before it): a profile's time window counts from it. */
  firstAttemptAt: number | null;
}

export type DeliveryState = "pending" | "succeeded" | "failed";

/** One attempt as the delivery log shows it. */
export interface AttemptView {
  attempt: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  /** Why it was not a 2xx (timeout, refused, ssrf_blocked, redirect, status, …); null for a 2xx or an attempt logged before it was kept. */
  errorClass: ErrorClass | null;
  /** The headers it sent, signatures and credentials redacted; null for attempts logged before they were kept. */
  requestHeaders: Record<string, string> | null;
  /** The response's headers (a redirect's Location among them): empty without a response, null for attempts logged before they were kept. */
  responseHeaders: Record<string, string> | null;
  /** The start of the response body, up to the capture cap (before the capture: non-2xx answers only). */
  responseBody: string | null;
  /** The response body went on past the cap, or stopped before its end. */
  truncated: boolean;
  /** SHA-256 (hex) of the body bytes this attempt sent: what its signature covered. */
  bodySha256: string | null;
}

/** What one attempt came to, written back by the worker. */
export interface AttemptRecord extends AttemptView {
  deliveryId: string;
  /** The delivery's state after this attempt, and when it is due again if still pending. */
  state: DeliveryState;
  nextAttemptAt: number;
}

/**
 * A synchronous hook call (before-message-send, a custom command), logged after it was answered as
 * an event with one finished delivery and its one attempt.
 */
export interface SyncCallRecord {
  event: NewEvent;
  delivery: NewDelivery & { state: Exclude<DeliveryState, "pending"> };
  attempt: AttemptView;
}

export interface DeliveryView {
  id: string;
  appId: string;
  eventId: string;
  endpointId: string;
  type: string;
  state: DeliveryState;
  attempts: number;
  maxAttempts: number;
  nextAttemptAt: number | null;
  createdAt: number;
  updatedAt: number;
  /** How many times it was resent by hand (capped by `HERALD_MAX_MANUAL_RETRIES`). */
  manualRetries: number;
  /** Why it ended without another attempt (cancelled: its endpoint no longer subscribes); null otherwise. */
  endedReason: string | null;
  attemptLog: AttemptView[];
  /** The event as published, when asked for. */
  payload?: string;
}

/** Created at or after `createdAfter` and before `createdBefore` (epoch ms); either end may be open. */
export interface TimeWindow {
  createdAfter?: number;
  createdBefore?: number;
}

export interface DeliveryQuery extends TimeWindow {
  state?: DeliveryState;
  eventId?: string;
  endpointId?: string;
  /** The event type, exactly. */
  type?: string;
  /** Include each delivery's event payload. */
  withPayload?: boolean;
  /** Return deliveries created before this cursor (a delivery's `createdAt`/`id` pair, opaque to clients). */
  before?: { createdAt: number; id: string };
  limit: number;
}

/** Which deliveries `listDeliveryOutcomes` reads: the log's order and cursor, by state and age only. */
export type OutcomeQuery = Pick<DeliveryQuery, "state" | "createdAfter" | "before" | "limit">;

/** An attempt as the Overview counts it: when, how long, what came back; never bodies or headers. */
export type AttemptOutcome = Pick<AttemptView, "startedAt" | "durationMs" | "statusCode" | "error" | "errorClass">;

/** A delivery as the Overview counts it (`GET /v1/stats`): a few columns and its attempts' outcomes. */
export interface DeliveryOutcome {
  id: string;
  endpointId: string;
  state: DeliveryState;
  createdAt: number;
  /** In attempt order. */
  attempts: AttemptOutcome[];
}

/**
 * What a batch of attempts says about one endpoint's health, in order: a success ends a failure
 * streak, and what follows it starts the next one.
 */
export interface EndpointHealthChange {
  endpointId: string;
  /** An attempt succeeded: the streak starts again with what this change counts after it. */
  succeeded: boolean;
  /** The first unsuccessful attempt after the last success (or in the batch); null: none. */
  failingSince: number | null;
  /** Deliveries that ended failed after the last success (or in the batch). */
  failedDeliveries: number;
}

/** When a failing endpoint is disabled; 0 turns a limit off. */
export interface AutoDisableLimits {
  /** No attempt has succeeded for this long. */
  failingForMs: number;
  /** This many deliveries in a row ended failed. */
  failedDeliveries: number;
}

/** An endpoint Herald disabled by itself, and why. */
export interface DisabledEndpoint {
  endpointId: string;
  appId: string;
  reason: string;
}

/** Where the worker should look next: the earliest due time of each endpoint with pending deliveries. */
export interface EndpointDue {
  endpointId: string;
  dueAt: number;
}

export interface EventView {
  id: string;
  appId: string;
  type: string;
  payload: string;
  createdAt: number;
}

export interface EventQuery extends TimeWindow {
  type?: string;
  before?: { createdAt: number; id: string };
  limit: number;
}

export interface AppQuery {
  /** Apps created before this one, newest first. */
  before?: { createdAt: number; id: string };
  limit: number;
}

export type RecoveryStatus = "running" | "succeeded" | "failed";

/**
 * A background job making every failed delivery of an endpoint created in [since, until) pending
 * again: kept in the store, so it survives a restart, and leased, so one process runs it.
 */
export interface Recovery {
  id: string;
  appId: string;
  endpointId: string;
  since: number;
  until: number;
  status: RecoveryStatus;
  /** Deliveries made pending so far. */
  recovered: number;
  /** Deliveries of the window left failed: resent by hand (or recovered) `HERALD_MAX_MANUAL_RETRIES` times already. */
  skipped: number;
  /** Failed deliveries in the window when the job started; null until it has counted them. */
  total: number | null;
  /** Why it failed (its endpoint was deleted, …); null otherwise. */
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
}

/**
 * One step of a recovery: at most `limit` deliveries, each given `extraAttempts` more, due at `now`;
 * each counts as a manual resend, and one resent `maxManualRetries` times already is skipped.
 */
export interface RecoveryStep {
  limit: number;
  extraAttempts: number;
  maxManualRetries: number;
  now: number;
  /** The lease is extended to this, so the job stays with this process while it works. */
  leaseUntil: number;
}

/** What one retention batch deleted. */
export interface PruneResult {
  deliveries: number;
  attempts: number;
  events: number;
}

/** What the queue holds now, for `/metrics`: cheap to compute (see the stores), cached by the caller. */
export interface QueueStats {
  /** Pending deliveries per wire format (a bounded label: one per format). */
  pendingByProfile: { profile: WireFormatId; count: number }[];
  /** The earliest due time of any pending delivery not leased (null: none). */
  oldestDueAt: number | null;
}

/** One endpoint's queue at one sample time: how many deliveries were pending, and since when the oldest. */
export interface QueueSample {
  sampledAt: number;
  endpointId: string;
  pending: number;
  oldestCreatedAt: number;
}

/** An app's sampled queue since a time. */
export interface QueueHistory {
  /** When samples were taken (for every app at once), oldest first: an endpoint missing from one had nothing pending. */
  runs: number[];
  /** The app's endpoints that had deliveries pending at each sample time, oldest first. */
  samples: QueueSample[];
}

/** What one prune of queue samples deleted. */
export interface QueueSamplesPruned {
  runs: number;
  samples: number;
}
