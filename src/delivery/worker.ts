import { createHash } from "node:crypto";
import type { EndpointDirectory } from "../apps/endpoint-directory.js";
import type { Logger } from "../core/logger.js";
import type { Metrics } from "../core/metrics.js";
import type { AttemptResult, SigningKeys, WireFormat } from "../profiles/profile.js";
import { findWireFormat } from "../profiles/registry.js";
import type { AttemptRecord, ClaimedDelivery, Endpoint, EndpointHealthChange } from "../storage/records.js";
import type { Store } from "../storage/store.js";
import { nextState, policyOf, retryAfterMs } from "./retry.js";
import { type OutboundTransport, redactHeaders, type TransportResult } from "./transport/index.js";

export interface WorkerOptions {
  endpointConcurrency: number;
  maxInFlight: number;
  pollIntervalMs: number;
  leaseMarginMs: number;
  /** Multiplies every retry delay: 1 in production; tests compress hours into milliseconds. */
  retryDelayScale: number;
  /** An endpoint failing this long is disabled; 0: never. */
  autoDisableAfterMs: number;
  /** An endpoint this many of whose deliveries in a row failed is disabled; 0: never. */
  autoDisableFailures: number;
}

/** Two health changes of one endpoint, the older first, as one: a success in the newer ends the older's streak. */
const mergeHealth = (older: EndpointHealthChange, newer: EndpointHealthChange): EndpointHealthChange =>
  newer.succeeded
    ? newer
    : {
        endpointId: older.endpointId,
        succeeded: older.succeeded,
        failingSince: older.failingSince ?? newer.failingSince,
        failedDeliveries: older.failedDeliveries + newer.failedDeliveries,
      };

/** One endpoint's place in the schedule. */
interface Lane {
  inFlight: number;
  /** Claimed deliveries waiting for a free slot: the next attempt starts the moment one ends. */
  queue: Queued[];
  /** Who the queued deliveries go to, resolved when they were claimed. */
  target: Target | undefined;
  /** When a claim may find work: 0 = now, Infinity = nothing known. */
  dueAt: number;
  /** The earliest retry this process scheduled for the lane. */
  retryAt: number;
}

interface Queued {
  delivery: ClaimedDelivery;
  leaseUntil: number;
}

interface Target {
  endpoint: Endpoint;
  wire: WireFormat;
  keys: SigningKeys;
}
/** How a wire format sees a send: a status, or why there was none. */
const attemptResult = (sent: TransportResult): AttemptResult => ({
  statusCode: sent.statusCode,
  failure: sent.statusCode !== null ? null : sent.errorClass === "timeout" ? "timeout" : "network",
});

/**
 * Outcomes are written in batches: every few milliseconds, or sooner once many are waiting. Small
 * commits rewrite whole index pages for a handful of rows; this keeps a commit to hundreds of rows.
 * Leases outlast the wait by far, so a delayed write never lets another worker resend.
 */
const FLUSH_INTERVAL_MS = 25;

/** An attempt that found its profile's window already closed (after a restart, say): not sent. */
const WINDOW_CLOSED: TransportResult = {
  statusCode: null,
  responseHeaders: {},
  responseBody: null,
  truncated: false,
  durationMs: 0,
  errorClass: "timeout",
  error: "not sent: the profile's delivery window had closed",
};
const FLUSH_BATCH = 256;

/**
 * Sends due deliveries. Each endpoint is a lane with its own concurrency cap, so a slow or dead
 * endpoint fills only its own slots. A lane claims in batches, up to one extra round beyond its
 * slots, and starts the next claimed delivery the moment an attempt ends, so the database is off
 * the critical path. Outcomes are written back in batches; no database work waits on the network.
 */
