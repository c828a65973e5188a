/** The rows Herald keeps, in the shapes the engine works with (times are epoch milliseconds). */

/** Which wire profile an endpoint speaks; each lives in `src/profiles/<name>/`. */
export type ProfileId = "sendbird-chat" | "sendbird-calls";

export interface App {
  id: string;
  name: string;
  /** The master API token: the HMAC key of every webhook this app sends. Never logged. */
  signingKey: string;
  createdAt: number;
}

export type TokenKind = "master" | "secondary";

export interface ApiTokenRecord {
  /** SHA-256 of the token; the token itself is shown once, at creation. */
  tokenHash: string;
  appId: string;
  kind: TokenKind;
  /** Enough of the token for a person to recognise it in a list. */
  preview: string;
  createdAt: number;
}

export interface Endpoint {
  id: string;
  appId: string;
  profile: ProfileId;
  url: string;
  enabled: boolean;
  /** Subscribed categories; `["*"]` is every category, including ones added later. */
  eventTypes: string[];
  /** Profile-specific options, e.g. Sendbird's `include_members`. */
  options: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export interface NewEvent {
  id: string;
  appId: string;
  category: string;
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
  maxAttempts: number;
  createdAt: number;
}

export interface IdempotencyRecord {
  key: string;
  /** The response the first request got, replayed to every retry of it. */
  response: string;
  createdAt: number;
  /** A stored key older than this has expired and is replaced. */
  expiredBefore: number;
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
  body: string;
  /** Attempts already recorded; this one is number `attempts + 1`. */
  attempts: number;
  maxAttempts: number;
}

export type DeliveryState = "pending" | "succeeded" | "failed";

/** One attempt as the delivery log shows it. */
export interface AttemptView {
  attempt: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  /** The start of the response body, for non-2xx answers. */
  responseBody: string | null;
}

/** What one attempt came to, written back by the worker. */
export interface AttemptRecord extends AttemptView {
  deliveryId: string;
  /** The delivery's state after this attempt, and when it is due again if still pending. */
  state: DeliveryState;
  nextAttemptAt: number;
}

export interface DeliveryView {
  id: string;
  appId: string;
  eventId: string;
  endpointId: string;
  category: string;
  state: DeliveryState;
  attempts: number;
  maxAttempts: number;
  nextAttemptAt: number | null;
  createdAt: number;
  updatedAt: number;
  attemptLog: AttemptView[];
}

export interface DeliveryQuery {
  state?: DeliveryState;
  /** Return deliveries created before this cursor (a delivery's `createdAt`/`id` pair, opaque to clients). */
  before?: { createdAt: number; id: string };
  limit: number;
}

/** Where the worker should look next: the earliest due time of each endpoint with pending deliveries. */
export interface EndpointDue {
  endpointId: string;
  dueAt: number;
}
