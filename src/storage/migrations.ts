export type Dialect = "sqlite" | "postgres";

/** The tables holding an app's rows (by `app_id`), children first; `attempts` hang off deliveries. */
export const APP_OWNED_TABLES = [
  "recoveries",
  "deliveries",
  "events",
  "signing_keys",
  "endpoints",
  "idempotency_keys",
  "api_tokens",
  "api_keys",
  "app_settings",
  "queue_samples",
];

/**
 * Versioned schema steps, applied in order; a step never changes once released. One text serves
 * both stores where the types agree (PostgreSQL's BIGINT and BOOLEAN are INTEGER and NUMERIC
 * affinity to SQLite, which stores the same values); a step has a text per dialect where they do
 * not (JSON documents are JSONB on PostgreSQL, TEXT on SQLite).
 */
export interface Migration {
  version: number;
  name: string;
  sql: string | Record<Dialect, string>;
}

/**
 * The steps a database lacks, in order. Refuses a database that a newer Herald has migrated past the
 * steps this one knows: such a step can change what rows mean (since step 14 a delivery's body is not
 * in its row), so running on it could send wrong bytes rather than fail.
 */
export function stepsToApply(applied: ReadonlySet<number>): Migration[] {
  const newest = Math.max(...applied);
  if (newest > SCHEMA_VERSION) {
    throw new Error(
      `The database's schema is at step ${newest}, applied by a newer Herald; this Herald knows steps up to ${SCHEMA_VERSION}. ` +
        "Run the newer Herald (or restore a backup taken before it migrated).",
    );
  }
  return MIGRATIONS.filter((migration) => !applied.has(migration.version));
}

export const migrationSql = (migration: Migration, dialect: Dialect): string =>
  typeof migration.sql === "string" ? migration.sql : migration.sql[dialect];

/** Step 2: one model for every wire profile. */
const profilesModel = (json: string, emptyObject: string, allScopes: string) => `
  ALTER TABLE api_tokens ADD COLUMN scopes ${json} NOT NULL DEFAULT ${allScopes};
  ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
  ALTER TABLE endpoints ADD COLUMN vocabulary TEXT NOT NULL DEFAULT 'sendbird';
  ALTER TABLE endpoints ADD COLUMN description TEXT NOT NULL DEFAULT '';
  ALTER TABLE endpoints ADD COLUMN headers ${json} NOT NULL DEFAULT ${emptyObject};
  -- The wire format of Sendbird Chat is called "sendbird" now that it is one of several.
  UPDATE endpoints SET profile = 'sendbird' WHERE profile = 'sendbird-chat';
  ALTER TABLE events RENAME COLUMN category TO type;
  CREATE INDEX events_by_app ON events(app_id, created_at);
  CREATE INDEX deliveries_by_event ON deliveries(event_id);
  ALTER TABLE attempts ADD COLUMN body_sha256 TEXT;
  CREATE TABLE signing_keys (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    endpoint_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    secret TEXT NOT NULL,
    public_key TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
  );
  CREATE INDEX signing_keys_by_endpoint ON signing_keys(endpoint_id);
`;

/** Step 3: Stream's API keys, per-app settings of a vendor's API, and the start of a delivery's window. */
const appKeysAndSettings = (json: string) => `
  CREATE TABLE api_keys (
    api_key TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    -- Kept in plain form: it is an HMAC key (Stream's X-Signature and JWTs), like the master token.
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE INDEX api_keys_by_app ON api_keys(app_id, created_at);
  CREATE TABLE app_settings (
    app_id TEXT NOT NULL REFERENCES apps(id),
    namespace TEXT NOT NULL,
    settings ${json} NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, namespace)
  );
  -- A profile that bounds all attempts of a delivery in time (Stream: 15 s) counts from the first.
  ALTER TABLE deliveries ADD COLUMN first_attempt_at BIGINT;
`;