export class DeliveryWorker {
  readonly #lanes = new Map<string, Lane>();
  /** Every attempt not yet finished, for shutdown to wait on. */
  readonly #attemptsInFlight = new Set<Promise<void>>();
  /** Attempts waiting on a receiver: what the process-wide cap counts. */
  #sending = 0;
  /** Lanes with queued work and free slots that wait only for the process-wide cap. */
  readonly #waitingForCapacity = new Set<Lane>();
  #claimed = 0;
  #outcomes: AttemptRecord[] = [];
  /** What the buffered outcomes say about each endpoint's failure streak, written with them. */
  #health = new Map<string, EndpointHealthChange>();
  #flushing: Promise<void> = Promise.resolve();
  #flushQueued = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #flushBackoffMs = 0;
  #pumpQueued = false;
  #pumping = false;
  /** The pump running now, if any: shutdown waits for it, since its claims may still be arriving. */
  #currentPump: Promise<void> = Promise.resolve();
  #pumpAgain = false;
  #running = false;
  #wakeTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  /** Endpoints being disabled: no claim for them until the store says they are. */
  readonly #disabling = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly endpoints: EndpointDirectory,
    private readonly sender: OutboundTransport,
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

  /** Something was committed somewhere, for endpoints we were not told: poll now. */
  pollNow(): void {
    void this.#poll();
  }

