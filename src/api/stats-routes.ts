import type { FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import type { BreakerState } from "../core/circuit-breaker.js";
import { yieldToEventLoop } from "../core/event-loop.js";
import type { AttemptOutcome, DeliveryOutcome, Endpoint, QueueHistory } from "../storage/records.js";
import type { Store } from "../storage/store.js";
import { appOf } from "./auth.js";
import type { ApiContext } from "./context.js";
import { isoTime } from "./pagination.js";
import { queryInteger } from "./params.js";

/** Deliveries read at most per request: the overview stays cheap on a busy app (it says when it stopped short). */
const MAX_SCANNED = 5000;
/** Deliveries per store read; the scan yields to the event loop between reads. */
const PAGE = 250;
/** The widest window: one scan of it per app answers every `hours`. */
const MAX_HOURS = 24;
/** Points per chart, whatever the window. */
const BUCKETS = 36;

const StatsQuery = Type.Object(
  { hours: Type.Optional(Type.String({ description: "1 to 24 (default 3); checked by the route" })) },
  { additionalProperties: false },
);

interface Bucket {
  start: number;
  succeeded: number;
  failed: number;
  pending: number;
  latencies: number[];
  /** The largest queue depth and oldest pending age sampled in the bucket (0 when nothing was pending). */
  queueDepth: number;
  oldestPendingAgeMs: number;
}

/** One endpoint's numbers over the window. */
interface EndpointTally {
  endpoint: Endpoint;
  buckets: Bucket[];
  latencies: number[];
  lastError: { at: number; message: string } | null;
  pending: number;
  oldestPending: number | null;
}

const percentile = (sorted: readonly number[], p: number): number | null =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const sortedCopy = (values: readonly number[]) => [...values].sort((a, b) => a - b);

/** What one scan of the log found, newest first. */
interface Scan {
  deliveries: DeliveryOutcome[];
  /** It read everything `keep` allowed; false when it stopped at the cap. */
  complete: boolean;
}

/** Pages through an app's deliveries (outcomes only), newest first, while `keep` holds and the scan cap allows. */
async function scan(
  store: Store,
  appId: string,
  query: { state?: "pending"; createdAfter?: number },
  keep: (delivery: DeliveryOutcome) => boolean,
): Promise<Scan> {
  const deliveries: DeliveryOutcome[] = [];
  let before: { createdAt: number; id: string } | undefined;
  while (deliveries.length < MAX_SCANNED) {
    const page = await store.listDeliveryOutcomes(appId, { ...query, before, limit: PAGE });
    for (const delivery of page) {
      if (!keep(delivery)) return { deliveries, complete: true };
      deliveries.push(delivery);
    }
    const last = page.at(-1);
    if (page.length < PAGE || !last) return { deliveries, complete: true };
    before = { createdAt: last.createdAt, id: last.id };
    await yieldToEventLoop();
  }
  return { deliveries, complete: false };
}

/** What went wrong with an attempt, in words; null for a 2xx. */
function attemptProblem(attempt: AttemptOutcome): string | null {
  if (attempt.error !== null) return attempt.error;
  const status = attempt.statusCode;
  if (status !== null && status >= 200 && status < 300) return null;
  return status === null ? (attempt.errorClass ?? "no answer") : `HTTP ${status}`;
}

/** Failing, disabled or breaker-open endpoints first: what needs a look. */
function attentionRank(enabled: boolean, breaker: BreakerState, successRate: number | null): number {
  if (!enabled) return 0;
  if (breaker !== "closed") return 1;
  if (successRate !== null && successRate < 1) return 2;
  return 3;
}

/**
 * `GET /v1/stats`: the Overview's numbers per endpoint over the last hours, from the delivery log:
 * deliveries per minute by outcome, success rate, attempt latency p50/p99, queue depth and the
 * oldest pending delivery's age. It reads at most 5,000 deliveries of the last 24 hours (and of the
 * queue), outcomes only, once per app for every window (see `StatsCache`); `complete: false` says it
 * stopped short of the window asked for. The queue's past comes from samples (`HERALD_QUEUE_SAMPLE_MS`,
 * see operations/queue-sampler.ts), since the log cannot tell what was pending when.
 */
export const statsRoutes: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  const cache = new StatsCache(ctx.store, (id) => ctx.breakerOf?.(id) ?? "closed");
  app.get<{ Querystring: { hours?: string } }>(
    "/stats",
    {
      config: { access: "read" },
      schema: {
        summary: "Per-endpoint delivery rate, success rate, latency and queue, over the last hours",
        description:
          "Each endpoint's totals over the window, and a series of 36 buckets. A bucket counts the deliveries " +
          "created in it by outcome, with attempt latency p50/p99, and the queue as sampled every " +
          "HERALD_QUEUE_SAMPLE_MS: `queue_depth` and `oldest_pending_age_ms` are the largest sampled in the " +
          "bucket, 0 when the endpoint had nothing pending, null when no sample was taken (Herald was not running). " +
          "`queue_depth` and `oldest_pending_age_ms` beside the series are the queue now.",
        tags: ["deliveries"],
        querystring: StatsQuery,
      },
    },
    async (request) => {
      const hours = request.query.hours === undefined ? 3 : queryInteger(request.query.hours, "hours", 1, MAX_HOURS);
      return cache.get(appOf(request).id, hours);
    },
  );
};

