import type { ErrorClass } from "../delivery/transport/index.js";
import type {
  ApiKey,
  ApiTokenRecord,
  App,
  AttemptView,
  AutoDisableLimits,
  DeliveryOutcome,
  DeliveryState,
  DeliveryView,
  Endpoint,
  EventView,
  Recovery,
  RecoveryStatus,
  Scope,
  SigningKey,
  SigningKeyKind,
  TokenKind,
} from "./records.js";

/** Rows as both stores' SQL returns them (snake_case columns; epoch-millisecond times). */
export interface AppRow {
  id: string;
  name: string;
  signing_key: string;
  created_at: number;
}
export interface ApiKeyRow {
  api_key: string;
  app_id: string;
  secret: string;
  created_at: number;
}
export interface TokenRow {
  token_hash: string;
  app_id: string;
  kind: TokenKind;
  preview: string;
  /** JSON text on SQLite, parsed JSONB on PostgreSQL. */
  scopes: string | Scope[];
  created_at: number;
  expires_at: number | null;
}
export interface EndpointRow {
  id: string;
  app_id: string;
  vocabulary: string;
  profile: string;
  url: string;
  description: string;
  /** SQLite has no boolean type and returns 0 or 1. */
  enabled: boolean | number;
  disabled_reason: string | null;
  retry_policy: string;
  rate_limit: number | null;
  max_concurrency: number | null;
  event_types: string;
  headers: string | Record<string, string>;
  options: string;
  created_at: number;
  updated_at: number;
}
export interface SigningKeyRow {
  id: string;
  app_id: string;
  endpoint_id: string;
  kind: SigningKeyKind;
  secret: string;
  public_key: string | null;
  created_at: number;
  expires_at: number | null;
}
export interface EventRow {
  id: string;
  app_id: string;
  type: string;
  payload: string;
  created_at: number;
}
export interface DeliveryRow {
  id: string;
  app_id: string;
  event_id: string;
  endpoint_id: string;
  type: string;
  state: DeliveryState;
  attempts: number;
  max_attempts: number;
  next_attempt_at: number;
  created_at: number;
  updated_at: number;
  manual_retries: number;
  ended_reason: string | null;
  payload?: string;
}
export interface RecoveryRow {
  id: string;
  app_id: string;
  endpoint_id: string;
  since: number;
  until: number;
  status: RecoveryStatus;
  recovered: number;
  skipped: number;
  total: number | null;
  error: string | null;
  created_at: number;
  finished_at: number | null;
}
export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_body: string | null;
  body_sha256: string | null;
  error_class: string | null;
  /** JSON text on SQLite, parsed JSONB on PostgreSQL. */
  request_headers: string | Record<string, string> | null;
  response_headers: string | Record<string, string> | null;
  /** SQLite has no boolean type and returns 0 or 1. */
  response_truncated: boolean | number;
}

/** A JSON column: text on SQLite, already parsed on PostgreSQL (JSONB). */
const json = <T>(value: string | T): T => (typeof value === "string" ? (JSON.parse(value) as T) : value);

export const toApp = (row: AppRow): App => ({
  id: row.id,
  name: row.name,
  signingKey: row.signing_key,
  createdAt: row.created_at,
});

export const toApiKey = (row: ApiKeyRow): ApiKey => ({
  apiKey: row.api_key,
  appId: row.app_id,
  secret: row.secret,
  createdAt: row.created_at,
});

export const toToken = (row: TokenRow): ApiTokenRecord => ({
  tokenHash: row.token_hash,
  appId: row.app_id,
  kind: row.kind,
  preview: row.preview,
  scopes: json(row.scopes),
  createdAt: row.created_at,
  expiresAt: row.expires_at,
});

/** A duration for people: `5 d`, `2.5 h`, `90 s`. */
const duration = (ms: number): string => {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["min", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms >= size) return `${Math.round((ms / size) * 10) / 10} ${unit}`;
  }
  return `${ms} ms`;
};

/** Why an enabled endpoint with this failure streak is disabled now, or undefined if it is not. */
export function autoDisableReason(
  streak: { failingSince: number | null; failedDeliveries: number },
  now: number,
  limits: AutoDisableLimits,
): string | undefined {
  if (limits.failedDeliveries > 0 && streak.failedDeliveries >= limits.failedDeliveries) {
    return `${streak.failedDeliveries} deliveries in a row failed (HERALD_AUTO_DISABLE_FAILURES is ${limits.failedDeliveries})`;
  }
  if (limits.failingForMs > 0 && streak.failingSince !== null && now - streak.failingSince >= limits.failingForMs) {
    return `no attempt succeeded for ${duration(now - streak.failingSince)}, since ${new Date(streak.failingSince).toISOString()} (HERALD_AUTO_DISABLE_AFTER_MS is ${duration(limits.failingForMs)})`;
  }
  return undefined;
}

