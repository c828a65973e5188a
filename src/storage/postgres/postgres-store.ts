import { createHash } from "node:crypto";
import pg from "pg";
import { TurnsPerKey } from "../../core/turns-per-key.js";
import { type Bind, DELIVERY_COLUMNS, listDeliveriesSql, listEventsSql, typeEndpointsSql } from "../log-query.js";
import { APP_OWNED_TABLES, migrationSql, stepsToApply } from "../migrations.js";
import { sampleQueueSql } from "../queue-samples.js";
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
  ATTEMPT_OUTCOME_COLUMNS,
  type AttemptOutcomeRow,
  attemptOutcomeSet,
  autoDisableReason,
  type DeliveryRow,
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
import { appBeingDeleted, appDeleted, ENDPOINT_DELETED, RECOVERY_ENDPOINT_DELETED, type Store } from "../store.js";

const CHANNEL = "herald_deliveries";

/**
 * Advisory locks are the database's, not a schema's: each key starts with the schema Herald's tables
 * are in, so that Heralds on other schemas of the same database (tests, staging beside production)
 * never wait on, or fail for, each other's locks, however each spells its search_path. Before that
 * schema exists (the first migration), the path as written.
 */
const LOCK_SCOPE = "COALESCE(current_schema(), current_setting('search_path')) || ':'";

/**
 * An app's lock, between its deletion (exclusive, waiting) and the writes that add rows of the app
 * (shared, never waiting: publishes, logged hook calls). An advisory lock rather than the app's row:
 * a waiting delete makes new shared requests fail, so publishes cannot starve it, as row share locks
 * could; and a write that finds the app being deleted gives up at once instead of holding a pooled
 * connection until the delete ends.
 */
const APP_LOCK = `SELECT pg_advisory_xact_lock(hashtext(${LOCK_SCOPE} || 'herald_app:' || $1))`;
/** The apps (of the array given, in its order) whose shared lock this transaction now holds. */
const APP_SHARED_LOCK = `SELECT id FROM unnest($1::text[]) AS a(id)
  WHERE pg_try_advisory_xact_lock_shared(hashtext(${LOCK_SCOPE} || 'herald_app:' || id))`;

/**
 * Takes the shared lock of each app (sorted ids) and says which exist: `live` apps may get rows in
 * this transaction until it commits. The existence check is a statement of its own, its snapshot
 * taken after the lock, so a delete committed just before is seen.
 */
async function lockApps(
  client: pg.PoolClient,
  appIds: string[],
): Promise<{ beingDeleted: boolean; live: Set<string> }> {
  const locked = await client.query<{ id: string }>(APP_SHARED_LOCK, [appIds]);
  const { rows } = await client.query<{ id: string }>("SELECT id FROM apps WHERE id = ANY($1::text[])", [
    locked.rows.map((row) => row.id),
  ]);
  return { beingDeleted: locked.rows.length < appIds.length, live: new Set(rows.map((row) => row.id)) };
}

/** One array per field, in order: the parameters of an `unnest($1::…[], $2::…[], …)` batch. */
function columns<T>(rows: readonly T[], ...fields: (keyof T)[]): unknown[][] {
  return fields.map((field) => rows.map((row) => row[field]));
}

/** Deliveries' bodies, kept apart from their rows (migration 14). */
async function insertBodies(client: pg.PoolClient, deliveries: readonly { id: string; body: string }[]) {
  await client.query(
    "INSERT INTO delivery_bodies (delivery_id, body) SELECT * FROM unnest($1::text[], $2::text[])",
    columns(deliveries, "id", "body"),
  );
}

// NOTIFY payloads are capped at 8000 bytes; past that, an empty payload means "look at every endpoint".
const MAX_NOTIFY_PAYLOAD = 7900;
const LISTEN_RETRY_MS = 1000;

/** Adds `lock_timeout` to the URL's own startup `options` (which may already set e.g. search_path). */
function withLockTimeout(connectionString: string, lockTimeoutMs: number): string {
  const url = new URL(connectionString);
  const existing = url.searchParams.get("options");
  url.searchParams.set("options", [existing, `-c lock_timeout=${Math.trunc(lockTimeoutMs)}`].filter(Boolean).join(" "));
  return url.toString();
}

const notifyPayload = (endpointIds: Iterable<string>): string => {
  const payload = JSON.stringify([...new Set(endpointIds)]);
  return payload.length <= MAX_NOTIFY_PAYLOAD ? payload : "";
};

const INSERT_ENDPOINT = `
  INSERT INTO endpoints (id, app_id, vocabulary, profile, url, description, enabled, event_types, headers,
    options, created_at, updated_at, disabled_reason, retry_policy, rate_limit, max_concurrency)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`;

/** Held until commit: an app's limited credential inserts (count, then insert) run one at a time. */
const lockCredentialsOf = (client: pg.PoolClient, appId: string) =>
  client.query(`SELECT pg_advisory_xact_lock(hashtext(${LOCK_SCOPE} || 'herald_credentials:' || $1))`, [appId]);

/** Inserts or updates an endpoint, never moving it to another app; re-enabling clears its failure streak. */
const SAVE_ENDPOINT = `${INSERT_ENDPOINT}
  ON CONFLICT (id) DO UPDATE SET url = excluded.url, description = excluded.description,
    enabled = excluded.enabled, event_types = excluded.event_types, headers = excluded.headers,
    options = excluded.options, updated_at = excluded.updated_at, disabled_reason = excluded.disabled_reason,
    retry_policy = excluded.retry_policy, rate_limit = excluded.rate_limit,
    max_concurrency = excluded.max_concurrency,
    failing_since = CASE WHEN NOT endpoints.enabled AND excluded.enabled THEN NULL ELSE endpoints.failing_since END,
    failed_deliveries = CASE WHEN NOT endpoints.enabled AND excluded.enabled THEN 0
      ELSE endpoints.failed_deliveries END
  WHERE endpoints.app_id = excluded.app_id`;

/** The parameters of `INSERT_ENDPOINT` (and `SAVE_ENDPOINT`), in order. */
const endpointParams = (endpoint: Endpoint): unknown[] => [
  endpoint.id,
  endpoint.appId,
  endpoint.vocabulary,
  endpoint.profile,
  endpoint.url,
  endpoint.description,
  endpoint.enabled,
  JSON.stringify(endpoint.eventTypes),
  JSON.stringify(endpoint.headers),
  JSON.stringify(endpoint.options),
  endpoint.createdAt,
  endpoint.updatedAt,
  endpoint.enabled ? null : endpoint.disabledReason,
  endpoint.retryPolicy,
  endpoint.rateLimit ?? null,
  endpoint.maxConcurrency ?? null,
];

