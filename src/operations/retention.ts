import { yieldToEventLoop } from "../core/event-loop.js";
import type { Logger } from "../core/logger.js";
import type { PruneResult } from "../storage/records.js";
import type { Store } from "../storage/store.js";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Rows per transaction: small, so a batch holds SQLite's write lock (or PostgreSQL's row locks) for milliseconds. */
export const RETENTION_BATCH = 500;
const APPS_PER_PAGE = 100;

export interface RetentionOptions {
  /** Days kept; 0 keeps everything. */
  retentionDays: number;
  sweepMs: number;
}

/**
 * Deletes history older than `HERALD_RETENTION_DAYS` in the background: app by app, in batches of
 * `RETENTION_BATCH` rows per transaction, yielding between them. Pending deliveries, and the events
 * they belong to, are kept whatever their age (see `Store.pruneApp`).
 */
export class RetentionSweeper {
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<PruneResult> | undefined;
  #closed = false;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly options: RetentionOptions,
  ) {}

  start(): void {
    if (this.options.retentionDays === 0) return;
    this.#timer = setInterval(() => void this.sweep(), this.options.sweepMs);
    this.#timer.unref();
  }

  /** One sweep over every app (one at a time: a sweep still running is joined, not doubled). */
  sweep(now = Date.now()): Promise<PruneResult> {
    this.#sweeping ??= this.#sweepAll(now - this.options.retentionDays * DAY_MS)
      .catch((error: unknown) => {
        this.logger.error({ err: error }, "retention sweep failed; retrying at the next one");
        return { deliveries: 0, attempts: 0, events: 0 };
      })
      .finally(() => {
        this.#sweeping = undefined;
      });
    return this.#sweeping;
  }

  async #sweepAll(before: number): Promise<PruneResult> {
    const total: PruneResult = { deliveries: 0, attempts: 0, events: 0 };
    let after: { createdAt: number; id: string } | undefined;
    for (;;) {
      const apps = await this.store.listApps({ limit: APPS_PER_PAGE, ...(after ? { before: after } : {}) });
      for (const app of apps) {
        for (;;) {
          if (this.#closed) return total;
          const pruned = await this.store.pruneApp(app.id, before, RETENTION_BATCH);
          total.deliveries += pruned.deliveries;
          total.attempts += pruned.attempts;
          total.events += pruned.events;
          await yieldToEventLoop();
          if (pruned.deliveries < RETENTION_BATCH && pruned.events < RETENTION_BATCH) break;
        }
      }
      const last = apps.at(-1);
      if (apps.length < APPS_PER_PAGE || !last) break;
      after = { createdAt: last.createdAt, id: last.id };
    }
    if (total.deliveries + total.events > 0) {
      this.logger.info({ ...total, before: new Date(before).toISOString() }, "retention sweep deleted old history");
    }
    return total;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#sweeping;
  }
}