/** Step 4: every attempt keeps what it sent and what came back. */
const attemptCapture = (json: string) => `
  ALTER TABLE attempts ADD COLUMN error_class TEXT;
  ALTER TABLE attempts ADD COLUMN request_headers ${json};
  ALTER TABLE attempts ADD COLUMN response_headers ${json};
  ALTER TABLE attempts ADD COLUMN response_truncated BOOLEAN NOT NULL DEFAULT FALSE;
`;

/**
 * Step 5: idempotency keys scoped per route (besides the app), each with a fingerprint of its first request,
 * so the same key with a different body is refused rather than replayed. The primary key changes,
 * so the table is rebuilt; keys from before were shared by both publish routes and keep answering
 * on both, with no fingerprint (they replay whatever the body, as before).
 */
const IDEMPOTENCY_SCOPE = `
  CREATE TABLE idempotency_keys_scoped (
    app_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_sha256 TEXT,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, scope, key)
  );
  INSERT INTO idempotency_keys_scoped (app_id, scope, key, request_sha256, response, created_at)
    SELECT app_id, 'POST /v1/events', key, NULL, response, created_at FROM idempotency_keys;
  INSERT INTO idempotency_keys_scoped (app_id, scope, key, request_sha256, response, created_at)
    SELECT app_id, 'POST /v1/events/batch', key, NULL, response, created_at FROM idempotency_keys;
  DROP TABLE idempotency_keys;
  ALTER TABLE idempotency_keys_scoped RENAME TO idempotency_keys;
  CREATE INDEX idempotency_keys_by_age ON idempotency_keys(created_at);
`;

/**
 * Step 9: the delivery log, queried by any filter through a few composite indexes. The event type is
 * copied onto deliveries so that a type filter is served by an index of its own table. Every listing
 * index ends with (created_at, id), the log's order, so a page is read off the index, never sorted;
 * `state` sits before it, so a listing without a status filter merges one index range per state
 * (three ranges, already ordered) instead of filtering rows on the way. Three indexes serve every
 * combination of app, endpoint, type and status (an event's deliveries come from deliveries_by_event):
 * by app (+ status), by app + endpoint (+ status), by app + type (+ endpoint + status). The two they
 * replace (by app and age, and the failed partial index) go. `manual_retries` counts resends by hand,
 * which are capped; `recoveries` keeps background recover jobs across restarts.
 */
const DELIVERY_LOG = `
  ALTER TABLE deliveries ADD COLUMN type TEXT NOT NULL DEFAULT '';
  UPDATE deliveries SET type = (SELECT type FROM events WHERE events.id = deliveries.event_id);
  ALTER TABLE deliveries ADD COLUMN manual_retries INTEGER NOT NULL DEFAULT 0;
  DROP INDEX deliveries_by_app;
  DROP INDEX deliveries_failed;
  CREATE INDEX deliveries_by_app ON deliveries(app_id, state, created_at, id);
  CREATE INDEX deliveries_by_endpoint ON deliveries(app_id, endpoint_id, state, created_at, id);
  CREATE INDEX deliveries_by_type ON deliveries(app_id, type, endpoint_id, state, created_at, id);
  DROP INDEX events_by_app;
  CREATE INDEX events_by_app ON events(app_id, created_at, id);
  CREATE INDEX events_by_type ON events(app_id, type, created_at, id);
  CREATE TABLE recoveries (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps(id),
    endpoint_id TEXT NOT NULL,
    since BIGINT NOT NULL,
    until BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    recovered INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    -- Where the walk through the window has got to: the last (created_at, id) made pending.
    cursor_created_at BIGINT,
    cursor_id TEXT,
    -- The process running it holds it until then; another takes it over after (a crash, a restart).
    lease_until BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
  );
  CREATE INDEX recoveries_running ON recoveries(lease_until) WHERE status = 'running';
`;

/**
 * Step 11: the queue's past, sampled (it cannot be rebuilt from the log). A run is a time a sample was
 * taken, over all apps: an endpoint absent from a run had nothing pending then, while a time with no run
 * (Herald was down) is a gap. Times are rounded to the sample period, so Herald processes sharing a
 * database collide on the run's key and one sample is written per time. Samples are keyed by app first,
 * so one app's last hours are one index range; both tables are pruned by age.
 */
