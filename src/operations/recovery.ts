import { yieldToEventLoop } from "../core/event-loop.js";
import type { Logger } from "../core/logger.js";
import { policyOf } from "../delivery/retry.js";
import { findWireFormat } from "../profiles/registry.js";
import type { Recovery } from "../storage/records.js";
import { RECOVERY_ENDPOINT_DELETED, type Store } from "../storage/store.js";

export interface RecoveryRunnerOptions {
  /** Deliveries made pending per transaction. */
  batchSize: number;
  /** How long a job stays with this process without a step; another process takes it over after. */
  leaseMs: number;
  /** How often to look for jobs nobody runs (created by another process, or left by one that stopped). */
  pollMs: number;
  /** `HERALD_MAX_MANUAL_RETRIES`: a recovery counts as a manual resend, and skips deliveries resent this often. */
  maxManualRetries: number;
}

export const DEFAULT_RECOVERY_OPTIONS: Omit<RecoveryRunnerOptions, "maxManualRetries"> = {
  batchSize: 500,
  leaseMs: 30_000,
  pollMs: 2000,
};

/**
 * Runs recover jobs (`POST /v1/endpoints/{id}/recover`) in the background: leases one from the store,
 * then makes its failed deliveries pending batch by batch, waking the worker for the endpoint after
 * each. Jobs live in the store, so one a stopped process left behind is taken over when its lease ends.
 */
export class RecoveryRunner {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(
    private readonly store: Store,
    /** Tells the worker that an endpoint has due deliveries. */
    private readonly wake: (endpointId: string) => void,
    private readonly logger: Logger,
    private readonly options: RecoveryRunnerOptions,
  ) {}

  start(): void {
    this.#timer = setInterval(() => this.kick(), this.options.pollMs);
    this.#timer.unref();
    this.kick();
  }

  /** Looks for jobs now (a new one was just stored). */
  kick(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#runAll()
      .catch((error: unknown) =>
        this.logger.error({ err: error }, "running recoveries failed; retrying at the next poll"),
      )
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  async #runAll(): Promise<void> {
    while (!this.#closed) {
      const now = Date.now();
      const job = await this.store.leaseRecovery(now, now + this.options.leaseMs);
      if (!job) return;
      await this.#run(job);
    }
  }

  async #run(job: Recovery): Promise<void> {
    const endpoint = await this.store.getEndpoint(job.endpointId);
    const wire = endpoint && endpoint.appId === job.appId ? findWireFormat(endpoint.profile) : undefined;
    if (!endpoint || !wire) {
      await this.store.failRecovery(job.id, RECOVERY_ENDPOINT_DELETED, Date.now());
      this.logger.warn({ recovery: job.id, endpoint: job.endpointId }, "recovery failed: endpoint deleted");
      return;
    }
    const extraAttempts = policyOf(wire.policy, endpoint).maxAttempts;
    this.logger.info({ recovery: job.id, endpoint: endpoint.id }, "recovery running");
    for (;;) {
      if (this.#closed) return; // the lease runs out, and this or another process carries on
      const now = Date.now();
      const step = await this.store.stepRecovery(job.id, {
        limit: this.options.batchSize,
        extraAttempts,
        maxManualRetries: this.options.maxManualRetries,
        now,
        leaseUntil: now + this.options.leaseMs,
      });
      this.wake(endpoint.id);
      if (step?.status !== "running") {
        this.logger.info(
          {
            recovery: job.id,
            endpoint: endpoint.id,
            recovered: step?.recovered,
            skipped: step?.skipped,
            status: step?.status,
          },
          "recovery finished",
        );
        return;
      }
      await yieldToEventLoop();
    }
  }

  /** Stops taking jobs; a batch under way finishes. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
  }
}
