import type {
  ApiTokenRecord,
  App,
  AttemptView,
  DeliveryState,
  DeliveryView,
  Endpoint,
  ProfileId,
  TokenKind,
} from "./records.js";

/** Rows as both stores' SQL returns them (snake_case columns; epoch-millisecond times). */
export interface AppRow {
  id: string;
  name: string;
  signing_key: string;
  created_at: number;
}
export interface TokenRow {
  token_hash: string;
  app_id: string;
  kind: TokenKind;
  preview: string;
  created_at: number;
}
export interface EndpointRow {
  id: string;
  app_id: string;
  profile: ProfileId;
  url: string;
  /** SQLite has no boolean type and returns 0 or 1. */
  enabled: boolean | number;
  event_types: string;
  options: string;
  created_at: number;
  updated_at: number;
}
export interface DeliveryRow {
  id: string;
  app_id: string;
  event_id: string;
  endpoint_id: string;
  category: string;
  state: DeliveryState;
  attempts: number;
  max_attempts: number;
  next_attempt_at: number;
  created_at: number;
  updated_at: number;
}
export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_body: string | null;
}

/** The delivery columns a listing selects, joined with the event for its category. */
export const DELIVERY_COLUMNS = `d.id, d.app_id, d.event_id, d.endpoint_id, e.category, d.state, d.attempts,
  d.max_attempts, d.next_attempt_at, d.created_at, d.updated_at`;

export const toApp = (row: AppRow): App => ({
  id: row.id,
  name: row.name,
  signingKey: row.signing_key,
  createdAt: row.created_at,
});

export const toToken = (row: TokenRow): ApiTokenRecord => ({
  tokenHash: row.token_hash,
  appId: row.app_id,
  kind: row.kind,
  preview: row.preview,
  createdAt: row.created_at,
});

export const toEndpoint = (row: EndpointRow): Endpoint => ({
  id: row.id,
  appId: row.app_id,
  profile: row.profile,
  url: row.url,
  enabled: row.enabled === true || row.enabled === 1,
  eventTypes: JSON.parse(row.event_types) as string[],
  options: JSON.parse(row.options) as Record<string, unknown>,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const toAttempt = (row: AttemptRow): AttemptView => ({
  attempt: row.attempt,
  startedAt: row.started_at,
  durationMs: row.duration_ms,
  statusCode: row.status_code,
  error: row.error,
  responseBody: row.response_body,
});

export const toDeliveryView = (row: DeliveryRow, attemptLog: AttemptView[]): DeliveryView => ({
  id: row.id,
  appId: row.app_id,
  eventId: row.event_id,
  endpointId: row.endpoint_id,
  category: row.category,
  state: row.state,
  attempts: row.attempts,
  maxAttempts: row.max_attempts,
  nextAttemptAt: row.state === "pending" ? row.next_attempt_at : null,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  attemptLog,
});
