import type { EndpointDirectory } from "../apps/endpoint-directory.js";
import type { Logger } from "../core/logger.js";
import type { Metrics } from "../core/metrics.js";
import type { Profile } from "../profiles/profile.js";
import { profileById } from "../profiles/registry.js";
import type { App, AttemptRecord, ClaimedDelivery, Endpoint } from "../storage/records.js";
import type { Store } from "../storage/store.js";
import type { HttpSender } from "./http-sender.js";
import { nextState } from "./retry.js";

export interface WorkerOptions {
  endpointConcurrency: number;
  maxInFlight: number;
  pollIntervalMs: number;
  leaseMarginMs: number;
}

/** One endpoint's place in the schedule. */
interface Lane {
  inFlight: number;
  /** When a claim may find work: 0 = now, Infinity = nothing known. */
  dueAt: number;
  /** The earliest retry this process scheduled for the lane. */
  retryAt: number;
}

interface Target {
  endpoint: Endpoint;
  app: App;
  profile: Profile;
}

const APP_CACHE_MS = 60_000;

/**
 * Sends due deliveries. Each endpoint is a lane with its own concurrency cap, so a slow or dead
 * endpoint fills only its own slots; the worker claims per lane only as many deliveries as it can
 * start at once, so nothing it holds waits behind another endpoint. Outcomes are written back in
 * batches; no database work waits on the network.
 */
export class DeliveryWorker {
  readonly #lanes = new Map<string, Lane>();
  readonly #apps = new Map<string, { app: App; loadedAt: number }>();
  readonly #attemptsInFlight = new Set<Promise<void>>();
  #outcomes: AttemptRecord[] = [];
  #flushing: Promise<void> = Promise.resolve();
  #flushQueued = false;
  #pumpQueued = false;
  #pumping = false;
  #pumpAgain = false;
  #running = false;
  #wakeTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly endpoints: EndpointDirectory,
    private readonly sender: HttpSender,
    private readonly options: WorkerOptions,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  start(): void {
    this.#running = true;
    void this.#poll();
    this.#pollTimer = setInterval(() => void this.#poll(), this.options.pollIntervalMs);
  }

  /** New deliveries were committed for these endpoints: look now rather than at the next poll. */
  notify(endpointIds: Iterable<string>): void {
    for (const id of endpointIds) this.#lane(id).dueAt = 0;
    this.#schedulePump();
  }

