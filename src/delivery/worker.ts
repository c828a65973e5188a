import { createHash } from "node:crypto";
import type { EndpointDirectory } from "../apps/endpoint-directory.js";
import { filterMatches, isHeraldType } from "../catalog/index.js";
import { BREAKER_STATES, type BreakerChange, type BreakerState, CircuitBreaker } from "../core/circuit-breaker.js";
import { LoopTurns } from "../core/event-loop.js";
import type { Logger } from "../core/logger.js";
import type { Metrics } from "../core/metrics.js";
import type { AttemptResult, SigningKeys, WireFormat } from "../profiles/profile.js";
import { findWireFormat } from "../profiles/registry.js";
import type { AttemptRecord, ClaimedDelivery, Endpoint, EndpointHealthChange } from "../storage/records.js";
import { ENDPOINT_DELETED, type Store } from "../storage/store.js";
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
  /** Failed attempts in a row that open an endpoint's circuit breaker. */
  endpointBreakerFailures: number;
  /** How long an open breaker waits before its probe; doubled per failed probe up to the max. */
  endpointBreakerCoolDownMs: number;
  endpointBreakerMaxCoolDownMs: number;
}

/** What the worker tells the rest of Herald (operational events). */
export interface WorkerEvents {
  /** A delivery ended failed after an attempt (a dead letter). */
  deliveryFailed?(failed: FailedDelivery): void;
  /** Herald disabled an endpoint by itself (a 410 Gone, a long failure streak). */
  endpointDisabled?(endpointId: string, appId: string, reason: string): void;
}

/** A delivery that ended failed after an attempt: what `herald.delivery.failed` reports. */
export interface FailedDelivery {
  endpoint: Endpoint;
  deliveryId: string;
  type: string;
  attempts: number;
  statusCode: number | null;
  error: string | null;
  endedAt: number;
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
  endpointId: string;
  /** Its endpoint's app, once resolved: fairness takes turns between apps. */
  appId: string | undefined;
  inFlight: number;
  /** Claimed deliveries waiting for a free slot: the next attempt starts the moment one ends. */
  queue: Queued[];
  /** Who the queued deliveries go to, resolved when they were claimed. */
  target: Target | undefined;
  /** When a claim may find work: 0 = now, Infinity = nothing known. */
  dueAt: number;
  /** The earliest retry this process scheduled for the lane. */
  retryAt: number;
  breaker: CircuitBreaker;
  /**
   * When a rate-limited lane may start its next attempt: starts are spaced evenly (1 s / limit
   * apart), so a receiver never sees a burst, and no second holds more than the limit.
   */
  nextStartAt: number;
  /** Set while the lane waits for its rate limit to let the next attempt start. */
  rateTimer: NodeJS.Timeout | undefined;
}

/**
 * Whether an endpoint (as it is now) still wants a type: its filter takes it and its format carries
 * it (every queued format carries Herald's own operational events).
 */
const stillSubscribes = (target: Target, type: string): boolean =>
  filterMatches(target.endpoint.eventTypes, type) && (isHeraldType(type) || (target.wire.carries?.(type) ?? true));

interface Queued {
  delivery: ClaimedDelivery;
  leaseUntil: number;
}