export const toEndpoint = (row: EndpointRow): Endpoint => ({
  id: row.id,
  appId: row.app_id,
  vocabulary: row.vocabulary,
  profile: row.profile,
  url: row.url,
  description: row.description,
  enabled: row.enabled === true || row.enabled === 1,
  disabledReason: row.disabled_reason ?? null,
  retryPolicy: row.retry_policy === "durable" ? "durable" : "profile",
  rateLimit: row.rate_limit ?? null,
  maxConcurrency: row.max_concurrency ?? null,
  eventTypes: JSON.parse(row.event_types) as string[],
  headers: json(row.headers),
  options: JSON.parse(row.options) as Record<string, unknown>,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const toSigningKey = (row: SigningKeyRow): SigningKey => ({
  id: row.id,
  appId: row.app_id,
  endpointId: row.endpoint_id,
  kind: row.kind,
  secret: row.secret,
  publicKey: row.public_key,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
});

export const toEvent = (row: EventRow): EventView => ({
  id: row.id,
  appId: row.app_id,
  type: row.type,
  payload: row.payload,
  createdAt: row.created_at,
});

export const toAttempt = (row: AttemptRow): AttemptView => ({
  attempt: row.attempt,
  startedAt: row.started_at,
  durationMs: row.duration_ms,
  statusCode: row.status_code,
  error: row.error,
  errorClass: row.error_class as ErrorClass | null,
  requestHeaders: row.request_headers === null ? null : json(row.request_headers),
  responseHeaders: row.response_headers === null ? null : json(row.response_headers),
  responseBody: row.response_body,
  truncated: row.response_truncated === true || row.response_truncated === 1,
  bodySha256: row.body_sha256,
});

export const toDeliveryView = (row: DeliveryRow, attemptLog: AttemptView[]): DeliveryView => ({
  id: row.id,
  appId: row.app_id,
  eventId: row.event_id,
  endpointId: row.endpoint_id,
  type: row.type,
  state: row.state,
  attempts: row.attempts,
  maxAttempts: row.max_attempts,
  nextAttemptAt: row.state === "pending" ? row.next_attempt_at : null,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  manualRetries: row.manual_retries,
  endedReason: row.ended_reason,
  attemptLog,
  ...(row.payload === undefined ? {} : { payload: row.payload }),
});

export const toRecovery = (row: RecoveryRow): Recovery => ({
  id: row.id,
  appId: row.app_id,
  endpointId: row.endpoint_id,
  since: row.since,
  until: row.until,
  status: row.status,
  recovered: row.recovered,
  skipped: row.skipped,
  total: row.total,
  error: row.error,
  createdAt: row.created_at,
  finishedAt: row.finished_at,
});

/** The attempt columns an outcome needs (see `ATTEMPT_OUTCOME_COLUMNS`). */
export type AttemptOutcomeRow = Pick<
  AttemptRow,
  "delivery_id" | "started_at" | "duration_ms" | "status_code" | "error" | "error_class"
>;

/** Only what `GET /v1/stats` reads of an attempt: a captured body or headers can be tens of kilobytes. */
export const ATTEMPT_OUTCOME_COLUMNS = "delivery_id, started_at, duration_ms, status_code, error, error_class";

export const toDeliveryOutcome = (row: DeliveryRow, attempts: readonly AttemptOutcomeRow[]): DeliveryOutcome => ({
  id: row.id,
  endpointId: row.endpoint_id,
  state: row.state,
  createdAt: row.created_at,
  attempts: attempts.map((attempt) => ({
    startedAt: attempt.started_at,
    durationMs: attempt.duration_ms,
    statusCode: attempt.status_code,
    error: attempt.error,
    errorClass: attempt.error_class as ErrorClass | null,
  })),
});

/**
 * The SET of a delivery an attempt ended, in SQL both stores run: `row` qualifies the delivery's
 * columns, `state` and `nextAttemptAt` are the outcome. A pending delivery takes the outcome. One
 * ended while the attempt was in flight (its endpoint deleted) keeps its end unless the attempt
 * succeeded: the receiver did get it. A failed or retrying attempt never brings it back to pending.
 */
export const attemptOutcomeSet = (row: string, state: string, nextAttemptAt: string): string => `
  state = CASE WHEN ${row}state = 'pending' OR ${state} = 'succeeded' THEN ${state} ELSE ${row}state END,
  ended_reason = CASE WHEN ${state} = 'succeeded' THEN NULL ELSE ${row}ended_reason END,
  next_attempt_at = CASE WHEN ${row}state = 'pending' THEN ${nextAttemptAt} ELSE ${row}next_attempt_at END`;
