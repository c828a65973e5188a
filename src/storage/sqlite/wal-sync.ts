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
  #closed = false;
  /**
   * The first flush that failed. It stays failed: after an fsync error Linux may drop the pages it
   * could not write and report the next fsync as a success, and WAL recovery discards every commit
   * after a lost frame, so nothing may be acknowledged again until a restart (as PostgreSQL panics).
   */
  #failure: unknown;

  /** Opens a WAL file (SQLite has created it; its real path, not a symlink's) and flushes its directory entry once. */
  constructor(walPath: string, flush: FlushFile = syncData) {
    this.#flush = flush;
    this.#fd = openSync(walPath, "r");
    const directory = openSync(dirname(walPath), "r");
    try {
      fsyncSync(directory);
    } finally {
      closeSync(directory);
    }
  }

  /** Why flushing failed, if it ever did. */
  get failure(): unknown {
    return this.#failure;
  }

  /** Resolves once every transaction committed before this call is on disk. */
  synced(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new Error("The SQLite store is closed."));
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
    const flushed = this.#flush(this.#fd).catch((error: unknown) => {
      this.#failure ??= error;
      throw error;
    });
    const run = flushed.finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  /** Waits for the flushes under way, then closes the file. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([this.#running, this.#next]);
    closeSync(this.#fd);
  }
}
