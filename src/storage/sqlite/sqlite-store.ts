import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { TurnsPerKey } from "../../core/turns-per-key.js";
import { type Bind, DELIVERY_COLUMNS, listDeliveriesSql, listEventsSql, typeEndpointsSql } from "../log-query.js";
import { APP_OWNED_TABLES, migrationSql, stepsToApply } from "../migrations.js";
import { pendingByEndpointSql } from "../queue-samples.js";
import { RecentBodies } from "../recent-bodies.js";
import type {
  ApiKey,
  ApiTokenRecord,
  App,
  AppQuery,
  AttemptRecord,
  AttemptView,
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
  QueueSample,
  QueueSamplesPruned,
  QueueStats,
  Recovery,
  RecoveryStep,
  SigningKey,
  SyncCallRecord,
} from "../records.js";
import {
  type ApiKeyRow,
  type AppRow,
  ATTEMPT_OUTCOME_COLUMNS,
  type AttemptOutcomeRow,
  type AttemptRow,
  attemptOutcomeSet,
  autoDisableReason,
  type DeliveryRow,
  type EndpointRow,
  type EventRow,
  type RecoveryRow,
  type SigningKeyRow,
  type TokenRow,
  toApiKey,
  toApp,
  toAttempt,
  toDeliveryOutcome,
  toDeliveryView,
  toEndpoint,
  toEvent,
  toRecovery,
  toSigningKey,
  toToken,
} from "../rows.js";
import { appDeleted, ENDPOINT_DELETED, LOCK_TIMEOUT_MS, RECOVERY_ENDPOINT_DELETED, type Store } from "../store.js";
import { Checkpointer, type CheckpointTiming } from "./checkpointer.js";
import { type FlushFile, WalSync } from "./wal-sync.js";

export interface WalOptions extends CheckpointTiming {
  /** Flushes the WAL file to disk (fdatasync). */
  flush: FlushFile;
}

const MAX_CACHED_LISTINGS = 500;

export interface SqliteStoreOptions {
  /** A file path, or `:memory:`. */
  path: string;
  /** How publishes commit: `full` fsyncs, so an acknowledged event survives power loss. */
  synchronous: "full" | "normal";
  /** How the WAL is checkpointed and flushed; the defaults serve, tests shorten or hold them. */
  wal?: Partial<WalOptions>;
}

const INSERT_ENDPOINT = `
  INSERT INTO endpoints (id, app_id, vocabulary, profile, url, description, enabled, disabled_reason,
    retry_policy, rate_limit, max_concurrency, event_types, headers, options, created_at, updated_at)
  VALUES (@id, @appId, @vocabulary, @profile, @url, @description, @enabled, @disabledReason, @retryPolicy,
    @rateLimit, @maxConcurrency, @eventTypes, @headers, @options, @createdAt, @updatedAt)`;

/** An endpoint as the endpoint statements bind it (SQLite has no booleans, JSON is text). */
const endpointParams = (endpoint: Endpoint) => ({
  ...endpoint,
  enabled: endpoint.enabled ? 1 : 0,
  disabledReason: endpoint.enabled ? null : endpoint.disabledReason,
  rateLimit: endpoint.rateLimit ?? null,
  maxConcurrency: endpoint.maxConcurrency ?? null,
  eventTypes: JSON.stringify(endpoint.eventTypes),
  headers: JSON.stringify(endpoint.headers),
  options: JSON.stringify(endpoint.options),
});