  /**
   * Stops claiming, hands back deliveries claimed but not started, waits up to `graceMs` for
   * attempts in flight, and writes every outcome.
   */
  async close(graceMs: number): Promise<void> {
    this.#running = false;
    clearInterval(this.#pollTimer);
    clearTimeout(this.#wakeTimer);
    await this.#currentPump;
    const unstarted = [...this.#lanes.values()].flatMap((lane) => lane.queue.splice(0).map((q) => q.delivery.id));
    const settled = Promise.allSettled([...this.#attemptsInFlight]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    await this.#flush();
    if (unstarted.length > 0) await this.store.releaseLeases(unstarted, Date.now());
  }

  #lane(endpointId: string): Lane {
    let lane = this.#lanes.get(endpointId);
    if (!lane) {
      lane = {
        inFlight: 0,
        queue: [],
        target: undefined,
        dueAt: Number.POSITIVE_INFINITY,
        retryAt: Number.POSITIVE_INFINITY,
      };
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
      if (this.#pumping) this.#pumpAgain = true;
      else this.#currentPump = this.#pump();
    });
  }

  /** One pump at a time: the scheduler sets `#pumpAgain` instead of starting a second. */
  async #pump(): Promise<void> {
    if (!this.#running) return;
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        const now = Date.now();
        for (const [endpointId, lane] of this.#lanes) {
          if (this.#claimed >= 2 * this.options.maxInFlight) break;
          if (lane.dueAt <= now && this.#wantsMore(lane)) await this.#fill(endpointId, lane, now);
          const idle = lane.inFlight === 0 && lane.queue.length === 0;
          if (idle && lane.dueAt === Number.POSITIVE_INFINITY) this.#lanes.delete(endpointId);
        }
      } while (this.#pumpAgain && this.#running);
    } catch (error) {
      this.logger.error({ err: error }, "claiming deliveries failed");
    } finally {
      this.#pumping = false;
      this.#armWakeTimer();
    }
  }

  /** A lane is refilled once its queue is down to half a round, so one claim serves many attempts. */
  #wantsMore(lane: Lane): boolean {
    return lane.queue.length <= this.options.endpointConcurrency / 2;
  }

  /** Claims due deliveries of one endpoint, up to one round beyond its free slots, and starts what fits. */
  async #fill(endpointId: string, lane: Lane, now: number): Promise<void> {
    const target = await this.#target(endpointId);
    if (!target) {
      lane.dueAt = Number.POSITIVE_INFINITY;
      return;
    }
    const wanted = 2 * this.options.endpointConcurrency - lane.inFlight - lane.queue.length;
    if (wanted <= 0) return;
    // A queued delivery may wait for one attempt to end before its own starts: the lease covers both.
    const leaseUntil = now + 2 * target.wire.policy.timeoutMs + this.options.leaseMarginMs;
    const claimed = await this.store.claimDue(endpointId, wanted, now, leaseUntil);
    if (claimed.length < wanted) {
      // Drained for now; what is left is the retries this process scheduled (the poll finds the rest).
      lane.dueAt = lane.retryAt > now ? lane.retryAt : Number.POSITIVE_INFINITY;
      if (lane.retryAt <= now) lane.retryAt = Number.POSITIVE_INFINITY;
    }
    lane.target = target;
    for (const delivery of claimed) lane.queue.push({ delivery, leaseUntil });
    this.#claimed += claimed.length;
    this.#startQueued(lane);
  }

  /**
   * Starts queued deliveries while the lane and the process have room. A delivery whose lease no
   * longer covers a whole attempt is not sent but handed back, so no lease can run out under an
   * attempt and let the same delivery go out twice at once.
   */
  #startQueued(lane: Lane): void {
    const target = lane.target;
    if (!target) return;
    const now = Date.now();
    const stale: string[] = [];
    while (lane.queue.length > 0 && lane.inFlight < this.options.endpointConcurrency) {
      if (this.#sending >= this.options.maxInFlight) {
        this.#waitingForCapacity.add(lane);
        break;
      }
      const { delivery, leaseUntil } = lane.queue.shift()!;
      if (now + target.wire.policy.timeoutMs + this.options.leaseMarginMs / 2 > leaseUntil) {
        stale.push(delivery.id);
        this.#claimed--;
        continue;
      }
      const attempt = this.#attempt(lane, target, delivery);
      this.#attemptsInFlight.add(attempt);
      void attempt.finally(() => this.#attemptsInFlight.delete(attempt));
    }
    if (stale.length > 0) {
      this.store.releaseLeases(stale, now).catch((error: unknown) => {
        this.logger.error({ err: error }, "handing back stale leases failed");
      });
    }
  }

  /** A slot of the process-wide cap came free: lanes that waited for one go first, in order. */
  #startWaitingLanes(): void {
    for (const lane of this.#waitingForCapacity) {
      if (this.#sending >= this.options.maxInFlight) return;
      this.#waitingForCapacity.delete(lane);
      this.#startQueued(lane);
    }
  }

  async #attempt(lane: Lane, target: Target, delivery: ClaimedDelivery): Promise<void> {
    const { wire, endpoint, keys } = target;
    lane.inFlight++;
    this.#sending++;
    this.metrics.inFlight.inc();
    const attempt = delivery.attempts + 1;
    const startedAt = Date.now();
    // A profile with a window (Stream: 15 s from the first attempt) cuts the deadline to what is left of it.
    const windowEndsAt =
      wire.policy.windowMs === undefined
        ? Number.POSITIVE_INFINITY
        : (delivery.firstAttemptAt ?? startedAt) + wire.policy.windowMs;
    const timeoutMs = Math.min(wire.policy.timeoutMs, windowEndsAt - startedAt);
    const request = wire.request(delivery.body, { webhookId: delivery.id, attempt, now: startedAt }, keys, endpoint);
    // The endpoint's extra headers first: the wire format's own (signatures, ids) always win.
    const headers = { ...endpoint.headers, ...request.headers };
    const bodySha256 = createHash("sha256").update(request.body).digest("hex");
    const result =
      timeoutMs > 0 ? await this.sender.post(endpoint.url, request.body, headers, { timeoutMs }) : WINDOW_CLOSED;
    lane.inFlight--;
    this.#sending--;
    this.#claimed--;
    this.metrics.inFlight.dec();
    const outcome = timeoutMs > 0 ? wire.classify(attemptResult(result), attempt) : "failed";
    const endedAt = Date.now();
    // A 429 or 503 with Retry-After: the next attempt waits as asked (up to an hour), never less than
    // the policy says, and not at all when that is past the profile's window (Stream's 15 s).
    const next = nextState(
      policyOf(wire.policy, endpoint),
      outcome,
      attempt,
      delivery.maxAttempts,
      endedAt,
      this.options.retryDelayScale,
      undefined,
      windowEndsAt,
      retryAfterMs(result.statusCode, result.responseHeaders, endedAt),
    );
    const disabledBecause = timeoutMs > 0 ? wire.disablesOn?.(attemptResult(result)) : undefined;
    if (disabledBecause !== undefined) this.#disable(lane, endpoint, disabledBecause);
    this.metrics.attempts.inc({ profile: wire.id, outcome: next.state === "pending" ? "retry" : next.state });
    this.metrics.attemptSeconds.observe({ profile: wire.id }, result.durationMs / 1000);
    const requestHeaders = redactHeaders(headers);
    this.#noteHealth(endpoint.id, next.state, startedAt);
    this.#record({ deliveryId: delivery.id, attempt, startedAt, ...result, requestHeaders, bodySha256, ...next });
    if (next.state === "pending") {
      lane.retryAt = Math.min(lane.retryAt, next.nextAttemptAt);
      lane.dueAt = Math.min(lane.dueAt, next.nextAttemptAt);
    }
    if (this.#running) {
      this.#startWaitingLanes();
      this.#startQueued(lane);
    }
    if (this.#wantsMore(lane)) this.#schedulePump();
  }

  get #autoDisables(): boolean {
    return this.options.autoDisableAfterMs > 0 || this.options.autoDisableFailures > 0;
  }

  /** Adds an attempt to its endpoint's failure streak, or ends the streak: written with the next flush. */
  #noteHealth(endpointId: string, state: AttemptRecord["state"], startedAt: number): void {
    if (!this.#autoDisables) return;
    const change: EndpointHealthChange =
      state === "succeeded"
        ? { endpointId, succeeded: true, failingSince: null, failedDeliveries: 0 }
        : { endpointId, succeeded: false, failingSince: startedAt, failedDeliveries: state === "failed" ? 1 : 0 };
    const known = this.#health.get(endpointId);
    this.#health.set(endpointId, known ? mergeHealth(known, change) : change);
  }

  /** Writes the failure streaks that came with a flushed batch, and holds the work of endpoints it disabled. */
  async #flushHealth(): Promise<void> {
    if (this.#health.size === 0) return;
    const changes = this.#health;
    this.#health = new Map();
    try {
      const disabled = await this.store.recordEndpointHealth([...changes.values()], Date.now(), {
        failingForMs: this.options.autoDisableAfterMs,
        failedDeliveries: this.options.autoDisableFailures,
      });
      for (const { endpointId, appId, reason } of disabled) {
        this.logger.warn({ endpointId, appId, reason }, "endpoint disabled");
        this.endpoints.forgetEndpoint(appId, endpointId);
        const lane = this.#lanes.get(endpointId);
        if (lane) this.#hold(lane, Date.now());
      }
    } catch (error) {
      this.logger.error({ err: error }, "recording endpoint health failed; retrying with the next batch");
      for (const [endpointId, newer] of this.#health) {
        const older = changes.get(endpointId);
        changes.set(endpointId, older ? mergeHealth(older, newer) : newer);
      }
      this.#health = changes;
    }
  }

  /** Hands back what a lane has queued: its endpoint was disabled, so the deliveries are held. */
  #hold(lane: Lane, now: number): void {
    lane.target = undefined;
    const queued = lane.queue.splice(0).map((q) => q.delivery.id);
    this.#claimed -= queued.length;
    if (queued.length > 0) {
      this.store.releaseLeases(queued, now).catch((error: unknown) => {
        this.logger.error({ err: error }, "handing back a disabled endpoint's leases failed");
      });
    }
  }

  /**
   * Disables an endpoint on Herald's own account: the lane hands back what it has queued, and the
   * next claim finds the endpoint disabled, so its pending deliveries are held until it is enabled.
   */
  #disable(lane: Lane, endpoint: Endpoint, reason: string): void {
    lane.target = undefined;
    const queued = lane.queue.splice(0).map((q) => q.delivery.id);
    this.#claimed -= queued.length;
    const now = Date.now();
    this.#disabling.add(endpoint.id);
    void (async () => {
      try {
        if (await this.store.disableEndpoint(endpoint.id, reason, now)) {
          this.logger.warn({ endpointId: endpoint.id, appId: endpoint.appId, reason }, "endpoint disabled");
        }
        this.endpoints.forgetEndpoint(endpoint.appId, endpoint.id);
        if (queued.length > 0) await this.store.releaseLeases(queued, now);
      } catch (error) {
        this.logger.error({ err: error, endpointId: endpoint.id }, "disabling an endpoint failed");
      } finally {
        this.#disabling.delete(endpoint.id);
      }
    })();
  }

