import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";

export interface CheckpointTiming {
  /** How often the thread checkpoints. */
  intervalMs: number;
  /** WAL frames (pages) past which the main connection checkpoints once, so the WAL starts over. */
  restartFrames: number;
}

interface ThreadSettings extends CheckpointTiming {
  path: string;
  lockTimeoutMs: number;
  /** Where better-sqlite3 is, for the thread's own `require`. */
  driver: string;
}

/** SQLite's own threshold, used again should the thread fail. */
const AUTOCHECKPOINT_PAGES = 1000;
const CHECKPOINT_INTERVAL_MS = 100;
/** 64 MiB of 4 KiB pages. */
const RESTART_FRAMES = 16_384;
/** What the WAL file is cut back to once it starts over after a burst. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * The checkpointer thread's whole program. It runs from source (`eval`), not from a file: the same
 * text works under tsx and once built, whose loaders a worker thread does not share. So it uses
 * nothing from this module, only what `load` (the thread's `require`) gives it.
 */
function checkpointThread(load: NodeJS.Require): void {
  const { parentPort, workerData } = load("node:worker_threads") as typeof import("node:worker_threads");
  const settings = workerData as ThreadSettings;
  const Driver = load(settings.driver) as typeof Database;
  const db = new Driver(settings.path, { fileMustExist: true });
  // NORMAL: the WAL is flushed before each checkpoint and the database file after it.
  db.pragma("synchronous = NORMAL");
  db.pragma(`busy_timeout = ${settings.lockTimeoutMs}`);
  const timer = setInterval(() => {
    const [result] = db.pragma("wal_checkpoint(PASSIVE)") as { log: number }[];
    if (result && result.log > settings.restartFrames) parentPort?.postMessage({ restart: result.log });
  }, settings.intervalMs);
  parentPort?.on("message", (message: "stop" | ReadRequest) => {
    if (message === "stop") {
      clearInterval(timer);
      db.close();
      parentPort.close();
      return;
    }
    try {
      parentPort.postMessage({ id: message.id, rows: db.prepare(message.sql).all(...message.params) });
    } catch (error) {
      parentPort.postMessage({ id: message.id, error: (error as Error).message });
    }
  });
}

interface ReadRequest {
  id: number;
  sql: string;
  params: unknown[];
}

type ThreadMessage = { restart: number } | { id: number; rows: unknown[] } | { id: number; error: string };

/**
 * WAL checkpoints off the event loop. SQLite checkpoints inside whichever commit pushes the WAL
 * past 1,000 pages: it copies those pages into the database file and fsyncs both, which measured
 * 17 ms of a 20 ms commit of a 500-event batch, on the event loop, holding every other request.
 * Here a thread with a connection of its own checkpoints every 100 ms instead, and the main
 * connection never does. Should the thread fail, the main connection checkpoints as SQLite does.
 */
export class Checkpointer {
  readonly #thread: Worker;
  readonly #exited: Promise<void>;
  #failed = false;
  #stopping = false;
  #nextRead = 0;
  readonly #reads = new Map<number, { resolve(rows: unknown[]): void; reject(error: Error): void }>();

  constructor(db: Database.Database, path: string, lockTimeoutMs: number, timing: Partial<CheckpointTiming> = {}) {
    db.pragma("wal_autocheckpoint = 0");
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    const settings: ThreadSettings = {
      path,
      lockTimeoutMs,
      intervalMs: timing.intervalMs ?? CHECKPOINT_INTERVAL_MS,
      restartFrames: timing.restartFrames ?? RESTART_FRAMES,
      driver: createRequire(import.meta.url).resolve("better-sqlite3"),
    };
    this.#thread = new Worker(`(${checkpointThread.toString()})(require)`, { eval: true, workerData: settings });
    this.#exited = new Promise((resolve) => this.#thread.once("exit", () => resolve()));
    void this.#exited.then(() => {
      this.#failed = true;
      this.#abandonReads(new Error("The SQLite checkpoint thread has exited."));
    });
    this.#thread.once("error", (error) => {
      this.#failed = true;
      if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
      this.#abandonReads(error);
    });
    this.#thread.on("message", (message: ThreadMessage) => {
      if ("restart" in message) return this.#restartWal(db);
      const read = this.#reads.get(message.id);
      this.#reads.delete(message.id);
      if ("error" in message) read?.reject(new Error(message.error));
      else read?.resolve(message.rows);
    });
    // After the listeners, which would hold it again: a store left open does not keep the process alive.
    this.#thread.unref();
  }

  /**
   * Under writes that never pause, the thread's checkpoints never reach the end of the WAL (more is
   * committed while each runs), so the WAL never starts over and grows without bound. Past the
   * limit, the main connection, between two of its transactions, copies the little the thread has
   * not (at most one interval's writes), and its next commit starts the WAL over.
   */
  #restartWal(db: Database.Database): void {
    try {
      if (db.open) db.pragma("wal_checkpoint(PASSIVE)");
    } catch {
      // Busy or failing now: the thread asks again after its next checkpoint.
    }
  }

  /**
   * Runs a read on the thread's connection, off the event loop: for reads whose cost grows with the
   * data (the queue sample counts every pending delivery). Undefined when the thread is gone: the
   * caller reads on its own connection then.
   */
  read<T>(sql: string, params: unknown[] = []): Promise<T[]> | undefined {
    if (this.#failed) return undefined;
    const id = this.#nextRead++;
    return new Promise<T[]>((resolve, reject) => {
      this.#reads.set(id, { resolve: resolve as (rows: unknown[]) => void, reject });
      // Waiting for an answer holds the process as any pending I/O does.
      this.#thread.ref();
      this.#thread.postMessage({ id, sql, params } satisfies ReadRequest);
    }).finally(() => {
      if (this.#reads.size === 0 && !this.#stopping) this.#thread.unref();
    });
  }

  #abandonReads(error: Error): void {
    for (const read of this.#reads.values()) read.reject(error);
    this.#reads.clear();
  }

  /** Ends the thread's connection, so that closing the main one is the last close (which checkpoints). */
  async stop(): Promise<void> {
    this.#stopping = true;
    // Unreferenced, the thread would not keep the process alive while it is being waited for.
    this.#thread.ref();
    this.#thread.postMessage("stop");
    await this.#exited;
  }
}