/** Every statement the store runs, prepared once the schema exists. */
function prepareStatements(db: Database.Database) {
  return {
    insertApp: db.prepare("INSERT INTO apps (id, name, signing_key, created_at) VALUES (?, ?, ?, ?)"),
    getApp: db.prepare<[string], AppRow>("SELECT * FROM apps WHERE id = ?"),
    appExists: db.prepare<[string], { found: number }>("SELECT 1 AS found FROM apps WHERE id = ?"),
    listApps: db.prepare<[number, number, string, number], AppRow>(
      "SELECT * FROM apps WHERE (created_at < ? OR (created_at = ? AND id < ?)) ORDER BY created_at DESC, id DESC LIMIT ?",
    ),
    setSigningKey: db.prepare("UPDATE apps SET signing_key = ? WHERE id = ?"),
    expireMasterTokens: db.prepare(
      "UPDATE api_tokens SET expires_at = ? WHERE app_id = ? AND kind = 'master' AND (expires_at IS NULL OR expires_at > ?)",
    ),
    insertToken: db.prepare(
      "INSERT INTO api_tokens (token_hash, app_id, kind, preview, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ),
    findToken: db.prepare<[string, number], AppRow & { token_hash: string }>(
      `SELECT a.*, t.token_hash FROM api_tokens t JOIN apps a ON a.id = t.app_id
       WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)`,
    ),
    getToken: db.prepare<[string], TokenRow>("SELECT * FROM api_tokens WHERE token_hash = ?"),
    listTokens: db.prepare<[string, number], TokenRow>(
      "SELECT * FROM api_tokens WHERE app_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at",
    ),
    countTokens: db.prepare<[string, string], { n: number }>(
      "SELECT COUNT(*) AS n FROM api_tokens WHERE app_id = ? AND kind = ?",
    ),
    deleteToken: db.prepare("DELETE FROM api_tokens WHERE app_id = ? AND token_hash = ? AND kind = 'secondary'"),
    insertApiKey: db.prepare("INSERT INTO api_keys (api_key, app_id, secret, created_at) VALUES (?, ?, ?, ?)"),
    listApiKeys: db.prepare<[string], ApiKeyRow>(
      "SELECT * FROM api_keys WHERE app_id = ? ORDER BY created_at DESC, api_key DESC",
    ),
    findApiKey: db.prepare<[string], ApiKeyRow>("SELECT * FROM api_keys WHERE api_key = ?"),
    deleteApiKey: db.prepare("DELETE FROM api_keys WHERE app_id = ? AND api_key = ?"),
    getAppSettings: db.prepare<[string, string], { settings: string }>(
      "SELECT settings FROM app_settings WHERE app_id = ? AND namespace = ?",
    ),
    saveAppSettings: db.prepare(`
      INSERT INTO app_settings (app_id, namespace, settings, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (app_id, namespace) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`),
    listEndpoints: db.prepare<[string], EndpointRow>(
      "SELECT * FROM endpoints WHERE app_id = ? ORDER BY created_at, id",
    ),
    getEndpoint: db.prepare<[string], EndpointRow>("SELECT * FROM endpoints WHERE id = ?"),
    insertEndpoint: db.prepare(INSERT_ENDPOINT),
    saveEndpoint: db.prepare(`${INSERT_ENDPOINT}
      ON CONFLICT (id) DO UPDATE SET url = excluded.url, description = excluded.description,
        enabled = excluded.enabled, disabled_reason = excluded.disabled_reason, retry_policy = excluded.retry_policy,
        rate_limit = excluded.rate_limit, max_concurrency = excluded.max_concurrency,
        event_types = excluded.event_types, headers = excluded.headers, options = excluded.options,
        updated_at = excluded.updated_at,
        failing_since = CASE WHEN endpoints.enabled = 0 AND excluded.enabled = 1 THEN NULL ELSE endpoints.failing_since END,
        failed_deliveries = CASE WHEN endpoints.enabled = 0 AND excluded.enabled = 1 THEN 0
          ELSE endpoints.failed_deliveries END
      WHERE endpoints.app_id = excluded.app_id`),
    restartStreak: db.prepare(`
      UPDATE endpoints SET failing_since = @failingSince, failed_deliveries = @failedDeliveries
      WHERE id = @endpointId AND (failing_since IS NOT @failingSince OR failed_deliveries <> @failedDeliveries)`),
    extendStreak: db.prepare(`
      UPDATE endpoints SET failing_since = COALESCE(failing_since, @failingSince),
        failed_deliveries = failed_deliveries + @failedDeliveries
      WHERE id = @endpointId`),
    streakOf: db.prepare<[string], { app_id: string; failing_since: number | null; failed_deliveries: number }>(
      "SELECT app_id, failing_since, failed_deliveries FROM endpoints WHERE id = ? AND enabled = 1",
    ),
    disableEndpoint: db.prepare(
      "UPDATE endpoints SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled = 1",
    ),
    deleteEndpoint: db.prepare("DELETE FROM endpoints WHERE app_id = ? AND id = ?"),
    failPendingOfEndpoint: db.prepare(
      `UPDATE deliveries SET state = 'failed', ended_reason = '${ENDPOINT_DELETED}', updated_at = ?
       WHERE endpoint_id = ? AND state = 'pending'`,
    ),
    endpointExists: db.prepare<[string], { found: number }>("SELECT 1 AS found FROM endpoints WHERE id = ?"),
    deleteKeysOfEndpoint: db.prepare("DELETE FROM signing_keys WHERE endpoint_id = ?"),
    retireKeys: db.prepare(
      "UPDATE signing_keys SET expires_at = ? WHERE endpoint_id = ? AND (expires_at IS NULL OR expires_at > ?)",
    ),
    insertKey: db.prepare(`
      INSERT INTO signing_keys (id, app_id, endpoint_id, kind, secret, public_key, created_at, expires_at)
      VALUES (@id, @appId, @endpointId, @kind, @secret, @publicKey, @createdAt, @expiresAt)`),
    listKeys: db.prepare<[string, number], SigningKeyRow>(
      `SELECT * FROM signing_keys WHERE endpoint_id = ? AND (expires_at IS NULL OR expires_at > ?)
       ORDER BY created_at DESC, id DESC`,
    ),
    getEvent: db.prepare<[string, string], EventRow>("SELECT * FROM events WHERE app_id = ? AND id = ?"),
    insertEvent: db.prepare("INSERT INTO events (id, app_id, type, payload, created_at) VALUES (?, ?, ?, ?, ?)"),
    // The body goes to delivery_bodies (migration 14); the row's row_body stays empty.
    insertDelivery: db.prepare(`
      INSERT INTO deliveries (id, app_id, event_id, endpoint_id, type, row_body, state, attempts, max_attempts,
        next_attempt_at, created_at, updated_at, body_of)
      VALUES (?, ?, ?, ?, ?, '', 'pending', 0, ?, ?, ?, ?, ?)`),
    insertBody: db.prepare("INSERT INTO delivery_bodies (delivery_id, body) VALUES (?, ?)"),
    bodyOf: db.prepare<[string], string>("SELECT body FROM delivery_bodies WHERE delivery_id = ?").pluck(),
    // A body goes once no delivery holds or shares it (migration 15).
    deleteUnusedBody: db.prepare(`
      DELETE FROM delivery_bodies WHERE delivery_id = @key
        AND NOT EXISTS (SELECT 1 FROM deliveries WHERE id = @key)
        AND NOT EXISTS (SELECT 1 FROM deliveries WHERE body_of = @key)`),
    insertIdempotency: db.prepare(
      `INSERT INTO idempotency_keys (app_id, scope, key, request_sha256, response, created_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    dropExpiredKey: db.prepare(
      "DELETE FROM idempotency_keys WHERE app_id = ? AND scope = ? AND key = ? AND created_at < ?",
    ),
    findIdempotency: db.prepare<[string, string, string, number], { response: string; request_sha256: string | null }>(
      "SELECT response, request_sha256 FROM idempotency_keys WHERE app_id = ? AND scope = ? AND key = ? AND created_at >= ?",
    ),
    expireIdempotency: db.prepare("DELETE FROM idempotency_keys WHERE created_at < ?"),
    // Leasing moves next_attempt_at past the lease: a live worker records the outcome first; if
    // it dies, the row is simply due again when the lease runs out.
    claim: db.prepare<[number, string, number, number], ClaimedDelivery & { bodyKey: string }>(`
      UPDATE deliveries SET next_attempt_at = ?
      WHERE id IN (SELECT id FROM deliveries
                   WHERE endpoint_id = ? AND state = 'pending' AND next_attempt_at <= ?
                   ORDER BY next_attempt_at LIMIT ?)
      RETURNING id, endpoint_id AS endpointId, row_body AS body, attempts, max_attempts AS maxAttempts,
        first_attempt_at AS firstAttemptAt, type, COALESCE(body_of, id) AS bodyKey`),
    release: db.prepare("UPDATE deliveries SET next_attempt_at = ? WHERE id = ? AND state = 'pending'"),
    cancel: db.prepare(
      "UPDATE deliveries SET state = 'failed', ended_reason = ?, updated_at = ? WHERE id = ? AND state = 'pending'",
    ),
    endOrphaned: db.prepare(`
      UPDATE deliveries SET state = 'failed', ended_reason = ?, updated_at = ?
      WHERE endpoint_id = ? AND state = 'pending' AND NOT EXISTS (SELECT 1 FROM endpoints WHERE id = ?)`),
    pendingByProfile: db.prepare<[], { profile: string; count: number }>(`
      SELECT e.profile AS profile, COUNT(*) AS count FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
      WHERE d.state = 'pending' GROUP BY e.profile`),
    // A loose index scan: one index probe per endpoint, however many deliveries are pending.
    renewListenLease: db.prepare<[number, string]>("UPDATE endpoints SET listen_lease_until = ? WHERE id = ?"),
    expiredListenEndpoints: db.prepare<[number, number, number], { appId: string; id: string; url: string }>(
      `SELECT app_id AS appId, id, url FROM endpoints
       WHERE url LIKE 'listen://%' AND COALESCE(listen_lease_until, updated_at + ?) < ? LIMIT ?`,
    ),
    endpointsWithPending: db.prepare<[], EndpointDue>(`
      WITH RECURSIVE pending(endpoint_id) AS (
        SELECT MIN(endpoint_id) FROM deliveries WHERE state = 'pending'
        UNION ALL
        SELECT (SELECT MIN(endpoint_id) FROM deliveries WHERE state = 'pending' AND endpoint_id > pending.endpoint_id)
        FROM pending WHERE pending.endpoint_id IS NOT NULL
      )
      SELECT endpoint_id AS endpointId,
             (SELECT MIN(next_attempt_at) FROM deliveries d
              WHERE d.state = 'pending' AND d.endpoint_id = pending.endpoint_id) AS dueAt
      FROM pending WHERE endpoint_id IS NOT NULL`),
    insertSampleRun: db.prepare("INSERT OR IGNORE INTO queue_sample_runs (sampled_at) VALUES (?)"),
    pendingByEndpoint: db.prepare<[], PendingCount>(pendingByEndpointSql("sqlite")),
    insertSample: db.prepare<[string, number, string, number, number]>(`
      INSERT INTO queue_samples (app_id, sampled_at, endpoint_id, pending, oldest_created_at)
      VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
    sampleRunsSince: db.prepare<[number], { sampled_at: number }>(
      "SELECT sampled_at FROM queue_sample_runs WHERE sampled_at >= ? ORDER BY sampled_at",
    ),
    samplesSince: db.prepare<[string, number], QueueSample>(`
      SELECT sampled_at AS sampledAt, endpoint_id AS endpointId, pending, oldest_created_at AS oldestCreatedAt
      FROM queue_samples WHERE app_id = ? AND sampled_at >= ? ORDER BY sampled_at, endpoint_id`),
    pruneSampleRuns: db.prepare(`
      DELETE FROM queue_sample_runs WHERE sampled_at IN (
        SELECT sampled_at FROM queue_sample_runs WHERE sampled_at < ? ORDER BY sampled_at LIMIT ?)`),
    pruneSamples: db.prepare(`
      DELETE FROM queue_samples WHERE rowid IN (
        SELECT rowid FROM queue_samples INDEXED BY queue_samples_by_age WHERE sampled_at < ? ORDER BY sampled_at LIMIT ?)`),
    insertAttempt: db.prepare(`
      INSERT OR IGNORE INTO attempts (delivery_id, attempt, started_at, duration_ms, status_code, error,
        response_body, body_sha256, error_class, request_headers, response_headers, response_truncated)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    // Guarded by the attempt number, so a late duplicate of an attempt cannot move the state back. A
    // delivery ended while its attempt was in flight counts it (see attemptOutcomeSet).
    updateDelivery: db.prepare(`
      UPDATE deliveries SET ${attemptOutcomeSet("", "@state", "@nextAttemptAt")}, attempts = @attempt, updated_at = @now,
        first_attempt_at = COALESCE(first_attempt_at, @startedAt)
      WHERE id = @id AND attempts = @attempt - 1`),
    insertFinishedDelivery: db.prepare(`
      INSERT INTO deliveries (id, app_id, event_id, endpoint_id, type, row_body, state, attempts, max_attempts,
        next_attempt_at, created_at, updated_at, first_attempt_at)
      VALUES (?, ?, ?, ?, ?, '', ?, 1, 1, ?, ?, ?, ?)`),
    getDelivery: db.prepare<[string, string], DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE app_id = ? AND id = ?`,
    ),
    attemptsOf: db.prepare<[string], AttemptRow>("SELECT * FROM attempts WHERE delivery_id = ? ORDER BY attempt"),
    outcomesOf: db.prepare<[string], AttemptOutcomeRow>(
      `SELECT ${ATTEMPT_OUTCOME_COLUMNS} FROM attempts WHERE delivery_id = ? ORDER BY attempt`,
    ),
    retry: db.prepare(`
      UPDATE deliveries SET state = 'pending', ended_reason = NULL, max_attempts = attempts + ?, next_attempt_at = ?, updated_at = ?,
        first_attempt_at = NULL, manual_retries = manual_retries + 1
      WHERE app_id = ? AND id = ? AND state != 'pending' AND manual_retries < ?
        AND EXISTS (SELECT 1 FROM endpoints WHERE endpoints.id = deliveries.endpoint_id)`),
    payloadOf: db.prepare<[string], { payload: string }>("SELECT payload FROM events WHERE id = ?"),
    // The partial unique index keeps one running recovery per endpoint: a second is not inserted.
    insertRecovery: db.prepare(`
      INSERT INTO recoveries (id, app_id, endpoint_id, since, until, status, recovered, total, created_at, finished_at)
      VALUES (@id, @appId, @endpointId, @since, @until, @status, @recovered, @total, @createdAt, @finishedAt)
      ON CONFLICT (endpoint_id) WHERE status = 'running' DO NOTHING`),
    runningRecovery: db.prepare<[string], RecoveryRow>(
      "SELECT * FROM recoveries WHERE endpoint_id = ? AND status = 'running'",
    ),
    getRecovery: db.prepare<[string, string], RecoveryRow>("SELECT * FROM recoveries WHERE app_id = ? AND id = ?"),
    recoveryById: db.prepare<[string], RecoveryRow & { cursor_created_at: number | null; cursor_id: string | null }>(
      "SELECT * FROM recoveries WHERE id = ?",
    ),
    nextRecovery: db.prepare<[number], { id: string }>(
      "SELECT id FROM recoveries WHERE status = 'running' AND lease_until <= ? ORDER BY created_at LIMIT 1",
    ),
    leaseRecovery: db.prepare("UPDATE recoveries SET lease_until = ? WHERE id = ?"),
    countRecoverable: db.prepare<[string, string, number, number], { n: number }>(`
      SELECT COUNT(*) AS n FROM deliveries INDEXED BY deliveries_by_endpoint
      WHERE app_id = ? AND endpoint_id = ? AND state = 'failed' AND created_at >= ? AND created_at <= ?`),
    nextRecoverable: db.prepare<
      [string, string, number, number, number, string, number],
      { id: string; created_at: number; manual_retries: number }
    >(`
      SELECT id, created_at, manual_retries FROM deliveries INDEXED BY deliveries_by_endpoint
      WHERE app_id = ? AND endpoint_id = ? AND state = 'failed' AND created_at >= ? AND created_at <= ?
        AND (created_at, id) > (?, ?)
      ORDER BY created_at, id LIMIT ?`),
    recoverDelivery: db.prepare(`
      UPDATE deliveries SET state = 'pending', ended_reason = NULL, max_attempts = attempts + ?, next_attempt_at = ?, updated_at = ?,
        first_attempt_at = NULL, manual_retries = manual_retries + 1
      WHERE id = ? AND state = 'failed'`),
    recordRecoveryStep: db.prepare(`
      UPDATE recoveries SET recovered = recovered + @recovered, skipped = skipped + @skipped, total = @total,
        cursor_created_at = @cursorAt,
        cursor_id = @cursorId, lease_until = @leaseUntil,
        status = CASE WHEN @done THEN 'succeeded' ELSE status END,
        finished_at = CASE WHEN @done THEN @now ELSE finished_at END
      WHERE id = @id`),
    failRecovery: db.prepare(
      "UPDATE recoveries SET status = 'failed', error = ?, finished_at = ? WHERE id = ? AND status = 'running'",
    ),
    oldFinished: db.prepare<[string, string, number, number], { id: string; bodyOf: string | null }>(
      `SELECT id, body_of AS bodyOf FROM deliveries INDEXED BY deliveries_by_app
       WHERE app_id = ? AND state = ? AND created_at < ? ORDER BY created_at LIMIT ?`,
    ),
    deleteAttemptsOf: db.prepare("DELETE FROM attempts WHERE delivery_id = ?"),
    deleteFinished: db.prepare("DELETE FROM deliveries WHERE id = ? AND state != 'pending'"),
    oldEvents: db.prepare<[string, number, number], { id: string }>(
      `SELECT id FROM events INDEXED BY events_by_app
       WHERE app_id = ? AND created_at < ? AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)
       ORDER BY created_at LIMIT ?`,
    ),
    deleteEvent: db.prepare("DELETE FROM events WHERE id = ?"),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** A row of `pendingByEndpointSql`. */
interface PendingCount {
  app_id: string;
  endpoint_id: string;
  pending: number;
  oldest_created_at: number;
}

/**
 * The rows one group commit takes (events and deliveries), as long as the publishes fit: about one
 * 500-event batch with a delivery each, some 20-30 ms of the event loop. A single bigger publish
 * still commits whole.
 */
const COMMIT_ROWS = 1_000;
/** The room left beside a passed-over publish, however big: other apps' small publishes still go in. */
const RIDE_ALONG_ROWS = 100;
const rowsOf = (batch: PublishBatch): number => batch.events.length + batch.deliveries.length;
const bySize = (a: QueuedPublish, b: QueuedPublish): number => rowsOf(a.batch) - rowsOf(b.batch);

interface QueuedPublish {
  batch: PublishBatch;
  /** A group commit left it out once: it goes in the next one (see `#commitPublishes`). */
  passedOver?: boolean;
  onCommitted: (() => void) | undefined;
  resolve(published: boolean): void;
  reject(error: unknown): void;
}

/**
 * The embedded store: one SQLite file in WAL mode. better-sqlite3 is synchronous, so each method
 * runs to completion on the event loop; transactions are short and never span an await.
 */
export class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #path: string;
  #prepared: Statements | undefined;
  readonly #fsyncs: boolean;
  readonly #walOptions: Partial<WalOptions>;
  readonly #recentBodies = new RecentBodies();
  /** Flushes the WAL for publishes and settings (file stores with `synchronous: full`). */
  #walSync: WalSync | undefined;
  #checkpointer: Checkpointer | undefined;
  /** The group commit under way, if any: close waits for it. */
  #committing: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #writesRefused = false;
  /** Publishes waiting for the next group commit (see `publish`). */
  readonly #publishQueue: QueuedPublish[] = [];
  readonly #exclusive = new TurnsPerKey();
  /** Listing statements by their SQL: one per filter shape, prepared once (a merge of 12 ranges takes ms to prepare). */
  readonly #listings = new Map<string, Database.Statement>();

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ":memory:") {
      // Owner-only, as SQLite's WAL and shared-memory files then are too: the file holds every app's
      // master token, which signs its webhooks. Existing files and folders keep their modes.
      mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
      closeSync(openSync(options.path, "a", 0o600));
    }
    this.#path = options.path;
    this.#db = new Database(options.path);
    this.#db.pragma("journal_mode = WAL");
    // Leases and attempt outcomes commit without fsync: WAL keeps them through a process crash, and
    // one lost to power failure only means a resend under the same webhook id. Publishes (and
    // settings) are flushed to disk before they answer when asked (WalSync), because an
    // acknowledged event must never be lost.
    this.#db.pragma("synchronous = NORMAL");
    this.#fsyncs = options.synchronous === "full" && options.path !== ":memory:";
    this.#walOptions = options.wal ?? {};
    // The CLI may write (e.g. a new app) while the server runs; wait for its lock instead of failing.
    this.#db.pragma(`busy_timeout = ${LOCK_TIMEOUT_MS}`);
    this.#db.pragma("cache_size = -65536");
  }

  #applyMigrations(): number {
    const db = this.#db;
    db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    );
    // IMMEDIATE takes the write lock first, so two processes starting at once apply each step once.
    return db
      .transaction(() => {
        const applied = new Set(
          db
            .prepare("SELECT version FROM schema_migrations")
            .all()
            .map((row) => (row as { version: number }).version),
        );
        const missing = stepsToApply(applied);
        for (const migration of missing) {
          db.exec(migrationSql(migration, "sqlite"));
          db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
            migration.version,
            migration.name,
            Date.now(),
          );
        }
        return missing.length;
      })
      .immediate();
  }

  /** Applies the schema, then prepares the statements (they need the tables); once per open. */
  async migrate(): Promise<number> {
    if (this.#prepared) return 0;
    const steps = this.#applyMigrations();
    this.#prepared = prepareStatements(this.#db);
    if (this.#path === ":memory:") return steps;
    const { flush, ...timing } = this.#walOptions;
    this.#checkpointer = new Checkpointer(this.#db, this.#path, LOCK_TIMEOUT_MS, timing);
    // After the migrations, which wrote: the WAL file exists. Where SQLite keeps it: beside the real
    // file when the path is a symlink.
    const [main] = this.#db.pragma("database_list") as { file: string }[];
    if (this.#fsyncs) this.#walSync = new WalSync(`${main?.file ?? this.#path}-wal`, flush);
    return steps;
  }

  get #statements(): Statements {
    if (!this.#prepared) throw new Error("SqliteStore: call migrate() before using the store");
    return this.#prepared;
  }

  /**
   * Refuses a write that could not be made durable: once close has begun (it would commit after the
   * last flush), or once a flush has failed (see WalSync). Checked before the transaction, so the
   * rows are never committed, and never delivered, for a request that is then answered with an error.
   */
  #refuseUndurableWrite(): void {
    if (this.#writesRefused) throw new Error("The SQLite store is closing; the write was not made.");
    if (this.#walSync?.failure !== undefined) throw this.#walSync.failure;
  }

  /** In turn within this process: one process writes a SQLite file's settings (others only read or deliver). */
  exclusively<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.#exclusive.run(key, work);
  }

  /** Once, however often called: a second call while the first waits gets the same promise. */
  close(): Promise<void> {
    this.#closing ??= this.#closeOnce();
    return this.#closing;
  }

  async #closeOnce(): Promise<void> {
    if (!this.#db.open) return;
    // What was queued before close commits and is flushed; nothing after it.
    while (this.#publishQueue.length > 0) this.#commitPublishes();
    this.#writesRefused = true;
    await this.#committing;
    await this.#walSync?.close();
    await this.#checkpointer?.stop();
    this.#db.close();
  }

  async ping(): Promise<void> {
    // A failed flush stays failed (see WalSync): not ready until restarted.
    if (this.#walSync?.failure !== undefined) throw this.#walSync.failure;
    // Reads the schema from the file, so a file that went away or turned unreadable fails here.
    this.#db.prepare("SELECT COUNT(*) FROM schema_migrations").get();
  }

  async createApp(app: App, masterToken: ApiTokenRecord): Promise<void> {
    await this.#durably(() => {
      this.#statements.insertApp.run(app.id, app.name, app.signingKey, app.createdAt);
      this.#insertToken(masterToken);
    });
  }

  async getApp(appId: string): Promise<App | undefined> {
    const row = this.#statements.getApp.get(appId);
    return row && toApp(row);
  }

  async listApps(query: AppQuery): Promise<App[]> {
    const before = query.before ?? { createdAt: Number.MAX_SAFE_INTEGER, id: "" };
    return this.#statements.listApps.all(before.createdAt, before.createdAt, before.id, query.limit).map(toApp);
  }

  async deleteApp(appId: string): Promise<boolean> {
    return this.#durably(() => {
      const db = this.#db;
      db.prepare("DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE app_id = ?)").run(appId);
      // Each delivery's body, its own or the one it shares (whose holder may have been pruned already).
      db.prepare(
        "DELETE FROM delivery_bodies WHERE delivery_id IN (SELECT COALESCE(body_of, id) FROM deliveries WHERE app_id = ?)",
      ).run(appId);
      for (const table of APP_OWNED_TABLES) {
        db.prepare(`DELETE FROM ${table} WHERE app_id = ?`).run(appId);
      }
      return db.prepare("DELETE FROM apps WHERE id = ?").run(appId).changes > 0;
    });
  }

  async rotateMasterToken(
    appId: string,
    next: ApiTokenRecord,
    signingKey: string,
    previousExpiresAt: number,
  ): Promise<boolean> {
    const { setSigningKey, expireMasterTokens } = this.#statements;
    return this.#durably(() => {
      if (setSigningKey.run(signingKey, appId).changes === 0) return false;
      expireMasterTokens.run(previousExpiresAt, appId, previousExpiresAt);
      this.#insertToken(next);
      return true;
    });
  }

  async addApiToken(token: ApiTokenRecord, limit = Number.POSITIVE_INFINITY): Promise<boolean> {
    return this.#durably(() => {
      if ((this.#statements.countTokens.get(token.appId, token.kind)?.n ?? 0) >= limit) return false;
      this.#insertToken(token);
      return true;
    });
  }

  #insertToken(token: ApiTokenRecord): void {
    this.#statements.insertToken.run(
      token.tokenHash,
      token.appId,
      token.kind,
      token.preview,
      JSON.stringify(token.scopes),
      token.createdAt,
      token.expiresAt,
    );
  }

  async findToken(tokenHash: string, now: number): Promise<{ app: App; token: ApiTokenRecord } | undefined> {
    const row = this.#statements.findToken.get(tokenHash, now);
    if (!row) return undefined;
    const token = this.#statements.getToken.get(tokenHash);
    return token && { app: toApp(row), token: toToken(token) };
  }

  async listApiTokens(appId: string, now: number): Promise<ApiTokenRecord[]> {
    return this.#statements.listTokens.all(appId, now).map(toToken);
  }

  async deleteApiToken(appId: string, tokenHash: string): Promise<boolean> {
    return this.#statements.deleteToken.run(appId, tokenHash).changes > 0;
  }

  async addApiKey(key: ApiKey, limit = Number.POSITIVE_INFINITY): Promise<ApiKey | undefined> {
    const { listApiKeys, insertApiKey } = this.#statements;
    return this.#durably(() => {
      const keys = listApiKeys.all(key.appId);
      if (keys.length >= limit) return undefined;
      const kept = { ...key, createdAt: Math.max(key.createdAt, (keys[0]?.created_at ?? 0) + 1) };
      insertApiKey.run(kept.apiKey, kept.appId, kept.secret, kept.createdAt);
      return kept;
    });
  }

  async listApiKeys(appId: string): Promise<ApiKey[]> {
    return this.#statements.listApiKeys.all(appId).map(toApiKey);
  }

  async findApiKey(apiKey: string): Promise<{ app: App; key: ApiKey } | undefined> {
    const row = this.#statements.findApiKey.get(apiKey);
    const app = row && (await this.getApp(row.app_id));
    return row && app && { app, key: toApiKey(row) };
  }

  async deleteApiKey(appId: string, apiKey: string): Promise<boolean> {
    return this.#durably(() => this.#statements.deleteApiKey.run(appId, apiKey).changes > 0);
  }

  async getAppSettings(appId: string, namespace: string): Promise<Record<string, unknown> | undefined> {
    const row = this.#statements.getAppSettings.get(appId, namespace);
    return row && (JSON.parse(row.settings) as Record<string, unknown>);
  }

  async saveAppSettings(appId: string, namespace: string, settings: Record<string, unknown>, now: number) {
    await this.#durably(() => this.#statements.saveAppSettings.run(appId, namespace, JSON.stringify(settings), now));
  }

  async listEndpoints(appId: string): Promise<Endpoint[]> {
    return this.#statements.listEndpoints.all(appId).map(toEndpoint);
  }

  async getEndpoint(endpointId: string): Promise<Endpoint | undefined> {
    const row = this.#statements.getEndpoint.get(endpointId);
    return row && toEndpoint(row);
  }

  async saveEndpoint(endpoint: Endpoint): Promise<void> {
    await this.#durably(() => this.#statements.saveEndpoint.run(endpointParams(endpoint)));
  }

  async changeEndpoint(endpointId: string, change: (current: Endpoint | undefined) => Endpoint | undefined) {
    const { getEndpoint, saveEndpoint } = this.#statements;
    return this.#durably(() => {
      const row = getEndpoint.get(endpointId);
      const before = row && toEndpoint(row);
      const after = change(before);
      if (after) saveEndpoint.run(endpointParams(after));
      return { before, after };
    });
  }

  async createEndpoint(endpoint: Endpoint, keys: SigningKey[]): Promise<void> {
    const { insertEndpoint, insertKey } = this.#statements;
    await this.#durably(() => {
      insertEndpoint.run(endpointParams(endpoint));
      for (const key of keys) insertKey.run(key);
    });
  }

  async disableEndpoint(endpointId: string, reason: string, now: number): Promise<boolean> {
    return this.#durably(() => this.#statements.disableEndpoint.run(reason, now, endpointId).changes > 0);
  }

  async recordEndpointHealth(
    changes: EndpointHealthChange[],
    now: number,
    limits: AutoDisableLimits,
  ): Promise<DisabledEndpoint[]> {
    const { restartStreak, extendStreak, streakOf, disableEndpoint } = this.#statements;
    return this.#db.transaction(() => {
      const disabled: DisabledEndpoint[] = [];
      for (const change of changes) {
        const row = {
          endpointId: change.endpointId,
          failingSince: change.failingSince,
          failedDeliveries: change.failedDeliveries,
        };
        if (change.succeeded) restartStreak.run(row);
        else if (change.failingSince !== null || change.failedDeliveries > 0) extendStreak.run(row);
        else continue;
        const streak = streakOf.get(change.endpointId);
        if (!streak) continue;
        const reason = autoDisableReason(
          { failingSince: streak.failing_since, failedDeliveries: streak.failed_deliveries },
          now,
          limits,
        );
        if (reason === undefined) continue;
        disableEndpoint.run(reason, now, change.endpointId);
        disabled.push({ endpointId: change.endpointId, appId: streak.app_id, reason });
      }
      return disabled;
    })();
  }

  async renewListenLeases(endpointIds: readonly string[], until: number): Promise<void> {
    const renew = this.#statements.renewListenLease;
    this.#db.transaction(() => {
      for (const id of endpointIds) renew.run(until, id);
    })();
  }

  async expiredListenEndpoints(now: number, leaseMs: number, limit: number) {
    return this.#statements.expiredListenEndpoints.all(leaseMs, now, limit);
  }

  async deleteEndpoint(appId: string, endpointId: string, now: number): Promise<boolean> {
    const { deleteEndpoint, failPendingOfEndpoint, deleteKeysOfEndpoint } = this.#statements;
    return this.#durably(() => {
      if (deleteEndpoint.run(appId, endpointId).changes === 0) return false;
      failPendingOfEndpoint.run(now, endpointId);
      deleteKeysOfEndpoint.run(endpointId);
      return true;
    });
  }

  async addSigningKeys(endpointId: string, keys: SigningKey[], retireAt?: number): Promise<void> {
    const { retireKeys, insertKey } = this.#statements;
    await this.#durably(() => {
      if (retireAt !== undefined) retireKeys.run(retireAt, endpointId, retireAt);
      for (const key of keys) insertKey.run(key);
    });
  }

  async listSigningKeys(endpointId: string, now: number): Promise<SigningKey[]> {
    return this.#statements.listKeys.all(endpointId, now).map(toSigningKey);
  }

  async listEvents(appId: string, query: EventQuery): Promise<EventView[]> {
    const { sql, params } = sqliteBinding((bind) => listEventsSql("sqlite", appId, query, bind));
    return (this.#listing(sql).all(...params) as EventRow[]).map(toEvent);
  }

  async getEvent(appId: string, eventId: string): Promise<EventView | undefined> {
    const row = this.#statements.getEvent.get(appId, eventId);
    return row && toEvent(row);
  }

  /**
   * Runs a write transaction that begins IMMEDIATE: the write lock is taken at BEGIN, under
   * busy_timeout. A deferred one that reads first (a publish's app check) cannot upgrade to writing
   * once another process on the file has written: SQLITE_BUSY at once, and no retry helps.
   */
  #write<T>(work: () => T): T {
    return this.#db.transaction(work).immediate();
  }

  /** Runs a write transaction, and resolves once it is on disk; `committed` runs in between. */
  async #durably<T>(work: () => T, committed?: () => void): Promise<T> {
    this.#refuseUndurableWrite();
    const result = this.#write(work);
    committed?.();
    await this.#walSync?.synced();
    return result;
  }

  /**
   * Group commit: the publishes that arrive while the event loop is busy wait for the next turn and
   * commit together, in one transaction, instead of each paying for a transaction of its own. Each
   * batch is a savepoint of its own, so a batch that fails, or whose idempotency key is taken, leaves
   * the others whole. A batch's promise settles only once the commit is flushed to disk: an
   * acknowledged event is on disk.
   */
  async publish(batch: PublishBatch, onCommitted?: () => void): Promise<boolean> {
    this.#refuseUndurableWrite();
    return new Promise((resolve, reject) => {
      const queued = this.#publishQueue.push({ batch, onCommitted, resolve, reject });
      if (queued === 1) setImmediate(() => this.#commitPublishes());
    });
  }

  /**
   * Commits the smallest queued publishes, up to about {@link COMMIT_ROWS} rows, and leaves the rest
   * for the next turn of the event loop: a transaction holds the loop for as long as it writes, so
   * one app's big batches go one at a time, and another app's small publish commits ahead of them
   * instead of behind all of them. The oldest publish waits for one turn at most: once passed over,
   * it goes in the next transaction whatever its size (small publishes still ride along), so a
   * stream of small publishes cannot hold a big one back.
   */
  #commitPublishes(): void {
    const queue = this.#publishQueue;
    if (queue.length === 0) return;
    const forced = queue[0]!.passedOver ? queue[0] : undefined;
    const group = forced ? [forced] : [];
    let room = forced ? Math.max(COMMIT_ROWS - rowsOf(forced.batch), RIDE_ALONG_ROWS) : COMMIT_ROWS;
    for (const waiting of queue.filter((q) => q !== forced).sort(bySize)) {
      const rows = rowsOf(waiting.batch);
      if (group.length > 0 && rows > room) break;
      group.push(waiting);
      room -= rows;
    }
    const rest = queue.filter((waiting) => !group.includes(waiting));
    for (const waiting of rest) waiting.passedOver = true;
    queue.splice(0, queue.length, ...rest);
    // The flushes finish in the order they start, so close need wait for the latest only.
    this.#committing = this.#commitTogether(group.sort(bySize));
    if (queue.length > 0) setImmediate(() => this.#commitPublishes());
  }

  async #commitTogether(queued: QueuedPublish[]): Promise<void> {
    const outcomes: ({ published: boolean } | { error: unknown })[] = [];
    // Called inside the outer transaction, better-sqlite3 runs this one as a savepoint.
    const insertOne = this.#db.transaction((batch: PublishBatch) => this.#insertBatch(batch));
    const announce = () =>
      queued.forEach(({ onCommitted }, index) => {
        const outcome = outcomes[index];
        if (!outcome || !("published" in outcome) || !outcome.published) return;
        try {
          onCommitted?.();
        } catch {
          // The batch is committed whatever a wake-up does; the worker's poll finds its rows.
        }
      });
    try {
      await this.#durably(() => {
        outcomes.length = 0;
        for (const { batch } of queued) {
          try {
            outcomes.push({ published: insertOne(batch) });
          } catch (error) {
            outcomes.push({ error });
          }
        }
      }, announce);
    } catch (error) {
      for (const waiting of queued) waiting.reject(error);
      return;
    }
    queued.forEach((waiting, index) => {
      const outcome = outcomes[index]!;
      if ("error" in outcome) waiting.reject(outcome.error);
      else waiting.resolve(outcome.published);
    });
  }

  /** One publish's rows; false (and nothing written) when its idempotency key is already taken. */
  #insertBatch(batch: PublishBatch): boolean {
    const { insertEvent, insertDelivery, insertBody, insertIdempotency, dropExpiredKey, appExists } = this.#statements;
    // Queued publishes commit a turn later: the app may have been deleted since it was checked.
    if (!appExists.get(batch.appId)) throw appDeleted();
    const key = batch.idempotency;
    if (key) {
      dropExpiredKey.run(batch.appId, key.scope, key.key, key.expiredBefore);
      const inserted = insertIdempotency.run(
        batch.appId,
        key.scope,
        key.key,
        key.requestSha256,
        key.response,
        key.createdAt,
      );
      if (inserted.changes === 0) return false;
    }
    const types = new Map<string, string>();
    for (const e of batch.events) {
      insertEvent.run(e.id, e.appId, e.type, e.payload, e.createdAt);
      types.set(e.id, e.type);
    }
    for (const d of batch.deliveries) {
      insertDelivery.run(
        d.id,
        d.appId,
        d.eventId,
        d.endpointId,
        types.get(d.eventId) ?? "",
        d.maxAttempts,
        d.createdAt,
        d.createdAt,
        d.createdAt,
        d.bodyOf ?? null,
      );
      if (d.bodyOf === undefined) insertBody.run(d.id, d.body);
    }
    return true;
  }

  async findIdempotentResponse(
    appId: string,
    scope: string,
    key: string,
    since: number,
  ): Promise<IdempotentResponse | undefined> {
    const row = this.#statements.findIdempotency.get(appId, scope, key, since);
    if (!row) return undefined;
    // The first request may still be waiting for its flush: its answer is not given before then.
    await this.#walSync?.synced();
    return { response: row.response, requestSha256: row.request_sha256 };
  }

  async expireIdempotencyKeys(before: number): Promise<number> {
    return this.#statements.expireIdempotency.run(before).changes;
  }

  async claimDue(endpointId: string, limit: number, now: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
    const { claim, bodyOf } = this.#statements;
    // One transaction: another process on the file cannot delete the bodies between claim and read.
    return this.#db.transaction(() => {
      // A delivery made before migration 14 still holds its body in its row; one may share another's (15).
      return claim.all(leaseUntil, endpointId, now, limit).map(
        (row): ClaimedDelivery => ({
          id: row.id,
          endpointId: row.endpointId,
          type: row.type,
          body: row.body === "" ? this.#storedBody(row.bodyKey, bodyOf) : row.body,
          attempts: row.attempts,
          maxAttempts: row.maxAttempts,
          firstAttemptAt: row.firstAttemptAt,
        }),
      );
    })();
  }

  /** A body from delivery_bodies, or from those read lately when it is big (see RecentBodies). */
  #storedBody(key: string, bodyOf: Statements["bodyOf"]): string {
    let body = this.#recentBodies.find(key);
    if (body === undefined) {
      body = bodyOf.get(key) ?? "";
      this.#recentBodies.keep(key, body);
    }
    return body;
  }

  async releaseLeases(deliveryIds: string[], now: number): Promise<void> {
    const release = this.#statements.release;
    this.#db.transaction(() => {
      for (const id of deliveryIds) release.run(now, id);
    })();
  }

  async endpointsWithPending(): Promise<EndpointDue[]> {
    return this.#statements.endpointsWithPending.all();
  }

  async cancelDeliveries(deliveryIds: string[], reason: string, now: number): Promise<void> {
    const cancel = this.#statements.cancel;
    this.#db.transaction(() => {
      for (const id of deliveryIds) cancel.run(reason, now, id);
    })();
  }

  async endOrphanedDeliveries(endpointId: string, reason: string, now: number): Promise<number> {
    return this.#statements.endOrphaned.run(reason, now, endpointId, endpointId).changes;
  }

  async queueStats(): Promise<QueueStats> {
    const due = this.#statements.endpointsWithPending.all();
    return {
      pendingByProfile: await this.#offThread(this.#statements.pendingByProfile),
      oldestDueAt: due.length === 0 ? null : Math.min(...due.map((endpoint) => endpoint.dueAt)),
    };
  }

  async sampleQueue(at: number): Promise<boolean> {
    const { insertSampleRun, insertSample, pendingByEndpoint } = this.#statements;
    // Counted off the event loop (its cost grows with the backlog), kept in one short transaction.
    const counts = await this.#offThread(pendingByEndpoint);
    return this.#db.transaction(() => {
      if (insertSampleRun.run(at).changes === 0) return false;
      for (const c of counts) insertSample.run(c.app_id, at, c.endpoint_id, c.pending, c.oldest_created_at);
      return true;
    })();
  }

  /**
   * A read whose cost grows with the data, run on the checkpoint thread's connection so that the event
   * loop does not wait for it; on this connection when there is no thread (`:memory:`, or it failed).
   */
  async #offThread<T>(statement: Database.Statement<[], T>): Promise<T[]> {
    const read = this.#checkpointer?.read<T>(statement.source);
    return read ?? statement.all();
  }

  async queueHistory(appId: string, since: number): Promise<QueueHistory> {
    return {
      runs: this.#statements.sampleRunsSince.all(since).map((row) => row.sampled_at),
      samples: this.#statements.samplesSince.all(appId, since),
    };
  }

  async pruneQueueSamples(before: number, limit: number): Promise<QueueSamplesPruned> {
    const { pruneSampleRuns, pruneSamples } = this.#statements;
    return this.#db.transaction(() => ({
      runs: pruneSampleRuns.run(before, limit).changes,
      samples: pruneSamples.run(before, limit).changes,
    }))();
  }

  async recordAttempts(attempts: AttemptRecord[]): Promise<void> {
    const { updateDelivery } = this.#statements;
    const now = Date.now();
    this.#db.transaction(() => {
      for (const a of attempts) {
        const updated = updateDelivery.run({
          state: a.state,
          attempt: a.attempt,
          nextAttemptAt: a.nextAttemptAt,
          now,
          startedAt: a.startedAt,
          id: a.deliveryId,
        });
        if (updated.changes > 0) this.#insertAttempt(a.deliveryId, a);
      }
    })();
  }

  #insertAttempt(deliveryId: string, a: AttemptView): void {
    this.#statements.insertAttempt.run(
      deliveryId,
      a.attempt,
      a.startedAt,
      a.durationMs,
      a.statusCode,
      a.error,
      a.responseBody,
      a.bodySha256,
      a.errorClass,
      a.requestHeaders && JSON.stringify(a.requestHeaders),
      a.responseHeaders && JSON.stringify(a.responseHeaders),
      a.truncated ? 1 : 0,
    );
  }

  async logSyncCalls(calls: SyncCallRecord[]): Promise<void> {
    const { insertEvent, insertFinishedDelivery, insertBody, appExists } = this.#statements;
    // Not awaited on disk, unlike #durably: a record of calls already answered, not an acknowledged publish.
    this.#write(() => {
      for (const { event: e, delivery: d, attempt } of calls) {
        // A call whose app was deleted while it ran is not logged: nothing of a deleted app is kept.
        if (!appExists.get(e.appId)) continue;
        insertEvent.run(e.id, e.appId, e.type, e.payload, e.createdAt);
        const finishedAt = attempt.startedAt + attempt.durationMs;
        insertFinishedDelivery.run(
          d.id,
          d.appId,
          d.eventId,
          d.endpointId,
          e.type,
          d.state,
          finishedAt,
          d.createdAt,
          finishedAt,
          attempt.startedAt,
        );
        insertBody.run(d.id, d.body);
        this.#insertAttempt(d.id, attempt);
      }
    });
  }

  async listDeliveries(appId: string, query: DeliveryQuery): Promise<DeliveryView[]> {
    const typeEndpoints =
      query.type !== undefined && query.endpointId === undefined && query.eventId === undefined
        ? (
            this.#listing(typeEndpointsSql("sqlite", ["?", "?", "?", "?"])).all(
              appId,
              query.type,
              appId,
              query.type,
            ) as { endpoint_id: string }[]
          ).map((row) => row.endpoint_id)
        : [];
    const { sql, params } = sqliteBinding((bind) => listDeliveriesSql("sqlite", appId, query, bind, typeEndpoints));
    const rows = this.#listing(sql).all(...params) as DeliveryRow[];
    if (query.withPayload) {
      for (const row of rows) row.payload = this.#statements.payloadOf.get(row.event_id)?.payload;
    }
    return rows.map((row) => this.#toDeliveryView(row));
  }

  async listDeliveryOutcomes(appId: string, query: OutcomeQuery): Promise<DeliveryOutcome[]> {
    const { sql, params } = sqliteBinding((bind) => listDeliveriesSql("sqlite", appId, query, bind));
    const rows = this.#listing(sql).all(...params) as DeliveryRow[];
    return rows.map((row) => toDeliveryOutcome(row, this.#statements.outcomesOf.all(row.id)));
  }

  async getDelivery(appId: string, deliveryId: string): Promise<DeliveryView | undefined> {
    const row = this.#statements.getDelivery.get(appId, deliveryId);
    return row && this.#toDeliveryView(row);
  }

  async retryDelivery(
    appId: string,
    deliveryId: string,
    extraAttempts: number,
    now: number,
    maxManualRetries: number,
  ): Promise<DeliveryView | undefined> {
    const { changes } = this.#statements.retry.run(extraAttempts, now, now, appId, deliveryId, maxManualRetries);
    return changes === 0 ? undefined : this.getDelivery(appId, deliveryId);
  }

  async createRecovery(recovery: Recovery): Promise<Recovery> {
    const { insertRecovery, runningRecovery } = this.#statements;
    return this.#durably(() => {
      insertRecovery.run(recovery);
      return toRecovery(runningRecovery.get(recovery.endpointId)!);
    });
  }

  async getRecovery(appId: string, recoveryId: string): Promise<Recovery | undefined> {
    const row = this.#statements.getRecovery.get(appId, recoveryId);
    return row && toRecovery(row);
  }

  async leaseRecovery(now: number, leaseUntil: number): Promise<Recovery | undefined> {
    const { nextRecovery, leaseRecovery, recoveryById } = this.#statements;
    return this.#db.transaction(() => {
      const next = nextRecovery.get(now);
      if (!next) return undefined;
      leaseRecovery.run(leaseUntil, next.id);
      const row = recoveryById.get(next.id);
      return row && toRecovery(row);
    })();
  }

  async stepRecovery(recoveryId: string, step: RecoveryStep): Promise<Recovery | undefined> {
    const {
      recoveryById,
      endpointExists,
      failRecovery,
      countRecoverable,
      nextRecoverable,
      recoverDelivery,
      recordRecoveryStep,
    } = this.#statements;
    return this.#db.transaction(() => {
      const job = recoveryById.get(recoveryId);
      if (job?.status !== "running") return job && toRecovery(job);
      if (!endpointExists.get(job.endpoint_id)) {
        // Deleted meanwhile: what it would make pending would never be sent.
        failRecovery.run(RECOVERY_ENDPOINT_DELETED, step.now, recoveryId);
        return toRecovery(recoveryById.get(recoveryId)!);
      }
      const window = [job.app_id, job.endpoint_id, job.since, job.until] as const;
      const total = job.total ?? countRecoverable.get(...window)?.n ?? 0;
      const batch = nextRecoverable.all(
        ...window,
        job.cursor_created_at ?? Number.MIN_SAFE_INTEGER,
        job.cursor_id ?? "",
        step.limit,
      );
      let recovered = 0;
      let skipped = 0;
      for (const { id, manual_retries } of batch) {
        if (manual_retries >= step.maxManualRetries) skipped++;
        else recovered += recoverDelivery.run(step.extraAttempts, step.now, step.now, id).changes;
      }
      const last = batch.at(-1);
      recordRecoveryStep.run({
        id: recoveryId,
        recovered,
        skipped,
        total,
        cursorAt: last?.created_at ?? job.cursor_created_at,
        cursorId: last?.id ?? job.cursor_id,
        leaseUntil: step.leaseUntil,
        done: batch.length < step.limit ? 1 : 0,
        now: step.now,
      });
      const row = recoveryById.get(recoveryId);
      return row && toRecovery(row);
    })();
  }

  async failRecovery(recoveryId: string, error: string, now: number): Promise<void> {
    this.#statements.failRecovery.run(error, now, recoveryId);
  }

  async pruneApp(appId: string, before: number, limit: number): Promise<PruneResult> {
    const { oldFinished, deleteAttemptsOf, deleteUnusedBody, deleteFinished, oldEvents, deleteEvent } =
      this.#statements;
    return this.#db.transaction(() => {
      const result: PruneResult = { deliveries: 0, attempts: 0, events: 0 };
      // Bodies the deleted deliveries held or shared: each goes once nothing else uses it.
      const bodies = new Set<string>();
      for (const state of ["succeeded", "failed"]) {
        for (const { id, bodyOf } of oldFinished.all(appId, state, before, limit - result.deliveries)) {
          const deleted = deleteFinished.run(id).changes;
          if (deleted === 0) continue;
          result.deliveries += deleted;
          result.attempts += deleteAttemptsOf.run(id).changes;
          bodies.add(bodyOf ?? id);
        }
      }
      for (const key of bodies) deleteUnusedBody.run({ key });
      for (const { id } of oldEvents.all(appId, before, limit)) result.events += deleteEvent.run(id).changes;
      return result;
    })();
  }

  #listing(sql: string): Database.Statement {
    let statement = this.#listings.get(sql);
    if (!statement) {
      // Shapes are few (filters present × endpoints merged); the bound only guards against surprises.
      if (this.#listings.size >= MAX_CACHED_LISTINGS) this.#listings.clear();
      statement = this.#db.prepare(sql);
      this.#listings.set(sql, statement);
    }
    return statement;
  }

  #toDeliveryView(row: DeliveryRow): DeliveryView {
    return toDeliveryView(row, this.#statements.attemptsOf.all(row.id).map(toAttempt));
  }
}

/** Names parameters for a query built with `Bind` (`@pN`, so a placeholder may appear in several arms). */
function sqliteBinding(build: (bind: Bind) => string): { sql: string; params: [Record<string, unknown>] } {
  const named: Record<string, unknown> = {};
  let count = 0;
  const sql = build((value) => {
    count += 1;
    named[`p${count}`] = value;
    return `@p${count}`;
  });
  return { sql, params: [named] };
}
