import Database from "better-sqlite3";
import { DEAD, DONE, type InboxEvent, type NewInboxEvent, PENDING } from "./inbox.js";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS inbox_events (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    profile TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    status INTEGER NOT NULL DEFAULT ${PENDING},
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    finished_at INTEGER,
    last_error TEXT
  );
  CREATE INDEX IF NOT EXISTS inbox_events_due ON inbox_events (due_at) WHERE status = ${PENDING};
  CREATE INDEX IF NOT EXISTS inbox_events_finished ON inbox_events (finished_at) WHERE status = ${DONE};
`;

interface Row {
  seq: number;
  key: string;
  profile: InboxEvent["profile"];
  type: string;
  body: string;
  attempts: number;
  received_at: number;
  last_error: string | null;
}

const toEvent = (row: Row): InboxEvent => ({
  seq: row.seq,
  key: row.key,
  profile: row.profile,
  type: row.type,
  body: row.body,
  attempts: row.attempts,
  receivedAt: row.received_at,
  lastError: row.last_error,
});

/**
 * The inbox's SQLite file, used synchronously by one thread (see `SqliteInbox`). Accepting is
 * fsynced (`synchronous=FULL`), once per batch, so an acknowledged event survives even a power
 * cut. Claims and outcomes are not: in WAL mode they survive a process crash without an fsync, and
 * if a power cut loses one, the event is only run again. A claim moves `due_at` past the lease; a
 * process that dies leaves the event due again when the lease ends.
 */
export class SqliteInboxFile {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly insertMany: (events: NewInboxEvent[]) => (number | undefined)[];
  private readonly completeMany: (seqs: number[], now: number) => void;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    // A checkpointer thread does this (see sqlite-inbox-checkpointer.ts); `autoCheckpoint` restores it.
    this.db.pragma("wal_autocheckpoint = 0");
    this.db.exec(SCHEMA);
    const db = this.db;
    this.statements = {
      insert: db.prepare(
        `INSERT INTO inbox_events (key, profile, type, body, attempts, due_at, received_at)
         VALUES (@key, @profile, @type, @body, @attempts, @dueAt, @receivedAt) ON CONFLICT (key) DO NOTHING`,
      ),
      claim: db.prepare(
        `UPDATE inbox_events SET due_at = @leaseEnd, attempts = attempts + 1
         WHERE seq IN (SELECT seq FROM inbox_events WHERE status = ${PENDING} AND due_at <= @now ORDER BY due_at LIMIT @limit)
         RETURNING *`,
      ),
      complete: db.prepare(`UPDATE inbox_events SET status = ${DONE}, finished_at = @now, body = '' WHERE seq = @seq`),
      release: db.prepare(
        `UPDATE inbox_events SET due_at = @now, attempts = attempts - 1 WHERE seq = @seq AND status = ${PENDING}`,
      ),
      retryAt: db.prepare(`UPDATE inbox_events SET due_at = @at, last_error = @error WHERE seq = @seq`),
      deadLetter: db.prepare(
        `UPDATE inbox_events SET status = ${DEAD}, finished_at = @now, last_error = @error WHERE seq = @seq`,
      ),
      deadLetters: db.prepare(`SELECT * FROM inbox_events WHERE status = ${DEAD} ORDER BY seq LIMIT @limit`),
      replayAll: db.prepare(`UPDATE inbox_events SET status = ${PENDING}, due_at = @now WHERE status = ${DEAD}`),
      replayOne: db.prepare(
        `UPDATE inbox_events SET status = ${PENDING}, due_at = @now WHERE status = ${DEAD} AND seq = @seq`,
      ),
      prune: db.prepare(`DELETE FROM inbox_events WHERE status = ${DONE} AND finished_at < @before`),
      counts: db.prepare(`SELECT status, count(*) AS n FROM inbox_events GROUP BY status`),
    };
    this.insertMany = db.transaction((events: NewInboxEvent[]) =>
      events.map((event) => {
        const { key, profile, type, body, receivedAt, leaseMs } = event;
        const claimed = leaseMs !== undefined;
        const row = {
          key,
          profile,
          type,
          body,
          receivedAt,
          attempts: claimed ? 1 : 0,
          dueAt: receivedAt + (leaseMs ?? 0),
        };
        const result = this.statements.insert.run(row);
        return result.changes === 1 ? Number(result.lastInsertRowid) : undefined;
      }),
    );
    this.completeMany = db.transaction((seqs: number[], now: number) => {
      for (const seq of seqs) this.statements.complete.run({ seq, now });
    });
  }

  acceptMany(events: NewInboxEvent[]): (number | undefined)[] {
    this.db.pragma("synchronous = FULL");
    try {
      return this.insertMany(events);
    } finally {
      this.db.pragma("synchronous = NORMAL");
    }
  }

  /** SQLite's own checkpoints, inside commits: the fallback should the checkpointer thread die. */
  autoCheckpoint(): void {
    this.db.pragma("wal_autocheckpoint = 1000");
  }

  completeAll(seqs: number[]): void {
    this.completeMany(seqs, Date.now());
  }

  claim(limit: number, leaseMs: number): InboxEvent[] {
    const now = Date.now();
    const rows = this.statements.claim.all({ now, leaseEnd: now + leaseMs, limit }) as Row[];
    return rows.sort((a, b) => a.seq - b.seq).map(toEvent);
  }

  release(seqs: readonly number[]): void {
    const now = Date.now();
    this.db.transaction(() => {
      for (const seq of seqs) this.statements.release.run({ seq, now });
    })();
  }

  retryAt(seq: number, at: number, error: string): void {
    this.statements.retryAt.run({ seq, at, error });
  }

  deadLetter(seq: number, error: string): void {
    this.statements.deadLetter.run({ seq, error, now: Date.now() });
  }

  deadLetters(limit = 100): InboxEvent[] {
    return (this.statements.deadLetters.all({ limit }) as Row[]).map(toEvent);
  }

  replay(seqs?: readonly number[]): number {
    const now = Date.now();
    if (!seqs) return this.statements.replayAll.run({ now }).changes;
    const replayEach = this.db.transaction((ids: readonly number[]) =>
      ids.reduce((sum, seq) => sum + this.statements.replayOne.run({ seq, now }).changes, 0),
    );
    return replayEach(seqs);
  }

  prune(before: number): number {
    return this.statements.prune.run({ before }).changes;
  }

  counts(): { pending: number; done: number; dead: number } {
    const rows = this.statements.counts.all() as { status: number; n: number }[];
    const of = (status: number) => rows.find((row) => row.status === status)?.n ?? 0;
    return { pending: of(PENDING), done: of(DONE), dead: of(DEAD) };
  }

  close(): void {
    this.db.close();
  }
}