  /** Stops claiming, waits up to `graceMs` for attempts in flight, and writes every outcome. */
  async close(graceMs: number): Promise<void> {
    this.#running = false;
    clearInterval(this.#pollTimer);
    clearTimeout(this.#wakeTimer);
    const settled = Promise.allSettled([...this.#attemptsInFlight]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    await this.#flush();
  }

  #lane(endpointId: string): Lane {
    let lane = this.#lanes.get(endpointId);
    if (!lane) {
      lane = { inFlight: 0, dueAt: Number.POSITIVE_INFINITY, retryAt: Number.POSITIVE_INFINITY };
      this.#lanes.set(endpointId, lane);
    }
    return lane;
  }

  /** Finds pending work this process was not told about: retries after a restart, other publishers. */
  async #poll(): Promise<void> {
    if (!this.#running) return;
    try {
      for (const { endpointId, dueAt } of await this.store.endpointsWithPending()) {
        const lane = this.#lane(endpointId);
        lane.dueAt = Math.min(lane.dueAt, dueAt);
      }
      this.#schedulePump();
    } catch (error) {
      this.logger.error({ err: error }, "polling for due deliveries failed");
    }
  }

  #schedulePump(): void {
    if (this.#pumpQueued || !this.#running) return;
    this.#pumpQueued = true;
    setImmediate(() => {
      this.#pumpQueued = false;
      void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (!this.#running) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        const now = Date.now();
        for (const [endpointId, lane] of this.#lanes) {
          if (this.#attemptsInFlight.size >= this.options.maxInFlight) break;
          if (lane.dueAt <= now && lane.inFlight < this.options.endpointConcurrency)
            await this.#fill(endpointId, lane, now);
          if (lane.inFlight === 0 && lane.dueAt === Number.POSITIVE_INFINITY) this.#lanes.delete(endpointId);
        }
      } while (this.#pumpAgain && this.#running);
    } catch (error) {
      this.logger.error({ err: error }, "claiming deliveries failed");
    } finally {
      this.#pumping = false;
      this.#armWakeTimer();
    }
  }

  /** Claims as many due deliveries of one endpoint as can start now, and starts them. */
  async #fill(endpointId: string, lane: Lane, now: number): Promise<void> {
    const target = await this.#target(endpointId);
    if (!target) {
      lane.dueAt = Number.POSITIVE_INFINITY;
      return;
    }
    const wanted = Math.min(
      this.options.endpointConcurrency - lane.inFlight,
      this.options.maxInFlight - this.#attemptsInFlight.size,
    );
    const leaseUntil = now + target.profile.policy.timeoutMs + this.options.leaseMarginMs;
    const claimed = await this.store.claimDue(endpointId, wanted, now, leaseUntil);
    if (claimed.length < wanted) {
      // Drained for now; what is left is the retries this process scheduled (the poll finds the rest).
      lane.dueAt = lane.retryAt > now ? lane.retryAt : Number.POSITIVE_INFINITY;
      if (lane.retryAt <= now) lane.retryAt = Number.POSITIVE_INFINITY;
    }
    for (const delivery of claimed) this.#track(this.#attempt(lane, target, delivery));
  }

  #track(attempt: Promise<void>): void {
    this.#attemptsInFlight.add(attempt);
    void attempt.finally(() => this.#attemptsInFlight.delete(attempt));
  }

  async #attempt(lane: Lane, target: Target, delivery: ClaimedDelivery): Promise<void> {
    const { profile, endpoint, app } = target;
    lane.inFlight++;
    this.metrics.inFlight.inc();
    const attempt = delivery.attempts + 1;
    const startedAt = Date.now();
    const headers = profile.headers(delivery.body, { webhookId: delivery.id, attempt }, app);
    const result = await this.sender.post(endpoint.url, delivery.body, headers, profile.policy.timeoutMs);
    lane.inFlight--;
    this.metrics.inFlight.dec();
    const succeeded = result.statusCode !== null && profile.isSuccess(result.statusCode);
    const next = nextState(profile.policy, succeeded, attempt, delivery.maxAttempts, Date.now());
    this.metrics.attempts.inc({ profile: profile.id, outcome: next.state === "pending" ? "retry" : next.state });
    this.metrics.attemptSeconds.observe({ profile: profile.id }, result.durationMs / 1000);
    this.#record({ deliveryId: delivery.id, attempt, startedAt, ...result, ...next });
    if (next.state === "pending") {
      lane.retryAt = Math.min(lane.retryAt, next.nextAttemptAt);
      lane.dueAt = Math.min(lane.dueAt, next.nextAttemptAt);
    }
    this.#schedulePump();
  }

  async #target(endpointId: string): Promise<Target | undefined> {
    const endpoint = await this.endpoints.get(endpointId);
    if (!endpoint) return undefined;
    const cached = this.#apps.get(endpoint.appId);
    let app = cached && Date.now() - cached.loadedAt < APP_CACHE_MS ? cached.app : undefined;
    if (!app) {
      app = await this.store.getApp(endpoint.appId);
      if (!app) return undefined;
      this.#apps.set(app.id, { app, loadedAt: Date.now() });
    }
    return { endpoint, app, profile: profileById(endpoint.profile) };
  }

  #armWakeTimer(): void {
    clearTimeout(this.#wakeTimer);
    if (!this.#running) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const lane of this.#lanes.values()) {
      if (lane.inFlight < this.options.endpointConcurrency) earliest = Math.min(earliest, lane.dueAt);
    }
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.#wakeTimer = setTimeout(() => this.#schedulePump(), Math.max(0, earliest - Date.now()));
  }

  #record(outcome: AttemptRecord): void {
    this.#outcomes.push(outcome);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => void this.#flush());
  }

  /** Writes buffered outcomes in one transaction; one flush at a time, in order. */
  #flush(): Promise<void> {
    this.#flushQueued = false;
    this.#flushing = this.#flushing.then(async () => {
      const batch = this.#outcomes;
      if (batch.length === 0) return;
      this.#outcomes = [];
      try {
        await this.store.recordAttempts(batch);
      } catch (error) {
        // The leases run out and the same ids are sent again: at least once still holds.
        this.logger.error({ err: error, outcomes: batch.length }, "recording attempt outcomes failed");
      }
    });
    return this.#flushing;
  }
}