/** How long one computation of an app's stats answers every caller: the Overview polls, tabs multiply. */
export const STATS_CACHE_MS = 5000;

/**
 * Stats per app, computed at most once per few seconds and never twice at once: one computation reads
 * the widest window (24 hours, up to 5,000 deliveries, and the queue), and every `hours` is folded from
 * it, so concurrent callers with different windows share one read of the log. Later callers reuse it
 * until it is `STATS_CACHE_MS` old; one still under way is shared however long it takes.
 */
class StatsCache {
  readonly #entries = new Map<string, { at: number; settled: boolean; snapshot: Promise<LogSnapshot> }>();
  readonly #answers = new WeakMap<LogSnapshot, Map<number, StatsAnswer>>();

  constructor(
    private readonly store: Store,
    private readonly breakerOf: BreakerOf,
  ) {}

  async get(appId: string, hours: number): Promise<StatsAnswer> {
    const snapshot = await this.#snapshot(appId);
    const answers = this.#answers.get(snapshot) ?? new Map<number, StatsAnswer>();
    this.#answers.set(snapshot, answers);
    let answer = answers.get(hours);
    if (!answer) {
      answer = foldStats(snapshot, this.breakerOf, hours);
      answers.set(hours, answer);
    }
    return answer;
  }

  #snapshot(appId: string): Promise<LogSnapshot> {
    const now = Date.now();
    const cached = this.#entries.get(appId);
    if (cached && (!cached.settled || now - cached.at < STATS_CACHE_MS)) return cached.snapshot;
    for (const [old, entry] of this.#entries) {
      if (entry.settled && now - entry.at >= STATS_CACHE_MS) this.#entries.delete(old);
    }
    const entry = { at: now, settled: false, snapshot: readSnapshot(this.store, appId, now) };
    this.#entries.set(appId, entry);
    entry.snapshot.then(
      () => {
        entry.settled = true;
      },
      // A failed computation is not kept: the next caller tries again.
      () => this.#entries.get(appId) === entry && this.#entries.delete(appId),
    );
    return entry.snapshot;
  }
}

/** What the log said about an app at `now`, over the widest window: every `hours` is folded from it. */
interface LogSnapshot {
  now: number;
  endpoints: Endpoint[];
  window: Scan;
  queue: Scan;
  history: QueueHistory;
}

async function readSnapshot(store: Store, appId: string, now: number): Promise<LogSnapshot> {
  const since = now - MAX_HOURS * 3_600_000;
  const endpoints = await store.listEndpoints(appId);
  const window = await scan(store, appId, { createdAfter: since }, () => true);
  const queue = await scan(store, appId, { state: "pending" }, () => true);
  const history = await store.queueHistory(appId, since);
  return { now, endpoints, window, queue, history };
}

/**
 * The deliveries of a snapshot's window created at or after `since`, newest first, and whether that is
 * all of them: a scan stopped at the cap still holds every one if it read past `since`.
 */
function windowSince(window: Scan, since: number): Scan {
  const end = window.deliveries.findIndex((delivery) => delivery.createdAt < since);
  const deliveries = end === -1 ? window.deliveries : window.deliveries.slice(0, end);
  return { deliveries, complete: window.complete || end !== -1 };
}

type StatsAnswer = ReturnType<typeof foldStats>;

/** An endpoint's breaker as this process's worker knows it (closed where no worker runs). */
type BreakerOf = (endpointId: string) => BreakerState;

/**
 * Folds the queue samples into the endpoints' buckets (the largest depth and age in each), and says which
 * buckets had a sample taken at all: there, an endpoint without a sample had nothing pending.
 */
function sampledBuckets(
  history: QueueHistory,
  tallies: ReadonlyMap<string, EndpointTally>,
  bucketOf: (time: number) => number,
): boolean[] {
  const sampled = Array.from({ length: BUCKETS }, () => false);
  for (const run of history.runs) sampled[bucketOf(run)] = true;
  for (const sample of history.samples) {
    const bucket = tallies.get(sample.endpointId)?.buckets[bucketOf(sample.sampledAt)];
    if (!bucket) continue; // a deleted endpoint's samples age out with the rest
    bucket.queueDepth = Math.max(bucket.queueDepth, sample.pending);
    // The sample's time is its period's start: a delivery created later in that period is 0 ms old, not less.
    bucket.oldestPendingAgeMs = Math.max(bucket.oldestPendingAgeMs, sample.sampledAt - sample.oldestCreatedAt);
  }
  return sampled;
}

