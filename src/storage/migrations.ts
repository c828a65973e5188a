/**
 * Versioned schema steps, applied in order; a step never changes once released. One text serves
 * both stores: PostgreSQL's BIGINT and BOOLEAN are INTEGER and NUMERIC affinity to SQLite, which
 * stores the same values (epoch milliseconds, 0 or 1).
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
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
];