const QUEUE_SAMPLES = `
  CREATE TABLE queue_sample_runs (
    sampled_at BIGINT PRIMARY KEY
  );
  CREATE TABLE queue_samples (
    app_id TEXT NOT NULL,
    sampled_at BIGINT NOT NULL,
    endpoint_id TEXT NOT NULL,
    pending INTEGER NOT NULL,
    oldest_created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, sampled_at, endpoint_id)
  );
  CREATE INDEX queue_samples_by_age ON queue_samples(sampled_at);
`;

/**
 * Step 13: at most one running recovery per endpoint, kept by the database (a partial unique index),
 * so two processes cannot both start one; and how many deliveries a recovery skipped because they had
 * been resent by hand as often as allowed. Recoveries of one endpoint already running side by side
 * (started through two processes before this step) keep the oldest; the others end as failed.
 */
const oneRunningRecovery = (nowMs: string) => `
  UPDATE recoveries SET status = 'failed', finished_at = ${nowMs},
    error = 'Another recovery of this endpoint was running at the same time; start this one again if it is still needed.'
  WHERE status = 'running' AND EXISTS (
    SELECT 1 FROM recoveries AS older
    WHERE older.endpoint_id = recoveries.endpoint_id AND older.status = 'running'
      AND (older.created_at < recoveries.created_at OR (older.created_at = recoveries.created_at AND older.id < recoveries.id)));
  CREATE UNIQUE INDEX recoveries_one_running ON recoveries(endpoint_id) WHERE status = 'running';
  ALTER TABLE recoveries ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
`;

/**
 * Step 14: a delivery's body in a table of its own. A delivery's row is rewritten at every claim and
 * every outcome, and SQLite (like PostgreSQL, below its TOAST threshold) rewrites a row whole: with
 * the body in it, each of those writes copied the payload again (measured: a claim and an outcome of
 * a 1.5 KB Sendbird body cost 58 µs together; 41 µs without it). Deliveries made from now on keep an
 * empty `legacy_body` and theirs here; older ones keep theirs where it was, so the step moves nothing.
 * The column is renamed so that a Herald from before this step, still running on the database, fails
 * on it instead of sending those deliveries with an empty body.
 */