  /**
   * Who a lane sends to and with which keys, resolved per claim so a rotation signs at once. A
   * disabled endpoint has none: its deliveries stay pending, held until it is enabled again.
   */
  async #target(endpointId: string): Promise<Target | undefined> {
    if (this.#disabling.has(endpointId)) return undefined;
    const endpoint = await this.endpoints.get(endpointId);
    const wire = endpoint && findWireFormat(endpoint.profile);
    // A `herald listen` session held by another process: its worker sends, not this one.
    if (!endpoint?.enabled || endpoint.url === "" || !wire || !this.sender.sendsTo(endpoint.url)) return undefined;
    const app = await this.endpoints.app(endpoint.appId);
    if (!app) return undefined;
    const endpointKeys = wire.signsWith === "endpoint-keys" ? await this.endpoints.signingKeys(endpointId) : [];
    const apiKeys = wire.signsWith === "api-keys" ? await this.endpoints.apiKeys(app.id) : [];
    if (wire.signsWith === "api-keys" && apiKeys.length === 0) {
      // Nothing to sign with (every API key revoked): hold the deliveries until a key exists.
      this.logger.debug({ endpointId, appId: app.id }, "deliveries held: the app has no API key to sign with");
      return undefined;
    }
    return { endpoint, wire, keys: { appToken: app.signingKey, endpointKeys, apiKeys } };
  }