function foldStats(snapshot: LogSnapshot, breakerOf: BreakerOf, hours: number) {
  const { now, endpoints, queue } = snapshot;
  const since = now - hours * 3_600_000;
  const bucketMs = (hours * 3_600_000) / BUCKETS;
  const window = windowSince(snapshot.window, since);
  const history: QueueHistory = {
    runs: snapshot.history.runs.filter((run) => run >= since),
    samples: snapshot.history.samples.filter((sample) => sample.sampledAt >= since),
  };
  const bucketOf = (time: number) => Math.min(BUCKETS - 1, Math.floor((time - since) / bucketMs));

  const tallies = new Map<string, EndpointTally>(
    endpoints.map((endpoint) => [
      endpoint.id,
      {
        endpoint,
        buckets: Array.from({ length: BUCKETS }, (_, index) => ({
          start: since + index * bucketMs,
          succeeded: 0,
          failed: 0,
          pending: 0,
          latencies: [],
          queueDepth: 0,
          oldestPendingAgeMs: 0,
        })),
        latencies: [],
        lastError: null,
        pending: 0,
        oldestPending: null,
      },
    ]),
  );
  for (const delivery of window.deliveries) {
    const tally = tallies.get(delivery.endpointId);
    if (!tally) continue; // a deleted endpoint's deliveries stay in the log, not in the overview
    const bucket = tally.buckets[bucketOf(delivery.createdAt)]!;
    bucket[delivery.state] += 1;
    for (const attempt of delivery.attempts) {
      bucket.latencies.push(attempt.durationMs);
      tally.latencies.push(attempt.durationMs);
      const problem = attemptProblem(attempt);
      if (problem !== null && (tally.lastError === null || attempt.startedAt > tally.lastError.at)) {
        tally.lastError = { at: attempt.startedAt, message: problem };
      }
    }
  }
  for (const delivery of queue.deliveries) {
    const tally = tallies.get(delivery.endpointId);
    if (!tally) continue;
    tally.pending += 1;
    tally.oldestPending = Math.min(tally.oldestPending ?? delivery.createdAt, delivery.createdAt);
  }

  const sampled = sampledBuckets(history, tallies, bucketOf);

  const rows = [...tallies.values()].map((tally) => {
    const succeeded = tally.buckets.reduce((sum, bucket) => sum + bucket.succeeded, 0);
    const failed = tally.buckets.reduce((sum, bucket) => sum + bucket.failed, 0);
    const pending = tally.buckets.reduce((sum, bucket) => sum + bucket.pending, 0);
    const finished = succeeded + failed;
    const successRate = finished === 0 ? null : succeeded / finished;
    const latencies = sortedCopy(tally.latencies);
    const breaker = breakerOf(tally.endpoint.id);
    return {
      rank: attentionRank(tally.endpoint.enabled, breaker, successRate),
      json: {
        endpoint_id: tally.endpoint.id,
        url: tally.endpoint.url,
        profile: tally.endpoint.profile,
        enabled: tally.endpoint.enabled,
        disabled_reason: tally.endpoint.disabledReason,
        breaker,
        deliveries: succeeded + failed + pending,
        succeeded,
        failed,
        success_rate: successRate,
        latency_p50_ms: percentile(latencies, 50),
        latency_p99_ms: percentile(latencies, 99),
        last_error: tally.lastError && { at: isoTime(tally.lastError.at), message: tally.lastError.message },
        queue_depth: tally.pending,
        oldest_pending_age_ms: tally.oldestPending === null ? null : now - tally.oldestPending,
        series: tally.buckets.map((bucket, index) => {
          const sorted = sortedCopy(bucket.latencies);
          return {
            start: isoTime(bucket.start),
            per_minute: (bucket.succeeded + bucket.failed + bucket.pending) / (bucketMs / 60_000),
            succeeded: bucket.succeeded,
            failed: bucket.failed,
            pending: bucket.pending,
            latency_p50_ms: percentile(sorted, 50),
            latency_p99_ms: percentile(sorted, 99),
            queue_depth: sampled[index] ? bucket.queueDepth : null,
            oldest_pending_age_ms: sampled[index] ? bucket.oldestPendingAgeMs : null,
          };
        }),
      },
    };
  });
  rows.sort((a, b) => a.rank - b.rank || b.json.failed - a.json.failed);
  return {
    hours,
    /** When these numbers were computed: answers are shared for a few seconds. */
    generated_at: isoTime(now),
    bucket_seconds: bucketMs / 1000,
    complete: window.complete && queue.complete,
    endpoints: rows.map((row) => row.json),
  };
}
