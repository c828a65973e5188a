import { yieldToEventLoop } from "../core/event-loop.js";
import type { Logger } from "../core/logger.js";
import type { Store } from "../storage/store.js";

/** How long samples are kept: the Overview's longest window (24 h), and an hour to spare. */
export const QUEUE_SAMPLES_KEPT_MS = 25 * 60 * 60 * 1000;
/** Rows per prune statement: small, so it holds SQLite's write lock (or PostgreSQL's row locks) for milliseconds. */
export const QUEUE_SAMPLE_PRUNE_BATCH = 500;

/** The sample period's start that `time` falls in: the same for every process sampling that period. */
export const samplePeriodStart = (time: number, periodMs: number): number => Math.floor(time / periodMs) * periodMs;

/**
 * Samples each endpoint's queue depth and oldest pending delivery every `HERALD_QUEUE_SAMPLE_MS`, for the
 * Overview's history (`GET /v1/stats`), and deletes samples past `QUEUE_SAMPLES_KEPT_MS` in the same
 * tick. Ticks fall just after each multiple of the period, so processes sharing a database sample the
 * same rounded time, and the store keeps the first one's sample.
 */
export class QueueSampler {
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #closed = false;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly periodMs: number,
  ) {}

  start(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(
      () => void this.tick().finally(() => this.start()),
      this.periodMs - (Date.now() % this.periodMs),
    );
    this.#timer.unref();
  }

  /** One sample and prune (a tick still running is joined, not doubled); errors are logged, not thrown. */
  tick(now = Date.now()): Promise<void> {
    this.#ticking ??= this.#sampleAndPrune(now)
      .catch((error: unknown) => {
        this.logger.error({ err: error }, "sampling the queue failed; trying again at the next period");
      })
      .finally(() => {
        this.#ticking = undefined;
      });
    return this.#ticking;
  }

  async #sampleAndPrune(now: number): Promise<void> {
    await this.store.sampleQueue(samplePeriodStart(now, this.periodMs));
    const before = now - QUEUE_SAMPLES_KEPT_MS;
    for (;;) {
      if (this.#closed) return;
      const pruned = await this.store.pruneQueueSamples(before, QUEUE_SAMPLE_PRUNE_BATCH);
      if (pruned.runs < QUEUE_SAMPLE_PRUNE_BATCH && pruned.samples < QUEUE_SAMPLE_PRUNE_BATCH) return;
      await yieldToEventLoop();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#ticking;
  }
}
