import pg from "pg";
import { DEAD, DONE, GroupCommit, type Inbox, type InboxEvent, type NewInboxEvent, PENDING } from "./inbox.js";

export interface PostgresInboxOptions {
  connectionString: string;
  /** A schema of its own, created if missing; default `herald_inbox`. */
  schema?: string;
  poolSize?: number;
}

interface Row {
  seq: string;
  key: string;
  profile: InboxEvent["profile"];
  type: string;
  body: string;
  attempts: number;
  received_at: string;
  last_error: string | null;
}

const toEvent = (row: Row): InboxEvent => ({
  seq: Number(row.seq),
  key: row.key,
  profile: row.profile,
  type: row.type,
  body: row.body,
  attempts: row.attempts,
  receivedAt: Number(row.received_at),
  lastError: row.last_error,
});

const schemaDdl = (schema: string) => `
  CREATE SCHEMA IF NOT EXISTS "${schema}";
  CREATE TABLE IF NOT EXISTS "${schema}".inbox_events (
    seq BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    profile TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    status SMALLINT NOT NULL DEFAULT ${PENDING},
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    finished_at BIGINT,
    last_error TEXT
  );
  CREATE INDEX IF NOT EXISTS inbox_events_due ON "${schema}".inbox_events (due_at) WHERE status = ${PENDING};
`;

/**
 * The inbox on PostgreSQL, for receivers that run several processes: claims use
 * `FOR UPDATE SKIP LOCKED`, so each event goes to one process at a time.
 */
export class PostgresInbox implements Inbox {
  private readonly pool: pg.Pool;
  private readonly table: string;
  private readonly migrated: Promise<void>;
  private readonly acceptBatch: GroupCommit<NewInboxEvent, number | undefined>;

  constructor(options: PostgresInboxOptions) {
    const schema = options.schema ?? "herald_inbox";
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name: ${schema}`);
    this.table = `"${schema}".inbox_events`;
    this.pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 5 });
    // A pooled client losing its server must not crash the process; the next query reconnects.
    this.pool.on("error", () => {});
    this.migrated = this.migrate(schema);
    this.migrated.catch(() => {});
    this.acceptBatch = new GroupCommit((events) => this.insert(events));
  }

  private async migrate(schema: string): Promise<void> {
    const client = await this.pool.connect();
    try {
      // Two processes creating the same schema at once would collide without the lock.
      await client.query("SELECT pg_advisory_lock(hashtext($1))", [`herald_inbox:${schema}`]);
      await client.query(schemaDdl(schema));
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext($1))", [`herald_inbox:${schema}`]).catch(() => {});
      client.release();
    }
  }

  private async query<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<T>> {
    await this.migrated;
    return this.pool.query<T>(text, values);
  }

  private async insert(events: NewInboxEvent[]): Promise<(number | undefined)[]> {
    const column = <K extends keyof NewInboxEvent>(name: K) => events.map((event) => event[name]);
    const { rows } = await this.query<{ key: string; seq: string }>(
      `INSERT INTO ${this.table} (key, profile, type, body, attempts, due_at, received_at)
       SELECT k, p, t, b, a, d, r
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::bigint[]) AS u(k, p, t, b, a, d, r)
       ON CONFLICT (key) DO NOTHING RETURNING key, seq`,
      [
        column("key"),
        column("profile"),
        column("type"),
        column("body"),
        events.map((event) => (event.leaseMs === undefined ? 0 : 1)),
        events.map((event) => event.receivedAt + (event.leaseMs ?? 0)),
        column("receivedAt"),
      ],
    );
    const inserted = new Map(rows.map((row) => [row.key, Number(row.seq)]));
    // A key twice in one batch: only its first occurrence counts as new.
    return events.map((event) => {
      const seq = inserted.get(event.key);
      inserted.delete(event.key);
      return seq;
    });
  }

  ready(): Promise<void> {
    return this.migrated;
  }

  accept(event: NewInboxEvent): Promise<number | undefined> {
    return this.acceptBatch.add(event);
  }

  async claim(limit: number, leaseMs: number): Promise<InboxEvent[]> {
    const now = Date.now();
    const { rows } = await this.query<Row>(
      `UPDATE ${this.table} SET due_at = $2, attempts = attempts + 1
       WHERE seq IN (SELECT seq FROM ${this.table} WHERE status = ${PENDING} AND due_at <= $1
                     ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [now, now + leaseMs, limit],
    );
    return rows.map(toEvent).sort((a, b) => a.seq - b.seq);
  }

  async complete(seq: number): Promise<void> {
    await this.query(`UPDATE ${this.table} SET status = ${DONE}, finished_at = $2, body = '' WHERE seq = $1`, [
      seq,
      Date.now(),
    ]);
  }

  async release(seqs: readonly number[]): Promise<void> {
    await this.query(
      `UPDATE ${this.table} SET due_at = $1, attempts = attempts - 1 WHERE seq = ANY($2) AND status = ${PENDING}`,
      [Date.now(), [...seqs]],
    );
  }

  async retryAt(seq: number, at: number, error: string): Promise<void> {
    await this.query(`UPDATE ${this.table} SET due_at = $2, last_error = $3 WHERE seq = $1`, [seq, at, error]);
  }

  async deadLetter(seq: number, error: string): Promise<void> {
    await this.query(`UPDATE ${this.table} SET status = ${DEAD}, finished_at = $2, last_error = $3 WHERE seq = $1`, [
      seq,
      Date.now(),
      error,
    ]);
  }

  async deadLetters(limit = 100): Promise<InboxEvent[]> {
    const { rows } = await this.query<Row>(`SELECT * FROM ${this.table} WHERE status = ${DEAD} ORDER BY seq LIMIT $1`, [
      limit,
    ]);
    return rows.map(toEvent);
  }

  async replay(seqs?: readonly number[]): Promise<number> {
    const { rowCount } = await this.query(
      `UPDATE ${this.table} SET status = ${PENDING}, due_at = $1
       WHERE status = ${DEAD} AND ($2::bigint[] IS NULL OR seq = ANY($2))`,
      [Date.now(), seqs ? [...seqs] : null],
    );
    return rowCount ?? 0;
  }

  async prune(before: number): Promise<number> {
    const { rowCount } = await this.query(`DELETE FROM ${this.table} WHERE status = ${DONE} AND finished_at < $1`, [
      before,
    ]);
    return rowCount ?? 0;
  }

  async counts(): Promise<{ pending: number; done: number; dead: number }> {
    const { rows } = await this.query<{ status: number; n: string }>(
      `SELECT status, count(*) AS n FROM ${this.table} GROUP BY status`,
    );
    const of = (status: number) => Number(rows.find((row) => row.status === status)?.n ?? 0);
    return { pending: of(PENDING), done: of(DONE), dead: of(DEAD) };
  }

  async close(): Promise<void> {
    await this.migrated.catch(() => {});
    await this.pool.end();
  }
}