/** Inserts signing keys in one statement, inside the caller's transaction. */
async function insertSigningKeys(client: pg.PoolClient, keys: SigningKey[]): Promise<void> {
  if (keys.length === 0) return;
  await client.query(
    `INSERT INTO signing_keys (id, app_id, endpoint_id, kind, secret, public_key, created_at, expires_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])`,
    columns(keys, "id", "appId", "endpointId", "kind", "secret", "publicKey", "createdAt", "expiresAt"),
  );
}

export interface PostgresStoreOptions {
  connectionString: string;
  poolSize: number;
  /** How long a statement waits for a lock before failing (and the API answering 503). */
  lockTimeoutMs: number;
}

// BIGINT columns hold epoch milliseconds, well inside a JavaScript number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/**
 * The shared store: PostgreSQL, for several Herald processes on one database. Every method borrows
 * a pooled connection only for its own statements; nothing holds one across network I/O.
 */
export class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  readonly #connectionString: string;
  /** With the lock timeout: a write (or an `exclusively`) waits at most that long for a lock. */
  readonly #lockingConnectionString: string;
  readonly #exclusive = new TurnsPerKey();

  constructor(options: PostgresStoreOptions) {
    this.#connectionString = options.connectionString;
    this.#lockingConnectionString = withLockTimeout(options.connectionString, options.lockTimeoutMs);
    this.#pool = new pg.Pool({ connectionString: this.#lockingConnectionString, max: options.poolSize });
    // A client losing its server (restart, failover) emits "error"; unheard, that would crash the
    // process. The failure still reaches the caller as a rejected query, which the API answers 503.
    this.#pool.on("connect", (client) => client.on("error", () => {}));
    this.#pool.on("error", () => {});
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let result: T;
    try {
      await client.query("BEGIN");
      result = await work(client);
      await client.query("COMMIT");
    } catch (error) {
      // A refusal (an app being deleted, a conflict) leaves a sound connection to reuse; one whose
      // ROLLBACK fails may be gone, and is destroyed rather than handed to the next caller.
      const rolledBack = await client.query("ROLLBACK").then(
        () => true,
        () => false,
      );
      client.release(!rolledBack);
      throw error;
    }
    client.release();
    return result;
  }

  async migrate(): Promise<number> {
    return this.#transaction(async (client) => {
      // One process migrates at a time; the others wait here, then find nothing left to do.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext(${LOCK_SCOPE} || 'herald_migrations'))`);
      const { rows } = await client.query(
        "SELECT current_schemas(false) AS schemas, current_setting('search_path') AS path",
      );
      const wanted = String(rows[0].path).split(",")[0]!.trim().replaceAll('"', "");
      if (wanted !== "$user" && !(rows[0].schemas as string[]).includes(wanted)) {
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${wanted.replaceAll('"', "")}"`);
      }
      await client.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
      );
      const applied = new Set(
        (await client.query("SELECT version FROM schema_migrations")).rows.map((row) => row.version as number),
      );
      const missing = stepsToApply(applied);
      for (const migration of missing) {
        await client.query(migrationSql(migration, "postgres"));
        await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [
          migration.version,
          migration.name,
          Date.now(),
        ]);
      }
      return missing.length;
    });
  }

  async exclusively<T>(key: string, work: () => Promise<T>): Promise<T> {
    // In turn within this process; across processes, a session lock held on a connection of its own,
    // not the pool's (which `work` needs, and lock waiters would drain): ending the session, or the
    // database seeing this process die, releases it.
    return this.#exclusive.run(key, async () => {
      const client = new pg.Client({ connectionString: this.#lockingConnectionString });
      client.on("error", () => {});
      await client.connect();
      try {
        await client.query(`SELECT pg_advisory_lock(hashtext(${LOCK_SCOPE} || 'herald_exclusive:' || $1))`, [key]);
        return await work();
      } finally {
        await client.end();
      }
    });
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async ping(): Promise<void> {
    await this.#pool.query("SELECT 1");
  }

  async createApp(app: App, masterToken: ApiTokenRecord): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query("INSERT INTO apps (id, name, signing_key, created_at) VALUES ($1, $2, $3, $4)", [
        app.id,
        app.name,
        app.signingKey,
        app.createdAt,
      ]);
      await this.#insertToken(client, masterToken);
    });
  }

  async getApp(appId: string): Promise<App | undefined> {
    const { rows } = await this.#pool.query("SELECT * FROM apps WHERE id = $1", [appId]);
    return rows[0] && toApp(rows[0]);
  }

  async listApps(query: AppQuery): Promise<App[]> {
    const before = query.before ?? { createdAt: Number.MAX_SAFE_INTEGER, id: "" };
    const { rows } = await this.#pool.query(
      "SELECT * FROM apps WHERE (created_at, id) < ($1, $2) ORDER BY created_at DESC, id DESC LIMIT $3",
      [before.createdAt, before.id, query.limit],
    );
    return rows.map(toApp);
  }

  async deleteApp(appId: string): Promise<boolean> {
    return this.#transaction(async (client) => {
      // Waits for the app's publishes under way (they hold its lock shared) and holds new ones back; each
      // statement below then sees what those publishes committed.
      await client.query(APP_LOCK, [appId]);
      // Other writes of the app (tokens, endpoints, settings) do not take that lock: the row lock waits
      // for those under way (whose rows the statements below then see and delete) and holds new ones
      // back until they find the app gone (their foreign key fails: 404), so this never fails on one.
      await client.query("SELECT 1 FROM apps WHERE id = $1 FOR UPDATE", [appId]);
      // One statement, one snapshot: the attempts and bodies deleted are those of the deliveries deleted,
      // each delivery's body being its own or the one it shares (whose holder may be pruned already).
      await client.query(
        `WITH gone AS (DELETE FROM deliveries WHERE app_id = $1 RETURNING id, COALESCE(body_of, id) AS body_key),
           attempts_gone AS (DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM gone))
         DELETE FROM delivery_bodies WHERE delivery_id IN (SELECT body_key FROM gone)`,
        [appId],
      );
      for (const table of APP_OWNED_TABLES) {
        await client.query(`DELETE FROM ${table} WHERE app_id = $1`, [appId]);
      }
      const { rowCount } = await client.query("DELETE FROM apps WHERE id = $1", [appId]);
      return (rowCount ?? 0) > 0;
    });
  }

  async rotateMasterToken(
    appId: string,
    next: ApiTokenRecord,
    signingKey: string,
    previousExpiresAt: number,
  ): Promise<boolean> {
    return this.#transaction(async (client) => {
      const updated = await client.query("UPDATE apps SET signing_key = $1 WHERE id = $2", [signingKey, appId]);
      if (updated.rowCount === 0) return false;
      await client.query(
        `UPDATE api_tokens SET expires_at = $1
         WHERE app_id = $2 AND kind = 'master' AND (expires_at IS NULL OR expires_at > $1)`,
        [previousExpiresAt, appId],
      );
      await this.#insertToken(client, next);
      return true;
    });
  }

  async addApiToken(token: ApiTokenRecord, limit = Number.POSITIVE_INFINITY): Promise<boolean> {
    return this.#transaction(async (client) => {
      await lockCredentialsOf(client, token.appId);
      const { rows } = await client.query("SELECT COUNT(*) AS n FROM api_tokens WHERE app_id = $1 AND kind = $2", [
        token.appId,
        token.kind,
      ]);
      if (Number(rows[0].n) >= limit) return false;
      await this.#insertToken(client, token);
      return true;
    });
  }

  async #insertToken(db: pg.Pool | pg.PoolClient, token: ApiTokenRecord): Promise<void> {
    await db.query(
      `INSERT INTO api_tokens (token_hash, app_id, kind, preview, scopes, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        token.tokenHash,
        token.appId,
        token.kind,
        token.preview,
        JSON.stringify(token.scopes),
        token.createdAt,
        token.expiresAt,
      ],
    );
  }

  async findToken(tokenHash: string, now: number): Promise<{ app: App; token: ApiTokenRecord } | undefined> {
    const { rows } = await this.#pool.query(
      `SELECT a.id, a.name, a.signing_key, a.created_at, to_jsonb(t) AS token
       FROM api_tokens t JOIN apps a ON a.id = t.app_id
       WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)`,
      [tokenHash, now],
    );
    return rows[0] && { app: toApp(rows[0]), token: toToken(rows[0].token) };
  }

  async listApiTokens(appId: string, now: number): Promise<ApiTokenRecord[]> {
    const { rows } = await this.#pool.query(
      "SELECT * FROM api_tokens WHERE app_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at",
      [appId, now],
    );
    return rows.map(toToken);
  }

  async deleteApiToken(appId: string, tokenHash: string): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      "DELETE FROM api_tokens WHERE app_id = $1 AND token_hash = $2 AND kind = 'secondary'",
      [appId, tokenHash],
    );
    return (rowCount ?? 0) > 0;
  }

  async addApiKey(key: ApiKey, limit = Number.POSITIVE_INFINITY): Promise<ApiKey | undefined> {
    return this.#transaction(async (client) => {
      await lockCredentialsOf(client, key.appId);
      const { rows } = await client.query(
        "SELECT COUNT(*) AS n, MAX(created_at) AS newest FROM api_keys WHERE app_id = $1",
        [key.appId],
      );
      if (Number(rows[0].n) >= limit) return undefined;
      const kept = { ...key, createdAt: Math.max(key.createdAt, Number(rows[0].newest ?? 0) + 1) };
      await client.query("INSERT INTO api_keys (api_key, app_id, secret, created_at) VALUES ($1, $2, $3, $4)", [
        kept.apiKey,
        kept.appId,
        kept.secret,
        kept.createdAt,
      ]);
      return kept;
    });
  }

  async listApiKeys(appId: string): Promise<ApiKey[]> {
    const { rows } = await this.#pool.query(
      "SELECT * FROM api_keys WHERE app_id = $1 ORDER BY created_at DESC, api_key DESC",
      [appId],
    );
    return rows.map(toApiKey);
  }

  async findApiKey(apiKey: string): Promise<{ app: App; key: ApiKey } | undefined> {
    const { rows } = await this.#pool.query(
      `SELECT a.id, a.name, a.signing_key, a.created_at, to_jsonb(k) AS key
       FROM api_keys k JOIN apps a ON a.id = k.app_id WHERE k.api_key = $1`,
      [apiKey],
    );
    return (
      rows[0] && { app: toApp(rows[0]), key: toApiKey({ ...rows[0].key, created_at: Number(rows[0].key.created_at) }) }
    );
  }

  async deleteApiKey(appId: string, apiKey: string): Promise<boolean> {
    const { rowCount } = await this.#pool.query("DELETE FROM api_keys WHERE app_id = $1 AND api_key = $2", [
      appId,
      apiKey,
    ]);
    return (rowCount ?? 0) > 0;
  }

  async getAppSettings(appId: string, namespace: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await this.#pool.query("SELECT settings FROM app_settings WHERE app_id = $1 AND namespace = $2", [
      appId,
      namespace,
    ]);
    return rows[0]?.settings;
  }

  async saveAppSettings(appId: string, namespace: string, settings: Record<string, unknown>, now: number) {
    await this.#pool.query(
      `INSERT INTO app_settings (app_id, namespace, settings, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (app_id, namespace) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
      [appId, namespace, JSON.stringify(settings), now],
    );
  }

  async listEndpoints(appId: string): Promise<Endpoint[]> {
    const { rows } = await this.#pool.query("SELECT * FROM endpoints WHERE app_id = $1 ORDER BY created_at, id", [
      appId,
    ]);
    return rows.map(toEndpoint);
  }

  async getEndpoint(endpointId: string): Promise<Endpoint | undefined> {
    const { rows } = await this.#pool.query("SELECT * FROM endpoints WHERE id = $1", [endpointId]);
    return rows[0] && toEndpoint(rows[0]);
  }

  async saveEndpoint(endpoint: Endpoint): Promise<void> {
    await this.#pool.query(SAVE_ENDPOINT, endpointParams(endpoint));
  }

  async changeEndpoint(endpointId: string, change: (current: Endpoint | undefined) => Endpoint | undefined) {
    return this.#transaction(async (client) => {
      // The advisory lock orders changes of one endpoint id, the first save of a new one included (no
      // row to lock yet); the row lock waits out a delete, after which there is no row.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext(${LOCK_SCOPE} || 'herald_endpoint:' || $1))`, [
        endpointId,
      ]);
      const { rows } = await client.query("SELECT * FROM endpoints WHERE id = $1 FOR UPDATE", [endpointId]);
      const before: Endpoint | undefined = rows[0] && toEndpoint(rows[0]);
      const after = change(before);
      if (after) await client.query(SAVE_ENDPOINT, endpointParams(after));
      return { before, after };
    });
  }

  async createEndpoint(endpoint: Endpoint, keys: SigningKey[]): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query(INSERT_ENDPOINT, endpointParams(endpoint));
      await insertSigningKeys(client, keys);
    });
  }

  async recordEndpointHealth(
    changes: EndpointHealthChange[],
    now: number,
    limits: AutoDisableLimits,
  ): Promise<DisabledEndpoint[]> {
    const relevant = changes.filter((c) => c.succeeded || c.failingSince !== null || c.failedDeliveries > 0);
    if (relevant.length === 0) return [];
    return this.#transaction(async (client) => {
      // One statement for the batch; a success restarts a streak, anything else extends it.
      const { rows } = await client.query(
        `UPDATE endpoints AS e SET
           failing_since = CASE WHEN c.succeeded THEN c.failing_since ELSE COALESCE(e.failing_since, c.failing_since) END,
           failed_deliveries = CASE WHEN c.succeeded THEN c.failed_deliveries
             ELSE e.failed_deliveries + c.failed_deliveries END
         FROM unnest($1::text[], $2::boolean[], $3::bigint[], $4::integer[])
           AS c(endpoint_id, succeeded, failing_since, failed_deliveries)
         WHERE e.id = c.endpoint_id
           AND (NOT c.succeeded OR e.failing_since IS DISTINCT FROM c.failing_since
             OR e.failed_deliveries <> c.failed_deliveries)
         RETURNING e.id, e.app_id, e.enabled, e.failing_since, e.failed_deliveries`,
        columns(relevant, "endpointId", "succeeded", "failingSince", "failedDeliveries"),
      );
      const disabled: DisabledEndpoint[] = [];
      for (const row of rows) {
        if (!row.enabled) continue;
        const reason = autoDisableReason(
          {
            failingSince: row.failing_since === null ? null : Number(row.failing_since),
            failedDeliveries: row.failed_deliveries,
          },
          now,
          limits,
        );
        if (reason === undefined) continue;
        await client.query(
          "UPDATE endpoints SET enabled = false, disabled_reason = $1, updated_at = $2 WHERE id = $3 AND enabled",
          [reason, now, row.id],
        );
        disabled.push({ endpointId: row.id, appId: row.app_id, reason });
      }
      return disabled;
    });
  }

  async disableEndpoint(endpointId: string, reason: string, now: number): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      "UPDATE endpoints SET enabled = false, disabled_reason = $1, updated_at = $2 WHERE id = $3 AND enabled",
      [reason, now, endpointId],
    );
    return (rowCount ?? 0) > 0;
  }

  async renewListenLeases(endpointIds: readonly string[], until: number): Promise<void> {
    await this.#pool.query("UPDATE endpoints SET listen_lease_until = $1 WHERE id = ANY($2::text[])", [
      until,
      endpointIds,
    ]);
  }

  async expiredListenEndpoints(now: number, leaseMs: number, limit: number) {
    const { rows } = await this.#pool.query(
      `SELECT app_id AS "appId", id, url FROM endpoints
       WHERE url LIKE 'listen://%' AND COALESCE(listen_lease_until, updated_at + $2) < $1 LIMIT $3`,
      [now, leaseMs, limit],
    );
    return rows as { appId: string; id: string; url: string }[];
  }

  async deleteEndpoint(appId: string, endpointId: string, now: number): Promise<boolean> {
    return this.#transaction(async (client) => {
      const deleted = await client.query("DELETE FROM endpoints WHERE app_id = $1 AND id = $2", [appId, endpointId]);
      if (deleted.rowCount === 0) return false;
      // After the delete, which waits for resends and recoveries holding the endpoint row: this
      // statement then sees what they made pending.
      await client.query(
        "UPDATE deliveries SET state = 'failed', ended_reason = $3, updated_at = $1 WHERE endpoint_id = $2 AND state = 'pending'",
        [now, endpointId, ENDPOINT_DELETED],
      );
      await client.query("DELETE FROM signing_keys WHERE endpoint_id = $1", [endpointId]);
      return true;
    });
  }

  async addSigningKeys(endpointId: string, keys: SigningKey[], retireAt?: number): Promise<void> {
    await this.#transaction(async (client) => {
      if (retireAt !== undefined) {
        await client.query(
          "UPDATE signing_keys SET expires_at = $1 WHERE endpoint_id = $2 AND (expires_at IS NULL OR expires_at > $1)",
          [retireAt, endpointId],
        );
      }
      await insertSigningKeys(client, keys);
    });
  }

  async listSigningKeys(endpointId: string, now: number): Promise<SigningKey[]> {
    const { rows } = await this.#pool.query(
      `SELECT * FROM signing_keys WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2)
       ORDER BY created_at DESC, id DESC`,
      [endpointId, now],
    );
    return rows.map(toSigningKey);
  }

  async listEvents(appId: string, query: EventQuery): Promise<EventView[]> {
    const { sql, params } = postgresBinding((bind) => listEventsSql("postgres", appId, query, bind));
    const { rows } = await this.#pool.query(prepared(sql, params));
    return rows.map(toEvent);
  }

  async getEvent(appId: string, eventId: string): Promise<EventView | undefined> {
    const { rows } = await this.#pool.query("SELECT * FROM events WHERE app_id = $1 AND id = $2", [appId, eventId]);
    return rows[0] && toEvent(rows[0]);
  }

  async publish(batch: PublishBatch, onCommitted?: () => void): Promise<boolean> {
    const published = await this.#transaction(async (client) => {
      // deleteApp waits for this publish to end, then deletes what it wrote; a publish that comes while
      // a delete runs or waits is refused.
      const { beingDeleted, live } = await lockApps(client, [batch.appId]);
      if (beingDeleted) throw appBeingDeleted();
      if (!live.has(batch.appId)) throw appDeleted();
      const key = batch.idempotency;
      if (key) {
        await client.query(
          "DELETE FROM idempotency_keys WHERE app_id = $1 AND scope = $2 AND key = $3 AND created_at < $4",
          [batch.appId, key.scope, key.key, key.expiredBefore],
        );
        const inserted = await client.query(
          `INSERT INTO idempotency_keys (app_id, scope, key, request_sha256, response, created_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
          [batch.appId, key.scope, key.key, key.requestSha256, key.response, key.createdAt],
        );
        if (inserted.rowCount === 0) return false;
      }
      const { events } = batch;
      const types = new Map(events.map((e) => [e.id, e.type]));
      // One copy per delivery with what its row needs: its event's type, and null for a body of its own.
      const deliveries = batch.deliveries.map((d) => ({
        ...d,
        type: types.get(d.eventId) ?? "",
        bodyOf: d.bodyOf ?? null,
      }));
      // One statement per table, whatever the batch size: arrays in, rows out.
      await client.query(
        `INSERT INTO events (id, app_id, type, payload, created_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])`,
        columns(events, "id", "appId", "type", "payload", "createdAt"),
      );
      if (deliveries.length > 0) {
        // Sent at commit, to every listening worker process.
        await client.query("SELECT pg_notify($1, $2)", [CHANNEL, notifyPayload(deliveries.map((d) => d.endpointId))]);
        // The body goes to delivery_bodies (migration 14); the row's row_body stays empty.
        await client.query(
          `INSERT INTO deliveries (id, app_id, event_id, endpoint_id, type, row_body, state, attempts, max_attempts,
             next_attempt_at, created_at, updated_at, body_of)
           SELECT id, app_id, event_id, endpoint_id, type, '', 'pending', 0, max_attempts, created_at, created_at,
             created_at, body_of
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::text[])
             AS d(id, app_id, event_id, endpoint_id, type, max_attempts, created_at, body_of)`,
          columns(deliveries, "id", "appId", "eventId", "endpointId", "type", "maxAttempts", "createdAt", "bodyOf"),
        );
        // A delivery that shares another's body (migration 15) has none of its own.
        await insertBodies(
          client,
          deliveries.filter((d) => d.bodyOf === null),
        );
      }
      return true;
    });
    // Committed is durable here: the commit waited for the server's WAL flush.
    if (published) onCommitted?.();
    return published;
  }

  async findIdempotentResponse(
    appId: string,
    scope: string,
    key: string,
    since: number,
  ): Promise<IdempotentResponse | undefined> {
    const { rows } = await this.#pool.query(
      `SELECT response, request_sha256 FROM idempotency_keys
       WHERE app_id = $1 AND scope = $2 AND key = $3 AND created_at >= $4`,
      [appId, scope, key, since],
    );
    return rows[0] && { response: rows[0].response, requestSha256: rows[0].request_sha256 };
  }

  async expireIdempotencyKeys(before: number): Promise<number> {
    const { rowCount } = await this.#pool.query("DELETE FROM idempotency_keys WHERE created_at < $1", [before]);
    return rowCount ?? 0;
  }

  async claimDue(endpointId: string, limit: number, now: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
    // SKIP LOCKED: workers in other processes claiming the same endpoint take different rows.
    // A delivery made before migration 14 still holds its body in its row; one may share another's (15).
    const { rows } = await this.#pool.query(
      `WITH due AS (
         SELECT id FROM deliveries
         WHERE endpoint_id = $1 AND state = 'pending' AND next_attempt_at <= $2
         ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED),
       claimed AS (
         UPDATE deliveries d SET next_attempt_at = $4 FROM due, events e WHERE d.id = due.id AND e.id = d.event_id
         RETURNING d.id, d.endpoint_id, d.row_body, d.attempts, d.max_attempts, d.first_attempt_at, e.type,
           d.body_of)
       SELECT c.id, c.endpoint_id AS "endpointId", COALESCE(b.body, c.row_body) AS body, c.attempts,
         c.max_attempts AS "maxAttempts", c.first_attempt_at AS "firstAttemptAt", c.type
       FROM claimed c LEFT JOIN delivery_bodies b ON b.delivery_id = COALESCE(c.body_of, c.id)`,
      [endpointId, now, limit, leaseUntil],
    );
    return rows as ClaimedDelivery[];
  }

  async releaseLeases(deliveryIds: string[], now: number): Promise<void> {
    await this.#pool.query(
      "UPDATE deliveries SET next_attempt_at = $1 WHERE id = ANY($2::text[]) AND state = 'pending'",
      [now, deliveryIds],
    );
  }

  async cancelDeliveries(deliveryIds: string[], reason: string, now: number): Promise<void> {
    await this.#pool.query(
      `UPDATE deliveries SET state = 'failed', ended_reason = $1, updated_at = $2
       WHERE id = ANY($3::text[]) AND state = 'pending'`,
      [reason, now, deliveryIds],
    );
  }

  async endOrphanedDeliveries(endpointId: string, reason: string, now: number): Promise<number> {
    const { rowCount } = await this.#pool.query(
      `UPDATE deliveries SET state = 'failed', ended_reason = $1, updated_at = $2
       WHERE endpoint_id = $3 AND state = 'pending' AND NOT EXISTS (SELECT 1 FROM endpoints WHERE id = $3)`,
      [reason, now, endpointId],
    );
    return rowCount ?? 0;
  }

  async queueStats(): Promise<QueueStats> {
    const [byProfile, due] = await Promise.all([
      this.#pool.query(
        `SELECT e.profile, COUNT(*)::int AS count FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
         WHERE d.state = 'pending' GROUP BY e.profile`,
      ),
      this.endpointsWithPending(),
    ]);
    return {
      pendingByProfile: byProfile.rows as QueueStats["pendingByProfile"],
      oldestDueAt: due.length === 0 ? null : Math.min(...due.map((endpoint) => endpoint.dueAt)),
    };
  }

  async sampleQueue(at: number): Promise<boolean> {
    return this.#transaction(async (client) => {
      // A second process sampling the same time waits here for the first to commit, then writes nothing.
      const run = await client.query("INSERT INTO queue_sample_runs (sampled_at) VALUES ($1) ON CONFLICT DO NOTHING", [
        at,
      ]);
      if (run.rowCount === 0) return false;
      await client.query(sampleQueueSql("postgres", "$1::bigint"), [at]);
      return true;
    });
  }

  async queueHistory(appId: string, since: number): Promise<QueueHistory> {
    const [runs, samples] = await Promise.all([
      this.#pool.query("SELECT sampled_at FROM queue_sample_runs WHERE sampled_at >= $1 ORDER BY sampled_at", [since]),
      this.#pool.query(
        `SELECT sampled_at AS "sampledAt", endpoint_id AS "endpointId", pending, oldest_created_at AS "oldestCreatedAt"
         FROM queue_samples WHERE app_id = $1 AND sampled_at >= $2 ORDER BY sampled_at, endpoint_id`,
        [appId, since],
      ),
    ]);
    return { runs: runs.rows.map((row) => row.sampled_at as number), samples: samples.rows as QueueSample[] };
  }

  async pruneQueueSamples(before: number, limit: number): Promise<QueueSamplesPruned> {
    return this.#transaction(async (client) => {
      const runs = await client.query(
        `DELETE FROM queue_sample_runs WHERE sampled_at IN (
           SELECT sampled_at FROM queue_sample_runs WHERE sampled_at < $1 ORDER BY sampled_at LIMIT $2)`,
        [before, limit],
      );
      const samples = await client.query(
        `DELETE FROM queue_samples WHERE (app_id, sampled_at, endpoint_id) IN (
           SELECT app_id, sampled_at, endpoint_id FROM queue_samples WHERE sampled_at < $1 ORDER BY sampled_at LIMIT $2)`,
        [before, limit],
      );
      return { runs: runs.rowCount ?? 0, samples: samples.rowCount ?? 0 };
    });
  }

  async endpointsWithPending(): Promise<EndpointDue[]> {
    // A loose index scan: one index probe per endpoint, however many deliveries are pending.
    const { rows } = await this.#pool.query(`
      WITH RECURSIVE pending(endpoint_id) AS (
        SELECT MIN(endpoint_id) FROM deliveries WHERE state = 'pending'
        UNION ALL
        SELECT (SELECT MIN(endpoint_id) FROM deliveries WHERE state = 'pending' AND endpoint_id > pending.endpoint_id)
        FROM pending WHERE pending.endpoint_id IS NOT NULL
      )
      SELECT endpoint_id AS "endpointId",
             (SELECT MIN(next_attempt_at) FROM deliveries d
              WHERE d.state = 'pending' AND d.endpoint_id = pending.endpoint_id) AS "dueAt"
      FROM pending WHERE endpoint_id IS NOT NULL`);
    return rows as EndpointDue[];
  }

  async recordAttempts(attempts: AttemptRecord[]): Promise<void> {
    await this.#transaction(async (client) => {
      // Guarded by the attempt number, so a late duplicate of an attempt cannot move the state back.
      const { rows } = await client.query(
        `UPDATE deliveries d SET ${attemptOutcomeSet("d.", "o.state", "o.next_attempt_at")},
           attempts = o.attempt, updated_at = $7, first_attempt_at = COALESCE(d.first_attempt_at, o.started_at)
         FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::int[])
           AS o(id, state, attempt, next_attempt_at, started_at, ord)
         WHERE d.id = o.id AND d.attempts = o.attempt - 1
         RETURNING o.ord`,
        [
          ...columns(attempts, "deliveryId", "state", "attempt", "nextAttemptAt", "startedAt"),
          attempts.map((_, index) => index),
          Date.now(),
        ],
      );
      const recorded = rows.map((row) => attempts[row.ord as number]!);
      await this.#insertAttempts(client, recorded);
    });
  }

  async logSyncCalls(records: SyncCallRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#transaction(async (client) => {
      // As a publish does: a call whose app is being deleted, or was deleted while it ran, is not logged.
      const { live } = await lockApps(client, [...new Set(records.map((record) => record.event.appId))].sort());
      const calls = records.filter((record) => live.has(record.event.appId));
      if (calls.length === 0) return;
      await client.query(
        `INSERT INTO events (id, app_id, type, payload, created_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])`,
        columns(
          calls.map((call) => call.event),
          "id",
          "appId",
          "type",
          "payload",
          "createdAt",
        ),
      );
      const deliveries = calls.map(({ event, delivery, attempt }) => ({
        ...delivery,
        type: event.type,
        startedAt: attempt.startedAt,
        finishedAt: attempt.startedAt + attempt.durationMs,
      }));
      await client.query(
        `INSERT INTO deliveries (id, app_id, event_id, endpoint_id, type, row_body, state, attempts, max_attempts,
           next_attempt_at, created_at, updated_at, first_attempt_at)
         SELECT id, app_id, event_id, endpoint_id, type, '', state, 1, 1, finished_at, created_at, finished_at,
           started_at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
           $8::bigint[], $9::bigint[])
           AS d(id, app_id, event_id, endpoint_id, type, state, created_at, started_at, finished_at)`,
        columns(
          deliveries,
          "id",
          "appId",
          "eventId",
          "endpointId",
          "type",
          "state",
          "createdAt",
          "startedAt",
          "finishedAt",
        ),
      );
      await insertBodies(client, deliveries);
      await this.#insertAttempts(
        client,
        calls.map(({ delivery, attempt }) => ({ ...attempt, deliveryId: delivery.id })),
      );
    });
  }

  async #insertAttempts(client: pg.PoolClient, recorded: (AttemptView & { deliveryId: string })[]): Promise<void> {
    if (recorded.length === 0) return;
    await client.query(
      `INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body,
         body_sha256, error_class, request_headers, response_headers, response_truncated)
       SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[],
         $9::text[], $10::jsonb[], $11::jsonb[], $12::boolean[])
       ON CONFLICT DO NOTHING`,
      [
        ...columns(
          recorded,
          "deliveryId",
          "attempt",
          "startedAt",
          "durationMs",
          "statusCode",
          "error",
          "responseBody",
          "bodySha256",
          "errorClass",
        ),
        recorded.map((a) => a.requestHeaders && JSON.stringify(a.requestHeaders)),
        recorded.map((a) => a.responseHeaders && JSON.stringify(a.responseHeaders)),
        recorded.map((a) => a.truncated),
      ],
    );
  }

  async listDeliveries(appId: string, query: DeliveryQuery): Promise<DeliveryView[]> {
    let typeEndpoints: string[] = [];
    if (query.type !== undefined && query.endpointId === undefined && query.eventId === undefined) {
      const { rows } = await this.#pool.query(
        prepared(typeEndpointsSql("postgres", ["$1", "$2", "$1", "$2"]), [appId, query.type]),
      );
      typeEndpoints = rows.map((row) => row.endpoint_id as string);
    }
    const { sql, params } = postgresBinding((bind) => listDeliveriesSql("postgres", appId, query, bind, typeEndpoints));
    const { rows } = await this.#pool.query<DeliveryRow>(prepared(sql, params));
    if (query.withPayload && rows.length > 0) {
      const events = await this.#pool.query("SELECT id, payload FROM events WHERE id = ANY($1::text[])", [
        rows.map((row) => row.event_id),
      ]);
      const payloads = new Map(events.rows.map((row) => [row.id as string, row.payload as string]));
      for (const row of rows) row.payload = payloads.get(row.event_id);
    }
    return this.#withAttempts(rows);
  }

  async listDeliveryOutcomes(appId: string, query: OutcomeQuery): Promise<DeliveryOutcome[]> {
    const { sql, params } = postgresBinding((bind) => listDeliveriesSql("postgres", appId, query, bind));
    const { rows } = await this.#pool.query<DeliveryRow>(prepared(sql, params));
    if (rows.length === 0) return [];
    const attempts = await this.#pool.query<AttemptOutcomeRow>(
      `SELECT ${ATTEMPT_OUTCOME_COLUMNS} FROM attempts WHERE delivery_id = ANY($1::text[]) ORDER BY delivery_id, attempt`,
      [rows.map((row) => row.id)],
    );
    const byDelivery = new Map<string, AttemptOutcomeRow[]>();
    for (const attempt of attempts.rows) {
      const list = byDelivery.get(attempt.delivery_id) ?? [];
      list.push(attempt);
      byDelivery.set(attempt.delivery_id, list);
    }
    return rows.map((row) => toDeliveryOutcome(row, byDelivery.get(row.id) ?? []));
  }

  async getDelivery(appId: string, deliveryId: string): Promise<DeliveryView | undefined> {
    const { rows } = await this.#pool.query(
      `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE app_id = $1 AND id = $2`,
      [appId, deliveryId],
    );
    return (await this.#withAttempts(rows))[0];
  }

  async retryDelivery(
    appId: string,
    deliveryId: string,
    extraAttempts: number,
    now: number,
    maxManualRetries: number,
  ): Promise<DeliveryView | undefined> {
    const resent = await this.#transaction(async (client) => {
      // The endpoint row, held until commit: a concurrent delete waits, then ends this delivery with
      // the endpoint's other pending ones; a delete that came first leaves no row to hold.
      const { rows: held } = await client.query(
        `SELECT e.id FROM endpoints e JOIN deliveries d ON d.endpoint_id = e.id
         WHERE d.app_id = $1 AND d.id = $2 FOR KEY SHARE OF e`,
        [appId, deliveryId],
      );
      if (!held[0]) return false;
      const { rowCount } = await client.query(
        `UPDATE deliveries SET state = 'pending', ended_reason = NULL, max_attempts = attempts + $1, next_attempt_at = $2,
           updated_at = $2, first_attempt_at = NULL, manual_retries = manual_retries + 1
         WHERE app_id = $3 AND id = $4 AND state != 'pending' AND manual_retries < $5`,
        [extraAttempts, now, appId, deliveryId, maxManualRetries],
      );
      if (rowCount === 0) return false;
      await client.query("SELECT pg_notify($1, $2)", [CHANNEL, notifyPayload([held[0].id])]);
      return true;
    });
    return resent ? this.getDelivery(appId, deliveryId) : undefined;
  }

  async createRecovery(r: Recovery): Promise<Recovery> {
    for (;;) {
      // The partial unique index decides between two processes inserting at once: one row is kept.
      const { rows } = await this.#pool.query(
        `WITH inserted AS (
           INSERT INTO recoveries (id, app_id, endpoint_id, since, until, status, recovered, total, created_at, finished_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (endpoint_id) WHERE status = 'running' DO NOTHING
           RETURNING *)
         SELECT * FROM inserted
         UNION ALL SELECT * FROM recoveries WHERE endpoint_id = $3 AND status = 'running' AND NOT EXISTS (SELECT 1 FROM inserted)`,
        [r.id, r.appId, r.endpointId, r.since, r.until, r.status, r.recovered, r.total, r.createdAt, r.finishedAt],
      );
      // Empty only when the running one finished between the conflict and the read: insert again.
      if (rows[0]) return toRecovery(rows[0]);
    }
  }

  async getRecovery(appId: string, recoveryId: string): Promise<Recovery | undefined> {
    const { rows } = await this.#pool.query("SELECT * FROM recoveries WHERE app_id = $1 AND id = $2", [
      appId,
      recoveryId,
    ]);
    return rows[0] && toRecovery(rows[0]);
  }

  async leaseRecovery(now: number, leaseUntil: number): Promise<Recovery | undefined> {
    // SKIP LOCKED: of several processes looking at once, each takes a different job, or none.
    const { rows } = await this.#pool.query(
      `UPDATE recoveries SET lease_until = $2
       WHERE id = (SELECT id FROM recoveries WHERE status = 'running' AND lease_until <= $1
                   ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         AND lease_until <= $1
       RETURNING *`,
      [now, leaseUntil],
    );
    return rows[0] && toRecovery(rows[0]);
  }

  async stepRecovery(recoveryId: string, step: RecoveryStep): Promise<Recovery | undefined> {
    return this.#transaction(async (client) => {
      // The row lock orders steps of one job, should two processes ever hold it (a lease outlived).
      const { rows: jobs } = await client.query("SELECT * FROM recoveries WHERE id = $1 FOR UPDATE", [recoveryId]);
      const job = jobs[0];
      if (job?.status !== "running") return job && toRecovery(job);
      // Held until commit, as a resend holds it: a delete waits, then ends what this step made pending.
      const { rows: held } = await client.query("SELECT id FROM endpoints WHERE id = $1 FOR KEY SHARE", [
        job.endpoint_id,
      ]);
      if (!held[0]) {
        // Deleted meanwhile: what it would make pending would never be sent.
        const { rows } = await client.query(
          "UPDATE recoveries SET status = 'failed', error = $2, finished_at = $3 WHERE id = $1 RETURNING *",
          [recoveryId, RECOVERY_ENDPOINT_DELETED, step.now],
        );
        return toRecovery(rows[0]);
      }
      const window = [job.app_id, job.endpoint_id, job.since, job.until];
      let total = job.total as number | null;
      if (total === null) {
        const counted = await client.query(
          `SELECT COUNT(*) AS n FROM deliveries
           WHERE app_id = $1 AND endpoint_id = $2 AND state = 'failed' AND created_at >= $3 AND created_at <= $4`,
          window,
        );
        total = Number(counted.rows[0].n);
      }
      // The batch is every failed delivery it walks over; those resent by hand as often as allowed are skipped.
      const { rows: batch } = await client.query(
        `WITH next AS (
           SELECT id, created_at, manual_retries FROM deliveries
           WHERE app_id = $1 AND endpoint_id = $2 AND state = 'failed' AND created_at >= $3 AND created_at <= $4
             AND (created_at, id) > ($5, $6)
           ORDER BY created_at, id LIMIT $7 FOR UPDATE),
         recovered AS (
           UPDATE deliveries d SET state = 'pending', ended_reason = NULL, max_attempts = d.attempts + $8,
             next_attempt_at = $9, updated_at = $9, first_attempt_at = NULL, manual_retries = d.manual_retries + 1
           FROM next WHERE d.id = next.id AND next.manual_retries < $10
           RETURNING d.id)
         SELECT next.id, next.created_at, recovered.id IS NOT NULL AS recovered
         FROM next LEFT JOIN recovered ON recovered.id = next.id`,
        [
          ...window,
          job.cursor_created_at ?? Number.MIN_SAFE_INTEGER,
          job.cursor_id ?? "",
          step.limit,
          step.extraAttempts,
          step.now,
          step.maxManualRetries,
        ],
      );
      const recovered = batch.filter((row) => row.recovered).length;
      let last: { id: string; created_at: number } | undefined;
      for (const row of batch) {
        if (!last || row.created_at > last.created_at || (row.created_at === last.created_at && row.id > last.id)) {
          last = row;
        }
      }
      if (recovered > 0) await client.query("SELECT pg_notify($1, $2)", [CHANNEL, notifyPayload([job.endpoint_id])]);
      const done = batch.length < step.limit;
      const { rows } = await client.query(
        `UPDATE recoveries SET recovered = recovered + $2, skipped = skipped + $9, total = $3, cursor_created_at = $4,
           cursor_id = $5, lease_until = $6, status = CASE WHEN $7 THEN 'succeeded' ELSE status END,
           finished_at = CASE WHEN $7 THEN $8 ELSE finished_at END
         WHERE id = $1 RETURNING *`,
        [
          recoveryId,
          recovered,
          total,
          last?.created_at ?? job.cursor_created_at,
          last?.id ?? job.cursor_id,
          step.leaseUntil,
          done,
          step.now,
          batch.length - recovered,
        ],
      );
      return rows[0] && toRecovery(rows[0]);
    });
  }

  async failRecovery(recoveryId: string, error: string, now: number): Promise<void> {
    await this.#pool.query(
      "UPDATE recoveries SET status = 'failed', error = $2, finished_at = $3 WHERE id = $1 AND status = 'running'",
      [recoveryId, error, now],
    );
  }

  async pruneApp(appId: string, before: number, limit: number): Promise<PruneResult> {
    return this.#transaction(async (client) => {
      // Oldest finished deliveries first, per state, each read off deliveries_by_app.
      const { rows: deleted } = await client.query(
        `DELETE FROM deliveries WHERE id IN (
           SELECT id FROM (
             (SELECT id, created_at FROM deliveries WHERE app_id = $1 AND state = 'succeeded' AND created_at < $2
              ORDER BY created_at LIMIT $3)
             UNION ALL
             (SELECT id, created_at FROM deliveries WHERE app_id = $1 AND state = 'failed' AND created_at < $2
              ORDER BY created_at LIMIT $3)
           ) AS old ORDER BY created_at LIMIT $3)
         AND state <> 'pending'
         RETURNING id, COALESCE(body_of, id) AS body_key`,
        [appId, before, limit],
      );
      const ids = deleted.map((row) => row.id as string);
      const attempts = ids.length
        ? await client.query("DELETE FROM attempts WHERE delivery_id = ANY($1::text[])", [ids])
        : { rowCount: 0 };
      // Bodies the deleted deliveries held or shared: each goes once nothing else uses it.
      if (ids.length) {
        await client.query(
          `DELETE FROM delivery_bodies b WHERE b.delivery_id = ANY($1::text[])
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = b.delivery_id)
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.body_of = b.delivery_id)`,
          [[...new Set(deleted.map((row) => row.body_key as string))]],
        );
      }
      const events = await client.query(
        `DELETE FROM events WHERE id IN (
           SELECT id FROM events e WHERE app_id = $1 AND created_at < $2
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
           ORDER BY created_at LIMIT $3)`,
        [appId, before, limit],
      );
      return { deliveries: ids.length, attempts: attempts.rowCount ?? 0, events: events.rowCount ?? 0 };
    });
  }

  /** LISTEN on a connection of its own, outside the pool; reconnects after the server restarts. */
  async listenForDeliveries(onDue: (endpointIds: string[]) => void): Promise<() => Promise<void>> {
    let client: pg.Client | undefined;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      const next = new pg.Client({ connectionString: this.#connectionString });
      next.on("notification", (message) => {
        onDue(message.payload ? (JSON.parse(message.payload) as string[]) : []);
      });
      next.on("error", () => {
        next.end().catch(() => {});
        if (!stopped) retry = setTimeout(() => void connect().catch(() => {}), LISTEN_RETRY_MS);
      });
      try {
        await next.connect();
        await next.query(`LISTEN ${CHANNEL}`);
        client = next;
        // Whatever was committed while we were not listening: look at every endpoint.
        onDue([]);
      } catch {
        await next.end().catch(() => {});
        if (!stopped) retry = setTimeout(() => void connect().catch(() => {}), LISTEN_RETRY_MS);
      }
    };
    await connect();
    return async () => {
      stopped = true;
      clearTimeout(retry);
      await client?.end().catch(() => {});
    };
  }

  async #withAttempts(rows: DeliveryRow[]): Promise<DeliveryView[]> {
    if (rows.length === 0) return [];
    const attempts = await this.#pool.query(
      "SELECT * FROM attempts WHERE delivery_id = ANY($1::text[]) ORDER BY delivery_id, attempt",
      [rows.map((row) => row.id)],
    );
    const byDelivery = new Map<string, AttemptView[]>();
    for (const attempt of attempts.rows) {
      const list = byDelivery.get(attempt.delivery_id) ?? [];
      list.push(toAttempt(attempt));
      byDelivery.set(attempt.delivery_id, list);
    }
    return rows.map((row) => toDeliveryView(row, byDelivery.get(row.id) ?? []));
  }
}

/** Numbers positional parameters for a query built with `Bind`. */
function postgresBinding(build: (bind: Bind) => string): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const sql = build((value) => {
    params.push(value);
    return `$${params.length}`;
  });
  return { sql, params };
}

/**
 * A listing as a named prepared statement: each connection parses it once per filter shape, instead of
 * on every call (a merge of a dozen ranges takes milliseconds to parse and plan).
 */
function prepared(text: string, values: unknown[]): pg.QueryConfig {
  return { name: `herald_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`, text, values };
}
