import { closeSync, fdatasync, fsyncSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { promisify } from "node:util";

/** Flushes an open file's data to disk. */
export type FlushFile = (fd: number) => Promise<void>;

const syncData: FlushFile = promisify(fdatasync);

/**
 * Makes committed transactions durable without the event loop waiting on the disk. Transactions
 * commit with `synchronous = NORMAL` (their WAL frames written, not flushed); `synced()` then
 * flushes the WAL file on libuv's thread pool. One flush covers every transaction committed before
 * it started, so callers that arrive while one runs share the next: a group fsync. This is what
 * `synchronous = FULL` promises, without stalling every request for the length of an fsync.
 */
export class WalSync {
  readonly #fd: number;
  readonly #flush: FlushFile;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  /** Opens the WAL of a database in WAL mode (SQLite has created it), and flushes its directory entry once. */
  constructor(databasePath: string, flush: FlushFile = syncData) {
    this.#flush = flush;
    this.#fd = openSync(`${databasePath}-wal`, "r");
    const directory = openSync(dirname(databasePath), "r");
    try {
      fsyncSync(directory);
    } finally {
      closeSync(directory);
    }
  }

  /** Resolves once every transaction committed before this call is on disk. */
  synced(): Promise<void> {
    if (this.#next) return this.#next;
    if (!this.#running) return this.#start();
    // The flush running now may have started before the caller's commit: wait for a fresh one.
    const next = this.#running.then(
      () => this.#startQueued(),
      () => this.#startQueued(),
    );
    this.#next = next;
    return next;
  }

  #startQueued(): Promise<void> {
    this.#next = undefined;
    return this.#start();
  }

  #start(): Promise<void> {
    const run = this.#flush(this.#fd).finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  /** Waits for the flushes under way, then closes the file. */
  async close(): Promise<void> {
    await Promise.allSettled([this.#running, this.#next]);
    closeSync(this.#fd);
  }
}