  #armWakeTimer(): void {
    clearTimeout(this.#wakeTimer);
    if (!this.#running) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const lane of this.#lanes.values()) {
      if (this.#wantsMore(lane)) earliest = Math.min(earliest, lane.dueAt);
    }
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.#wakeTimer = setTimeout(() => this.#schedulePump(), Math.max(0, earliest - Date.now()));
  }

  #record(outcome: AttemptRecord): void {
    this.#outcomes.push(outcome);
    if (this.#outcomes.length >= FLUSH_BATCH) {
      clearTimeout(this.#flushTimer);
      void this.#flush();
    } else if (!this.#flushQueued) {
      this.#flushQueued = true;
      this.#flushTimer = setTimeout(() => void this.#flush(), FLUSH_INTERVAL_MS);
    }
  }

  /**
   * Writes buffered outcomes in one transaction; one flush at a time, in order. A failed write (the
   * database busy or restarting) goes back to the head of the buffer and is tried again with backoff:
   * dropping it would let the leases run out and send delivered webhooks a second time.
   */
  #flush(): Promise<void> {
    this.#flushQueued = false;
    clearTimeout(this.#flushTimer);
    this.#flushing = this.#flushing.then(async () => {
      const batch = this.#outcomes;
      if (batch.length === 0) return;
      this.#outcomes = [];
      try {
        await this.store.recordAttempts(batch);
        this.#flushBackoffMs = 0;
        await this.#flushHealth();
      } catch (error) {
        this.logger.error({ err: error, outcomes: batch.length }, "recording attempt outcomes failed; retrying");
        this.#outcomes = batch.concat(this.#outcomes);
        this.#flushBackoffMs = Math.min(Math.max(2 * this.#flushBackoffMs, 50), 2000);
        // After shutdown began, a lost outcome is like a crash: the lease runs out, the same id goes again.
        if (this.#running && !this.#flushQueued) {
          this.#flushQueued = true;
          this.#flushTimer = setTimeout(() => void this.#flush(), this.#flushBackoffMs);
        }
      }
    });
    return this.#flushing;
  }
}
