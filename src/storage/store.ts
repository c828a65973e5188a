import { HeraldError } from "../core/errors.js";
import type {
  ApiKey,
  ApiTokenRecord,
  App,
  AppQuery,
  AttemptRecord,
  AutoDisableLimits,
  ClaimedDelivery,
  DeliveryOutcome,
  DeliveryQuery,
  DeliveryView,
  DisabledEndpoint,
  Endpoint,
  EndpointDue,
  EndpointHealthChange,
  EventQuery,
  EventView,
  IdempotentResponse,
  OutcomeQuery,
  PruneResult,
  PublishBatch,
  QueueHistory,
  QueueSamplesPruned,
  QueueStats,
  Recovery,
  RecoveryStep,
  SigningKey,
  SyncCallRecord,
} from "./records.js";

/** Why a delivery ended without being sent: its endpoint was deleted. */
export const ENDPOINT_DELETED = "endpoint deleted";
/** Why a recovery stopped: its endpoint was deleted. */
export const RECOVERY_ENDPOINT_DELETED = "The endpoint has been deleted.";
/** How long a write waits for a lock held elsewhere before failing (the API then answers 503). */
export const LOCK_TIMEOUT_MS = 5000;

/**
 * The refusals below: what a write of Herald's own (an operational event) meets when its app went
 * away meanwhile, an expected outcome and not a fault.
 */
export class AppGoneError extends HeraldError {}

/**
 * A publish whose app was deleted before it could commit: refused, so that nothing is stored for an
 * app that no longer exists (its deliveries would name deleted endpoints, its events no one's).
 */
export const appDeleted = (): AppGoneError =>
  new AppGoneError("not_found", "The app was deleted while this request ran; nothing was stored.");

/** A publish that arrives while its app is being deleted: refused at once rather than queued behind the delete. */
export const appBeingDeleted = (): AppGoneError =>
  new AppGoneError("unavailable", "The app is being deleted; nothing was stored. Try again shortly.");

/**
 * Everything Herald keeps, behind one interface that SQLite (embedded) and PostgreSQL (many
 * processes) both implement. Methods are named for what the engine needs; every one is async and
 * none assumes the store lives in this process.
 */