interface Target {
  endpoint: Endpoint;
  wire: WireFormat;
  keys: SigningKeys;
}
/** Fairness groups lanes by app; a lane whose endpoint is not resolved yet is a group of its own. */
const appKey = (lane: Lane): string => lane.appId ?? `endpoint:${lane.endpointId}`;

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
/** Bodies from this length (64 KiB of text) are sent one per turn of the event loop. */
const BIG_BODY_LENGTH = 64 * 1024;

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
  readonly #bigBodyTurns = new LoopTurns();
  /**
   * Lanes with queued work and free slots that wait only for the process-wide cap, per app: a freed
   * slot goes to the next app in turn, then to that app's next lane, so no app's backlog holds another's.
   */
  readonly #waitingForCapacity = new Map<string, Set<Lane>>();
  /** Which app's lanes a pump offers claims to first: moves on every pump, so no app is always last. */
  #pumpTurn = 0;
  #outcomes: AttemptRecord[] = [];
  /** The endpoint of each buffered outcome, in the same order: a retry is claimable only once written. */
  #outcomeEndpoints: string[] = [];
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
    private readonly events: WorkerEvents = {},
  ) {
    metrics.watchBreakers(() => this.breakerCounts());
  }

  start(): void {
    this.#running = true;
    void this.#poll();
    this.#pollTimer = setInterval(() => void this.#poll(), this.options.pollIntervalMs);
  }

  /** New deliveries were committed for these endpoints: look now rather than at the next poll. */
  notify(endpointIds: Iterable<string>): void {
    for (const id of endpointIds) this.#lane(id).dueAt = 0;
    // Once the caller's code is done, not at the loop's next turn: under load a turn holds 10 ms or
    // more of other I/O, all of which a delivery committed now would wait for before its claim.
    queueMicrotask(() => this.#pumpNow());
  }

  /** Something was committed somewhere, for endpoints we were not told: poll now. */
  pollNow(): void {
    void this.#poll();
  }

  /** The breaker of an endpoint as this process knows it (closed when it never failed here). */
  breakerOf(endpointId: string): BreakerState {
    return this.#lanes.get(endpointId)?.breaker.state ?? "closed";
  }

  /** How many endpoints this process knows in each breaker state. */
  breakerCounts(): Record<BreakerState, number> {
    const counts = Object.fromEntries(BREAKER_STATES.map((state) => [state, 0])) as Record<BreakerState, number>;
    for (const lane of this.#lanes.values()) counts[lane.breaker.state]++;
    return counts;
  }

  /**
   * An endpoint changed in this process (disabled, enabled, its filter or URL): its queued work
   * follows at once. Disabled: what the lane holds is handed back and stays pending (held). Still
   * enabled: queued deliveries of types it no longer subscribes to are cancelled, the rest go on.
   */
  endpointChanged(endpointId: string): void {
    if (!this.#running) return;
    const lane = this.#lane(endpointId);
    // Nothing more starts on the old terms while the endpoint is read again.
    lane.target = undefined;
    void (async () => {
      try {
        const target = await this.#target(endpointId);
        if (!target) {
          this.#hold(lane, Date.now());
          return;
        }
        lane.target = target;
        lane.appId = target.endpoint.appId;
        const unwanted = lane.queue.filter((q) => !stillSubscribes(target, q.delivery.type));
        if (unwanted.length > 0) {
          lane.queue = lane.queue.filter((q) => stillSubscribes(target, q.delivery.type));
          this.#cancel(
            target,
            unwanted.map((q) => q.delivery),
          );
        }
        // Enabled again, or subscribed to more: look for its pending work now.
        lane.dueAt = 0;
        this.#startQueued(lane);
        this.#schedulePump();
      } catch (error) {
        this.logger.error({ err: error, endpointId }, "applying an endpoint change to its queued work failed");
        // Hand the queue back rather than keep it unstartable; the next claim reads the endpoint again.
        this.#hold(lane, Date.now());
        lane.dueAt = Math.min(lane.dueAt, Date.now() + this.options.pollIntervalMs);
      }
    })();
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
    for (const lane of this.#lanes.values()) clearTimeout(lane.rateTimer);
    this.#waitingForCapacity.clear();
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
        endpointId,
        appId: undefined,
        inFlight: 0,
        queue: [],
        target: undefined,
        dueAt: Number.POSITIVE_INFINITY,
        retryAt: Number.POSITIVE_INFINITY,
        breaker: new CircuitBreaker({
          failures: this.options.endpointBreakerFailures,
          coolDownMs: this.options.endpointBreakerCoolDownMs,
          maxCoolDownMs: this.options.endpointBreakerMaxCoolDownMs,
        }),
        nextStartAt: 0,
        rateTimer: undefined,
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
    // At the next turn: what ends during this one (attempts, flushes) is claimed for in one pump.
    setImmediate(() => {
      this.#pumpQueued = false;
      this.#pumpNow();
    });
  }

  #pumpNow(): void {
    if (!this.#running) return;
    if (this.#pumping) this.#pumpAgain = true;
    else this.#currentPump = this.#pump();
  }

  /**
   * One pump at a time: the scheduler sets `#pumpAgain` instead of starting a second. Claims are
   * offered to apps in turn, and bounded: all lanes together hold at most two rounds of the
   * process-wide cap, except that an app below its fair share of that may always claim up to it.
   * What each app holds is counted afresh from the lanes on every pass, so nothing can leak.
   */
  async #pump(): Promise<void> {
    if (!this.#running) return;
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        const now = Date.now();
        const budget = 2 * this.options.maxInFlight;
        const held = this.#claimedByApp();
        let total = [...held.values()].reduce((sum, n) => sum + n, 0);
        const candidates = this.#fairOrder(now);
        const apps = new Set([...held.keys(), ...candidates.map(appKey)]);
        const share = Math.max(1, Math.ceil(budget / Math.max(1, apps.size)));
        for (const lane of candidates) {
          if (!this.#running) break;
          const key = appKey(lane);
          const mine = held.get(key) ?? 0;
          const room = Math.max(budget - total, share - mine);
          if (room <= 0) continue;
          const claimed = await this.#fill(lane, now, room);
          held.set(appKey(lane), (held.get(appKey(lane)) ?? 0) + claimed);
          total += claimed;
        }
        for (const [endpointId, lane] of this.#lanes) {
          // A lane that still remembers anything (its breaker, its rate limit's spacing) is kept.
          const spaced = lane.nextStartAt > now;
          const idle = lane.inFlight === 0 && lane.queue.length === 0 && lane.breaker.clean && !spaced;
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

  /** Deliveries each app's lanes hold now (queued or in flight), counted from the lanes themselves. */
  #claimedByApp(): Map<string, number> {
    const held = new Map<string, number>();
    for (const lane of this.#lanes.values()) {
      const n = lane.queue.length + lane.inFlight;
      if (n > 0) held.set(appKey(lane), (held.get(appKey(lane)) ?? 0) + n);
    }
    return held;
  }

  /** The lanes that may claim now, one of each app in turn (the first app moving on every pump). */
  #fairOrder(now: number): Lane[] {
    const byApp = new Map<string, Lane[]>();
    for (const lane of this.#lanes.values()) {
      if (lane.dueAt > now || !this.#wantsMore(lane) || lane.breaker.openUntil > now) continue;
      const key = appKey(lane);
      const lanes = byApp.get(key);
      if (lanes) lanes.push(lane);
      else byApp.set(key, [lane]);
    }
    const groups = [...byApp.values()];
    if (groups.length === 0) return [];
    const first = this.#pumpTurn++ % groups.length;
    const rotated = [...groups.slice(first), ...groups.slice(0, first)];
    const order: Lane[] = [];
    for (let round = 0; order.length < this.#lanesIn(rotated); round++) {
      for (const lanes of rotated) if (round < lanes.length) order.push(lanes[round]!);
    }
    return order;
  }

  #lanesIn(groups: Lane[][]): number {
    return groups.reduce((sum, lanes) => sum + lanes.length, 0);
  }

  /** A lane is refilled once its queue is down to half a round, so one claim serves many attempts. */
  #wantsMore(lane: Lane): boolean {
    return lane.queue.length <= this.#concurrencyOf(lane) / 2;
  }

  /** Attempts a lane may have in flight: the process setting, or the endpoint's own lower cap. */
  #concurrencyOf(lane: Lane): number {
    const own = lane.target?.endpoint.maxConcurrency;
    return own ? Math.min(own, this.options.endpointConcurrency) : this.options.endpointConcurrency;
  }

  /**
   * Claims due deliveries of one endpoint, up to one round beyond its free slots (and `room`), and
   * starts what fits. Deliveries of types the endpoint no longer subscribes to are cancelled.
   * Returns how many it kept.
   */
  async #fill(lane: Lane, now: number, room: number): Promise<number> {
    const target = await this.#target(lane.endpointId);
    if (!target) {
      lane.dueAt = Number.POSITIVE_INFINITY;
      this.#hold(lane, now);
      await this.#endOrphans(lane.endpointId, now);
      return 0;
    }
    lane.target = target;
    lane.appId = target.endpoint.appId;
    const { slots, change } = lane.breaker.slots(now);
    if (change) this.#breakerChanged(lane, change);
    // Half-open: one delivery, the probe. A rate limit: about a second's worth, so leases do not lapse in the queue.
    const round = Math.min(this.#concurrencyOf(lane), slots, target.endpoint.rateLimit ?? Number.POSITIVE_INFINITY);
    const wanted = Math.min(2 * round - lane.inFlight - lane.queue.length, room);
    if (wanted <= 0) return 0;
    // A queued delivery may wait for one attempt to end before its own starts: the lease covers both.
    const leaseUntil = now + 2 * target.wire.policy.timeoutMs + this.options.leaseMarginMs;
    const claimed = await this.store.claimDue(lane.endpointId, wanted, now, leaseUntil);
    if (claimed.length < wanted) {
      // Drained for now; what is left is the retries this process scheduled (the poll finds the rest).
      lane.dueAt = lane.retryAt > now ? lane.retryAt : Number.POSITIVE_INFINITY;
      if (lane.retryAt <= now) lane.retryAt = Number.POSITIVE_INFINITY;
    }
    // The endpoint may have changed while the claim ran: check against what it is now.
    const current = lane.target ?? target;
    const unwanted = claimed.filter((delivery) => !stillSubscribes(current, delivery.type));
    if (unwanted.length > 0) this.#cancel(current, unwanted);
    const kept = claimed.filter((delivery) => stillSubscribes(current, delivery.type));
    for (const delivery of kept) lane.queue.push({ delivery, leaseUntil });
    if (!lane.target) this.#hold(lane, now);
    else if (lane.breaker.openUntil > Date.now()) this.#pausedByBreaker(lane);
    else this.#startQueued(lane);
    return kept.length;
  }

  /**
   * Pending deliveries of an endpoint that no longer exists (a publish, resend or recovery raced its
   * deletion) would wait for ever: they end as the delete ended the others. Held ones of a disabled
   * endpoint are not touched.
   */
  async #endOrphans(endpointId: string, now: number): Promise<void> {
    if (await this.endpoints.get(endpointId)) return;
    const ended = await this.store.endOrphanedDeliveries(endpointId, ENDPOINT_DELETED, now);
    if (ended > 0)
      this.logger.warn({ endpointId, deliveries: ended }, "pending deliveries of a deleted endpoint ended");
  }

  /**
   * The breaker opened while the claim ran: what it brought back goes back to the store, as on
   * opening, so the lane is empty and looks again (for its probe) when the cool-down ends.
   */
  #pausedByBreaker(lane: Lane): void {
    const now = Date.now();
    this.#release(lane, now);
    lane.dueAt = Math.min(lane.dueAt, now);
    this.#armWakeTimer();
  }

  /** Ends deliveries whose endpoint no longer subscribes to their type: failed, with the reason kept. */
  #cancel(target: Target, deliveries: ClaimedDelivery[]): void {
    const ids = deliveries.map((delivery) => delivery.id);
    const reason = "cancelled: the endpoint no longer subscribes to this event type";
    this.logger.info(
      { endpointId: target.endpoint.id, appId: target.endpoint.appId, deliveries: ids.length },
      "queued deliveries cancelled: the endpoint's filter no longer takes their type",
    );
    this.store.cancelDeliveries(ids, reason, Date.now()).catch((error: unknown) => {
      this.logger.error({ err: error }, "cancelling unsubscribed deliveries failed");
    });
  }

  /** How long a lane's rate limit makes its next attempt wait (0: it may start now). */
  #rateWait(lane: Lane, target: Target, now: number): number {
    return target.endpoint.rateLimit ? Math.max(0, lane.nextStartAt - now) : 0;
  }

  /**
   * Starts queued deliveries while the lane (its concurrency, breaker and rate limit) and the process
   * have room. A delivery whose lease no longer covers a whole attempt is not sent but handed back,
   * so no lease can run out under an attempt and let the same delivery go out twice at once.
   */
  #startQueued(lane: Lane): void {
    while (this.#startOne(lane) === "started") {}
  }

  #startOne(lane: Lane): "started" | "lane-full" | "process-full" {
    const target = lane.target;
    if (!target || !this.#running) return "lane-full";
    const stale: string[] = [];
    const now = Date.now();
    try {
      while (lane.queue.length > 0) {
        const { slots, change } = lane.breaker.slots(now);
        if (change) this.#breakerChanged(lane, change);
        if (lane.inFlight >= Math.min(this.#concurrencyOf(lane), slots)) return "lane-full";
        const wait = this.#rateWait(lane, target, now);
        if (wait > 0) {
          lane.rateTimer ??= setTimeout(() => {
            lane.rateTimer = undefined;
            this.#startQueued(lane);
          }, wait);
          return "lane-full";
        }
        if (this.#sending >= this.options.maxInFlight) {
          this.#waitForCapacity(lane);
          return "process-full";
        }
        const { delivery, leaseUntil } = lane.queue.shift()!;
        if (this.#leaseTooShort(target, leaseUntil, now)) {
          stale.push(delivery.id);
          continue;
        }
        const limit = target.endpoint.rateLimit;
        if (limit) lane.nextStartAt = Math.max(now, lane.nextStartAt) + 1000 / limit;
        const attempt = this.#attempt(lane, target, delivery, leaseUntil);
        this.#attemptsInFlight.add(attempt);
        void attempt.finally(() => this.#attemptsInFlight.delete(attempt));
        return "started";
      }
      return "lane-full";
    } finally {
      if (stale.length > 0) this.#handBack(lane, stale, now);
    }
  }

  /** Whether a lease ends too soon for an attempt started now to finish inside it. */
  #leaseTooShort(target: Target, leaseUntil: number, now: number): boolean {
    return now + target.wire.policy.timeoutMs + this.options.leaseMarginMs / 2 > leaseUntil;
  }

  /** Gives leases back unsent: due again now, for this worker or another to claim afresh. */
  #handBack(lane: Lane, deliveryIds: string[], now: number): void {
    this.store.releaseLeases(deliveryIds, now).catch((error: unknown) => {
      this.logger.error({ err: error }, "handing back stale leases failed");
    });
    // Handed back, so due now: claim them again rather than wait for the poll.
    lane.dueAt = Math.min(lane.dueAt, now);
    this.#schedulePump();
  }

  /** The slots an attempt held come back: a lane whose count leaked would stall for good. */
  #attemptEnded(lane: Lane): void {
    lane.inFlight--;
    this.#sending--;
    this.metrics.inFlight.dec();
  }

  #waitForCapacity(lane: Lane): void {
    const key = appKey(lane);
    const lanes = this.#waitingForCapacity.get(key);
    if (lanes) lanes.add(lane);
    else this.#waitingForCapacity.set(key, new Set([lane]));
  }

  /**
   * Slots of the process-wide cap came free: they go to the waiting apps in turn, one attempt at a
   * time, and within an app to its waiting lanes in turn.
   */
  #startWaitingLanes(): void {
    while (this.#sending < this.options.maxInFlight && this.#waitingForCapacity.size > 0) {
      const [key, lanes] = this.#waitingForCapacity.entries().next().value as [string, Set<Lane>];
      this.#waitingForCapacity.delete(key);
      const lane = lanes.values().next().value as Lane;
      lanes.delete(lane);
      // A lane that started one goes to the back of its app's turn, if it has more to start.
      if (this.#startOne(lane) === "started" && lane.queue.length > 0) lanes.add(lane);
      // The app goes to the back of the apps' turn (with any lane of it that queued up meanwhile).
      const queuedMeanwhile = this.#waitingForCapacity.get(key);
      if (queuedMeanwhile) for (const other of queuedMeanwhile) lanes.add(other);
      this.#waitingForCapacity.delete(key);
      if (lanes.size > 0) this.#waitingForCapacity.set(key, lanes);
    }
  }

  #breakerChanged(lane: Lane, change: BreakerChange): void {
    const fields = { endpointId: lane.endpointId, appId: lane.appId, breaker: lane.breaker.state };
    if (change === "opened") {
      this.logger.warn(
        { ...fields, retryAt: new Date(lane.breaker.openUntil).toISOString() },
        "endpoint breaker opened: no attempts until the cool-down ends",
      );
      // Its queued work goes back, pending with its attempts untouched, until the probe succeeds;
      // that work is due, so the lane looks again when the cool-down ends, whatever it knew before.
      const now = Date.now();
      this.#release(lane, now);
      lane.dueAt = Math.min(lane.dueAt, now);
      this.#armWakeTimer();
    } else if (change === "half_opened") {
      this.logger.warn(fields, "endpoint breaker half-open: one probe attempt");
    } else {
      this.logger.warn(fields, "endpoint breaker closed: the endpoint answers again");
      lane.dueAt = 0;
      this.#schedulePump();
    }
  }

  async #attempt(lane: Lane, target: Target, delivery: ClaimedDelivery, leaseUntil: number): Promise<void> {
    const { wire, endpoint, keys } = target;
    lane.inFlight++;
    this.#sending++;
    this.metrics.inFlight.inc();
    // Signing, hashing and encoding a big body take milliseconds each: one such attempt per turn of the
    // event loop, so an event fanned out to many endpoints does not hold up the API meanwhile.
    if (delivery.body.length >= BIG_BODY_LENGTH) {
      await this.#bigBodyTurns.next();
      // While it waited, the worker may have begun to stop, or the lease may have grown too short for
      // the attempt (the pump's rule): either way it goes back unsent, and its slot to another lane.
      if (!this.#running || this.#leaseTooShort(target, leaseUntil, Date.now())) {
        this.#attemptEnded(lane);
        this.#handBack(lane, [delivery.id], Date.now());
        if (this.#running) this.#startWaitingLanes();
        return;
      }
    }
    const attempt = delivery.attempts + 1;
    const startedAt = Date.now();
    // A profile with a window (Stream: 15 s from the first attempt) cuts the deadline to what is left of it.
    const windowEndsAt =
      wire.policy.windowMs === undefined
        ? Number.POSITIVE_INFINITY
        : (delivery.firstAttemptAt ?? startedAt) + wire.policy.windowMs;
    const timeoutMs = Math.min(wire.policy.timeoutMs, windowEndsAt - startedAt);
    let result: TransportResult;
    let headers: Record<string, string> = {};
    let bodySha256 = "";
    try {
      const request = wire.request(delivery.body, { webhookId: delivery.id, attempt, now: startedAt }, keys, endpoint);
      // The endpoint's extra headers first: the wire format's own (signatures, ids) always win.
      headers = { ...endpoint.headers, ...request.headers };
      bodySha256 = createHash("sha256").update(request.body).digest("hex");
      result =
        timeoutMs > 0 ? await this.sender.post(endpoint.url, request.body, headers, { timeoutMs }) : WINDOW_CLOSED;
    } finally {
      this.#attemptEnded(lane);
    }
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
    const breakerChange = outcome === "succeeded" ? lane.breaker.succeeded() : lane.breaker.failed(endedAt);
    if (breakerChange) this.#breakerChanged(lane, breakerChange);
    const logged = { deliveryId: delivery.id, endpointId: endpoint.id, appId: endpoint.appId, attempt };
    this.logger.debug(
      { ...logged, status: result.statusCode, errorClass: result.errorClass, ms: result.durationMs, state: next.state },
      "attempt finished",
    );
    if (next.state === "failed") {
      this.logger.warn({ ...logged, status: result.statusCode, error: result.error }, "delivery failed: dead letter");
      this.events.deliveryFailed?.({
        endpoint,
        deliveryId: delivery.id,
        type: delivery.type,
        attempts: attempt,
        statusCode: result.statusCode,
        error: result.error,
        endedAt,
      });
    }
    this.metrics.attempts.inc({ profile: wire.id, outcome: next.state === "pending" ? "retry" : next.state });
    this.metrics.attemptSeconds.observe({ profile: wire.id }, result.durationMs / 1000);
    const requestHeaders = redactHeaders(headers);
    this.#noteHealth(endpoint.id, next.state, startedAt);
    this.#record(endpoint.id, {
      deliveryId: delivery.id,
      attempt,
      startedAt,
      ...result,
      requestHeaders,
      bodySha256,
      ...next,
    });
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
        this.events.endpointDisabled?.(endpointId, appId, reason);
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
    this.#release(lane, now);
  }

  /** Hands back a lane's queued deliveries: pending again, due now, their attempts untouched. */
  #release(lane: Lane, now: number): void {
    const queued = lane.queue.splice(0).map((q) => q.delivery.id);
    if (queued.length > 0) {
      this.store.releaseLeases(queued, now).catch((error: unknown) => {
        this.logger.error({ err: error, endpointId: lane.endpointId }, "handing back leases failed");
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
    const now = Date.now();
    this.#disabling.add(endpoint.id);
    void (async () => {
      try {
        if (await this.store.disableEndpoint(endpoint.id, reason, now)) {
          this.logger.warn({ endpointId: endpoint.id, appId: endpoint.appId, reason }, "endpoint disabled");
          this.events.endpointDisabled?.(endpoint.id, endpoint.appId, reason);
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
    if (wire.signsWith === "endpoint-keys" && endpointKeys.length === 0) {
      // Never an unsigned request. Endpoints are created with their keys in one transaction, so this
      // is a defence only (a store that broke that promise, keys deleted by hand): held until keys exist.
      this.logger.debug({ endpointId, appId: app.id }, "deliveries held: the endpoint has no signing key yet");
      return undefined;
    }
    return { endpoint, wire, keys: { appToken: app.signingKey, endpointKeys, apiKeys } };
  }

  #armWakeTimer(): void {
    clearTimeout(this.#wakeTimer);
    if (!this.#running) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const lane of this.#lanes.values()) {
      // An open breaker's lane looks again when its cool-down ends, however long its work has been due.
      if (this.#wantsMore(lane)) earliest = Math.min(earliest, Math.max(lane.dueAt, lane.breaker.openUntil));
    }
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.#wakeTimer = setTimeout(() => this.#schedulePump(), Math.max(0, earliest - Date.now()));
  }

  #record(endpointId: string, outcome: AttemptRecord): void {
    this.#outcomes.push(outcome);
    this.#outcomeEndpoints.push(endpointId);
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
  /**
   * Retries just written are claimable now: a claim made before the write found them still leased,
   * so their lanes look again when each is due, not at the next poll.
   */
  #retriesWritten(batch: AttemptRecord[], endpointIds: string[]): void {
    let woken = false;
    batch.forEach((outcome, index) => {
      if (outcome.state !== "pending") return;
      const lane = this.#lane(endpointIds[index]!);
      lane.dueAt = Math.min(lane.dueAt, outcome.nextAttemptAt);
      woken = true;
    });
    if (woken) this.#armWakeTimer();
  }

  #flush(): Promise<void> {
    this.#flushQueued = false;
    clearTimeout(this.#flushTimer);
    this.#flushing = this.#flushing.then(async () => {
      const batch = this.#outcomes;
      const endpointIds = this.#outcomeEndpoints;
      if (batch.length === 0) return;
      this.#outcomes = [];
      this.#outcomeEndpoints = [];
      try {
        await this.store.recordAttempts(batch);
        this.#flushBackoffMs = 0;
        this.#retriesWritten(batch, endpointIds);
        await this.#flushHealth();
      } catch (error) {
        this.logger.error({ err: error, outcomes: batch.length }, "recording attempt outcomes failed; retrying");
        this.#outcomes = batch.concat(this.#outcomes);
        this.#outcomeEndpoints = endpointIds.concat(this.#outcomeEndpoints);
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