const DELIVERY_BODIES = `
  CREATE TABLE delivery_bodies (
    delivery_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
  );
  ALTER TABLE deliveries RENAME COLUMN body TO legacy_body;
`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "core",
    sql: `
      CREATE TABLE apps (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        signing_key TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE api_tokens (
        token_hash TEXT PRIMARY KEY,
        app_id TEXT NOT NULL REFERENCES apps(id),
        kind TEXT NOT NULL CHECK (kind IN ('master', 'secondary')),
        preview TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE INDEX api_tokens_by_app ON api_tokens(app_id);
      CREATE TABLE endpoints (
        id TEXT PRIMARY KEY,
        app_id TEXT NOT NULL REFERENCES apps(id),
        profile TEXT NOT NULL,
        url TEXT NOT NULL,
        enabled BOOLEAN NOT NULL,
        event_types TEXT NOT NULL,
        options TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE INDEX endpoints_by_app ON endpoints(app_id);
      CREATE TABLE events (
        id TEXT PRIMARY KEY,
        app_id TEXT NOT NULL,
        category TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        app_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        endpoint_id TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      -- Partial: finished deliveries leave the index, so claiming never walks over them.
      CREATE INDEX deliveries_due ON deliveries(endpoint_id, next_attempt_at) WHERE state = 'pending';
      -- Listing reads by app and age; the state is filtered on the way. Dead letters get their own
      -- partial index, so a state change rewrites no index entry unless the delivery fails.
      CREATE INDEX deliveries_by_app ON deliveries(app_id, created_at);
      CREATE INDEX deliveries_failed ON deliveries(app_id, created_at) WHERE state = 'failed';
      CREATE TABLE attempts (
        delivery_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        duration_ms INTEGER NOT NULL,
        status_code INTEGER,
        error TEXT,
        response_body TEXT,
        PRIMARY KEY (delivery_id, attempt)
      );
      CREATE TABLE idempotency_keys (
        app_id TEXT NOT NULL,
        key TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (app_id, key)
      );
      CREATE INDEX idempotency_keys_by_age ON idempotency_keys(created_at);
    `,
  },
  {
    version: 2,
    name: "profiles-model",
    sql: {
      sqlite: profilesModel("TEXT", "'{}'", `'["publish","read","manage"]'`),
      postgres: profilesModel("JSONB", "'{}'::jsonb", `'["publish","read","manage"]'::jsonb`),
    },
  },
  {
    version: 3,
    name: "app-keys-and-settings",
    sql: { sqlite: appKeysAndSettings("TEXT"), postgres: appKeysAndSettings("JSONB") },
  },
  {
    version: 4,
    name: "attempt-capture",
    sql: { sqlite: attemptCapture("TEXT"), postgres: attemptCapture("JSONB") },
  },
  { version: 5, name: "idempotency-scope", sql: IDEMPOTENCY_SCOPE },
  {
    version: 6,
    name: "endpoint-disabled-reason",
    // Why Herald disabled an endpoint by itself (a 410 Gone, say); null when enabled or disabled by a person.
    sql: "ALTER TABLE endpoints ADD COLUMN disabled_reason TEXT;",
  },
  {
    version: 7,
    name: "endpoint-retry-policy",
    // `profile` (the wire format's own schedule) or `durable` (about three days).
    sql: "ALTER TABLE endpoints ADD COLUMN retry_policy TEXT NOT NULL DEFAULT 'profile';",
  },
  {
    version: 8,
    name: "endpoint-failure-streak",
    // Since when no attempt to it has succeeded (null: the last one did), and how many deliveries in a row failed.
    sql: `
      ALTER TABLE endpoints ADD COLUMN failing_since BIGINT;
      ALTER TABLE endpoints ADD COLUMN failed_deliveries INTEGER NOT NULL DEFAULT 0;
    `,
  },
  { version: 9, name: "delivery-log", sql: DELIVERY_LOG },
  {
    version: 10,
    name: "endpoint-flow-control",
    // Per-endpoint requests per second and attempts in flight (null: none / the process setting), and
    // why a delivery ended without an attempt (cancelled: its endpoint no longer subscribes to its type).
    sql: `
      ALTER TABLE endpoints ADD COLUMN rate_limit INTEGER;
      ALTER TABLE endpoints ADD COLUMN max_concurrency INTEGER;
      ALTER TABLE deliveries ADD COLUMN ended_reason TEXT;
    `,
  },
  { version: 11, name: "queue-samples", sql: QUEUE_SAMPLES },
  {
    version: 12,
    name: "listen-leases",
    // Until when the process holding a `herald listen` session vouches for its endpoint (null: any other endpoint).
    sql: "ALTER TABLE endpoints ADD COLUMN listen_lease_until BIGINT;",
  },
  {
    version: 13,
    name: "one-running-recovery",
    sql: {
      sqlite: oneRunningRecovery("CAST(strftime('%s', 'now') AS INTEGER) * 1000"),
      postgres: oneRunningRecovery("(extract(epoch FROM now()) * 1000)::bigint"),
    },
  },
  { version: 14, name: "delivery-bodies", sql: DELIVERY_BODIES },
  {
    version: 15,
    name: "shared-delivery-bodies",
    // Deliveries of one event with the same bytes (one event to many endpoints) keep one body: the
    // delivery named in body_of holds it (null: the delivery's own). The index finds a body's sharers.
    // The rename makes a release before this step, still running on the database, fail rather than
    // send a delivery that shares another's body with an empty one (as step 14 did).
    sql: `
      ALTER TABLE deliveries ADD COLUMN body_of TEXT;
      CREATE INDEX deliveries_by_body_of ON deliveries(body_of) WHERE body_of IS NOT NULL;
      ALTER TABLE deliveries RENAME COLUMN legacy_body TO row_body;
    `,
  },
];

/** The schema step this Herald brings a database to. */
export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;
