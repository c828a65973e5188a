import type { ProfileName } from "../verify/outcome.js";

/** An event as the inbox keeps it until its handlers succeed or it is dead-lettered. */
export interface InboxEvent {
  /** The inbox's own sequence number. */
  seq: number;
  /** The deduplication key: the sender's webhook id, or a body digest. */
  key: string;
  profile: ProfileName;
  type: string;
  /** The verified, decompressed JSON body. */
  body: string;
  /** Handler runs so far, this one included once claimed. */
  attempts: number;
  receivedAt: number;
  lastError: string | null;
}

export interface NewInboxEvent {
  key: string;
  profile: ProfileName;
  type: string;
  body: string;
  receivedAt: number;
  /**
   * Store the event already claimed by the caller for this long (its first run counted), so a
   * dispatcher with free slots can run it at once without claiming it back from the store.
   */
  leaseMs?: number;
}

/**
 * The durable queue between the 200 and the handlers. `accept` resolves only once the event is on
 * disk, so an acknowledged event survives a crash; a claimed event whose process dies is claimed
 * again when its lease runs out.
 */
export interface Inbox {
  /** Resolves once the inbox can take events (opened, migrated); rejects if it cannot. */
  ready(): Promise<void>;
  /** Stores the event unless its key was seen before; resolves its sequence number, or undefined for a duplicate. */
  accept(event: NewInboxEvent): Promise<number | undefined>;
  /** Takes up to `limit` due events and leases them for `leaseMs`. */
  claim(limit: number, leaseMs: number): Promise<InboxEvent[]>;
  complete(seq: number): Promise<void>;
  /** Hands claimed events that never started back, due now, as if never claimed. */
  release(seqs: readonly number[]): Promise<void>;
  retryAt(seq: number, at: number, error: string): Promise<void>;
  deadLetter(seq: number, error: string): Promise<void>;
  deadLetters(limit?: number): Promise<InboxEvent[]>;
  /** Makes dead letters due again (all, or the given ones); returns how many. */
  replay(seqs?: readonly number[]): Promise<number>;
  /** Forgets handled events older than `before`; their keys stop deduplicating. */
  prune(before: number): Promise<number>;
  counts(): Promise<{ pending: number; done: number; dead: number }>;
  close(): Promise<void>;
}

/** Event states, stored as small integers. */
export const PENDING = 0;
export const DONE = 1;
export const DEAD = 2;

/**
 * Collects `accept` calls made in the same turn of the event loop and writes them in one
 * transaction: one fsync for many requests, which is what lets durable acks keep up with load.
 */
export class GroupCommit<T, R> {
  private pending: { item: T; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly write: (items: T[]) => Promise<R[]> | R[]) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    try {
      const results = await this.write(batch.map((entry) => entry.item));
      for (const [index, entry] of batch.entries()) entry.resolve(results[index]!);
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }
}