export interface Store {
  /**
   * Brings the schema to the current version; safe when several processes start at once. Resolves
   * with how many steps this call applied (0: it was up to date).
   */
  migrate(): Promise<number>;
  /**
   * Runs `work` while no other `exclusively` of the same key runs, for a read-then-write over several
   * rows (Stream's hooks of an app) that must not interleave with another. PostgreSQL: in any process
   * on the database; SQLite: in this store (one process serves a SQLite file's API).
   */
  exclusively<T>(key: string, work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** Resolves when the database answers a trivial query; rejects when it cannot be reached. */
  ping(): Promise<void>;

  createApp(app: App, masterToken: ApiTokenRecord): Promise<void>;
  getApp(appId: string): Promise<App | undefined>;
  /** Apps newest first, before the cursor. */
  listApps(query: AppQuery): Promise<App[]>;
  /** Deletes an app with everything it owns: tokens, endpoints, keys, events, deliveries, attempts. */
  deleteApp(appId: string): Promise<boolean>;
  /**
   * Makes a new master token the app's signing key at once; the current master tokens keep
   * authenticating until `previousExpiresAt`. False if there is no such app.
   */
  rotateMasterToken(
    appId: string,
    next: ApiTokenRecord,
    signingKey: string,
    previousExpiresAt: number,
  ): Promise<boolean>;
  /**
   * Keeps a new token; with `limit`, only while the app has fewer tokens of its kind (false, nothing
   * written, otherwise), counted and inserted while no other limited insert of the app runs.
   */
  addApiToken(token: ApiTokenRecord, limit?: number): Promise<boolean>;
  /** The unexpired token with this hash, and its app. */
  findToken(tokenHash: string, now: number): Promise<{ app: App; token: ApiTokenRecord } | undefined>;
  /** An app's unexpired tokens, oldest first. */
  listApiTokens(appId: string, now: number): Promise<ApiTokenRecord[]>;
  /** Revokes a secondary token; a master token is only ever replaced by rotation. */
  deleteApiToken(appId: string, tokenHash: string): Promise<boolean>;

  /**
   * Keeps a new API key, made newer than the app's newest (`createdAt` moved past it if need be, so
   * the newest signs even for two keys of one millisecond), and returns it as kept; with `limit`,
   * only while the app has fewer keys (undefined, nothing written, otherwise). One at a time per app.
   */
  addApiKey(key: ApiKey, limit?: number): Promise<ApiKey | undefined>;
  /** An app's API keys, newest first: the first signs. */
  listApiKeys(appId: string): Promise<ApiKey[]>;
  /** The key with this name, and its app. */
  findApiKey(apiKey: string): Promise<{ app: App; key: ApiKey } | undefined>;
  deleteApiKey(appId: string, apiKey: string): Promise<boolean>;

  /** Settings a vendor's API keeps per app beyond its endpoints (Stream: payload compression). */
  getAppSettings(appId: string, namespace: string): Promise<Record<string, unknown> | undefined>;
  saveAppSettings(appId: string, namespace: string, settings: Record<string, unknown>, now: number): Promise<void>;

  listEndpoints(appId: string): Promise<Endpoint[]>;
  getEndpoint(endpointId: string): Promise<Endpoint | undefined>;
  /** Inserts or updates an endpoint (never moving it to another app). */
  saveEndpoint(endpoint: Endpoint): Promise<void>;
  /**
   * Reads an endpoint and saves what `change` makes of it (as `saveEndpoint`), in one transaction
   * holding its row: concurrent changes apply one after the other, none lost, and none brings back
   * an endpoint deleted meanwhile. `change` gets undefined when there is none, returns undefined to
   * write nothing, and may throw (nothing written). Returns the endpoint before and after.
   */
  changeEndpoint(
    endpointId: string,
    change: (current: Endpoint | undefined) => Endpoint | undefined,
  ): Promise<{ before: Endpoint | undefined; after: Endpoint | undefined }>;
  /**
   * Inserts a new endpoint with its first signing keys in one transaction: no reader ever sees it
   * without them. Writes nothing when either insert fails (an id that exists already, say).
   */
  createEndpoint(endpoint: Endpoint, keys: SigningKey[]): Promise<void>;
  /**
   * Disables an endpoint on Herald's own account (a 410 Gone, …), saying why; its pending deliveries
   * are held, as for any disabled endpoint. False if it was already disabled, or does not exist.
   */
  disableEndpoint(endpointId: string, reason: string, now: number): Promise<boolean>;
  /**
   * Applies what a batch of attempts says about endpoints' failure streaks, and disables, with a
   * reason, each enabled one whose streak passes a limit. Re-enabling an endpoint (`saveEndpoint`
   * with `enabled` after it was off) starts its streak afresh.
   */
  recordEndpointHealth(
    changes: EndpointHealthChange[],
    now: number,
    limits: AutoDisableLimits,
  ): Promise<DisabledEndpoint[]>;
  /**
   * Deletes an endpoint of an app with its signing keys; its pending deliveries end as failed, and
   * the log keeps them. False if the app has no such endpoint.
   */
  deleteEndpoint(appId: string, endpointId: string, now: number): Promise<boolean>;
  /** Extends the lease of listen endpoints whose sessions this process holds (ids not found are skipped). */
  renewListenLeases(endpointIds: readonly string[], until: number): Promise<void>;
  /**
   * Listen endpoints (`listen://` URLs) whose lease ran out before `now`: no process holds their
   * session any more (it died). One never renewed counts from its last update plus `leaseMs`. At most `limit`.
   */
  expiredListenEndpoints(
    now: number,
    leaseMs: number,
    limit: number,
  ): Promise<{ appId: string; id: string; url: string }[]>;

  /**
   * Adds signing keys for an endpoint. With `retireAt`, the endpoint's keys that were active until
   * now stop signing at that time (a rotation's overlap), in the same transaction.
   */
  addSigningKeys(endpointId: string, keys: SigningKey[], retireAt?: number): Promise<void>;
  /** An endpoint's keys that still sign at `now`, newest first. */
  listSigningKeys(endpointId: string, now: number): Promise<SigningKey[]>;

  /**
   * Writes events, their deliveries and the idempotency record in one transaction. Returns false,
   * writing nothing, when an unexpired record with the same idempotency key already exists; resolves
   * once the transaction is durable. `onCommitted` runs as soon as the rows can be claimed, which on
   * SQLite is before the flush to disk that the promise waits for: delivery need not wait for it.
   * Rejects with {@link appDeleted}, writing nothing, when the app is gone by the time it commits, or
   * (PostgreSQL) with {@link appBeingDeleted} while a `deleteApp` of it runs; a `deleteApp` that
   * starts while it runs waits for it and deletes what it wrote.
   */
  publish(batch: PublishBatch, onCommitted?: () => void): Promise<boolean>;
  /** The stored response of an earlier request with this key in this scope, if it is newer than `since`. */
  findIdempotentResponse(
    appId: string,
    scope: string,
    key: string,
    since: number,
  ): Promise<IdempotentResponse | undefined>;

  /**
   * Leases up to `limit` deliveries of one endpoint that are due at `now`, until `leaseUntil`:
   * a worker that dies holding them loses them when the lease ends, and the same ids are sent again.
   */
  claimDue(endpointId: string, limit: number, now: number, leaseUntil: number): Promise<ClaimedDelivery[]>;
  /** Hands back leased deliveries that were never attempted, so they are due at `now`. */
  releaseLeases(deliveryIds: string[], now: number): Promise<void>;
  /** The earliest pending due time per endpoint. */
  endpointsWithPending(): Promise<EndpointDue[]>;
  /**
   * Ends pending deliveries as failed without an attempt, keeping why (their endpoint no longer
   * subscribes to their type, say). Deliveries no longer pending are left as they are.
   */
  cancelDeliveries(deliveryIds: string[], reason: string, now: number): Promise<void>;
  /**
   * Ends as failed (with `reason`) the pending deliveries of an endpoint that no longer exists:
   * a publish, resend or recovery that raced its deletion. Nothing, should the endpoint exist.
   */
  endOrphanedDeliveries(endpointId: string, reason: string, now: number): Promise<number>;
  /** Pending deliveries per wire format and the oldest due time, for `/metrics`. */
  queueStats(): Promise<QueueStats>;
  /**
   * Samples the queue at `at` (a time rounded to the sample period), in one transaction: records the
   * run, and per endpoint with pending deliveries their count and the oldest one's creation time. False,
   * writing nothing, when a run at `at` exists already (another process on the database took it).
   */
  sampleQueue(at: number): Promise<boolean>;
  /** The sample times since `since` (inclusive), and the app's samples among them; never another app's. */
  queueHistory(appId: string, since: number): Promise<QueueHistory>;
  /** Deletes up to `limit` sample runs and up to `limit` samples taken before `before`, oldest first. */
  pruneQueueSamples(before: number, limit: number): Promise<QueueSamplesPruned>;
  /** Writes attempt outcomes and the delivery states they lead to, in one transaction. */
  recordAttempts(attempts: AttemptRecord[]): Promise<void>;
  /**
   * Logs answered synchronous hook calls: each an event, a finished delivery and its attempt. A call
   * whose app is gone by then is left out.
   */
  logSyncCalls(calls: SyncCallRecord[]): Promise<void>;

  /** An app's events, newest first. */
  listEvents(appId: string, query: EventQuery): Promise<EventView[]>;
  getEvent(appId: string, eventId: string): Promise<EventView | undefined>;

  /**
   * An app's deliveries, newest first, by any combination of the query's filters; every combination
   * is read off an index in order (see `log-query.ts`), so a page costs the same for 300,000 as for 30.
   */
  listDeliveries(appId: string, query: DeliveryQuery): Promise<DeliveryView[]>;
  getDelivery(appId: string, deliveryId: string): Promise<DeliveryView | undefined>;
  /**
   * The same listing as `listDeliveries` (newest first, at most `limit`, before the cursor), with only
   * what the Overview's numbers need: no payload, body, or attempt's captured body and headers.
   */
  listDeliveryOutcomes(appId: string, query: OutcomeQuery): Promise<DeliveryOutcome[]>;
  /**
   * Makes a finished delivery due now with a fresh attempt budget, counting one more manual resend.
   * Undefined, and nothing changed, unless it was: no such delivery of the app, still pending,
   * resent by hand `maxManualRetries` times already, or its endpoint deleted (checked in the same
   * transaction, so a concurrent delete either comes first or ends the resent delivery).
   */
  retryDelivery(
    appId: string,
    deliveryId: string,
    extraAttempts: number,
    now: number,
    maxManualRetries: number,
  ): Promise<DeliveryView | undefined>;
  /**
   * Keeps a new recovery job (status running, nothing recovered yet), unless a recovery of the same
   * endpoint is still running, started by any process: the database keeps at most one. Returns the
   * endpoint's running recovery: the new one, or the one that was there first (nothing written then).
   */
  createRecovery(recovery: Recovery): Promise<Recovery>;
  getRecovery(appId: string, recoveryId: string): Promise<Recovery | undefined>;
  /**
   * Takes the oldest running recovery whose lease has run out (never started, or its process died),
   * leasing it until `leaseUntil`; on PostgreSQL, two processes never take the same one.
   */
  leaseRecovery(now: number, leaseUntil: number): Promise<Recovery | undefined>;
  /**
   * One batch of a recovery, in one transaction: counts the window's failed deliveries the first time,
   * makes the next `step.limit` of them (oldest first, after where the last batch stopped) pending and
   * due, each counting one more manual resend, skips (and counts) those resent `step.maxManualRetries`
   * times already, and records the progress; the job has succeeded when a batch comes up short. Each
   * delivery of the window is recovered at most once by the job, however often it fails again meanwhile.
   */
  stepRecovery(recoveryId: string, step: RecoveryStep): Promise<Recovery | undefined>;
  /** Ends a running recovery as failed, saying why. */
  failRecovery(recoveryId: string, error: string, now: number): Promise<void>;
  /**
   * One retention batch for an app, in one transaction: up to `limit` finished deliveries created
   * before `before` with their attempts, then up to `limit` events created before it with no delivery
   * left. A pending delivery, and so its event, is never deleted.
   */
  pruneApp(appId: string, before: number, limit: number): Promise<PruneResult>;
  /** Deletes idempotency keys older than `before`. */
  expireIdempotencyKeys(before: number): Promise<number>;

  /**
   * Calls back when any process commits new due deliveries, with their endpoints (empty: look at
   * all). Stores that cannot tell other processes leave it out, and workers rely on polling.
   * Resolves with a function that stops listening.
   */
  listenForDeliveries?(onDue: (endpointIds: string[]) => void): Promise<() => Promise<void>>;
}
