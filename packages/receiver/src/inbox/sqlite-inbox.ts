import type { Worker } from "node:worker_threads";
import { GroupCommit, type Inbox, type InboxEvent, type NewInboxEvent } from "./inbox.js";
import type { SqliteInboxFile } from "./sqlite-inbox-file.js";
import type { Call } from "./sqlite-inbox-worker.js";
import { startThread } from "./thread.js";

export interface SqliteInboxOptions {
  /** The database file; created if missing. */
  path: string;
}

type Op = keyof SqliteInboxFile;
type Result<K extends Op> = ReturnType<SqliteInboxFile[K]>;

/**
 * The default inbox: one SQLite file in WAL mode (see `SqliteInboxFile` for what is fsynced when),
 * owned by a worker thread. Accepts made in the same turn of the event loop go over as one batch,
 * one transaction and one fsync; meanwhile this thread keeps reading and verifying requests. A
 * second thread checkpoints the WAL, so commits never wait for a checkpoint.
 */
export class SqliteInbox implements Inbox {
  private readonly worker: Worker;
  private checkpointer: Worker | undefined;
  private closing = false;
  private readonly pending = new Map<number, { resolve(value: any): void; reject(error: Error): void }>();
  private readonly opened: Promise<unknown>;
  private readonly acceptBatch = new GroupCommit<NewInboxEvent, number | undefined>((events) =>
    this.call("acceptMany", events),
  );
  private readonly completeBatch = new GroupCommit<number, undefined>(async (seqs) => {
    await this.call("completeAll", seqs);
    return seqs.map(() => undefined);
  });
  private nextId = 1;
  private failure: Error | undefined;

  constructor(options: SqliteInboxOptions) {
    this.worker = startThread("sqlite-inbox-worker", { path: options.path });
    this.opened = new Promise((resolve, reject) => this.pending.set(0, { resolve, reject }));
    this.opened.then(
      () => this.startCheckpointer(options.path),
      () => {},
    );
    this.worker.on("message", ({ id, result, error }: { id: number; result?: unknown; error?: string }) => {
      const call = this.pending.get(id);
      this.pending.delete(id);
      if (error === undefined) call?.resolve(result);
      else call?.reject(new Error(error));
    });
    this.worker.on("error", (error) => this.fail(error));
    this.worker.on("exit", () => this.fail(new Error("the inbox worker exited")));
  }

  /** Started once the writer has created the file; if it dies, SQLite's own checkpoints resume. */
  private startCheckpointer(path: string): void {
    if (this.closing) return;
    const checkpointer = startThread("sqlite-inbox-checkpointer", { path });
    checkpointer.unref();
    checkpointer.on("error", () => {});
    checkpointer.on("exit", () => {
      if (this.checkpointer === checkpointer && !this.failure) void this.call("autoCheckpoint").catch(() => {});
    });
    this.checkpointer = checkpointer;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }

  private async call<K extends Op>(op: K, ...args: Parameters<SqliteInboxFile[K]>): Promise<Result<K>> {
    await this.opened;
    if (this.failure) throw this.failure;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, args } satisfies Call);
    });
  }

  async ready(): Promise<void> {
    await this.opened;
  }

  accept(event: NewInboxEvent): Promise<number | undefined> {
    return this.acceptBatch.add(event);
  }

  claim(limit: number, leaseMs: number): Promise<InboxEvent[]> {
    return this.call("claim", limit, leaseMs);
  }

  complete(seq: number): Promise<void> {
    return this.completeBatch.add(seq);
  }

  release(seqs: readonly number[]): Promise<void> {
    return this.call("release", seqs);
  }

  retryAt(seq: number, at: number, error: string): Promise<void> {
    return this.call("retryAt", seq, at, error);
  }

  deadLetter(seq: number, error: string): Promise<void> {
    return this.call("deadLetter", seq, error);
  }

  deadLetters(limit?: number): Promise<InboxEvent[]> {
    return this.call("deadLetters", limit);
  }

  replay(seqs?: readonly number[]): Promise<number> {
    return this.call("replay", seqs);
  }

  prune(before: number): Promise<number> {
    return this.call("prune", before);
  }

  counts(): Promise<{ pending: number; done: number; dead: number }> {
    return this.call("counts");
  }

  async close(): Promise<void> {
    this.closing = true;
    const checkpointer = this.checkpointer;
    this.checkpointer = undefined;
    if (checkpointer) {
      const exited = new Promise((resolve) => checkpointer.once("exit", resolve));
      checkpointer.postMessage("close");
      await exited;
    }
    if (!this.failure) await this.call("close").catch(() => {});
    await this.worker.terminate();
  }
}
