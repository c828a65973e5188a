import { HeraldError } from "../core/errors.js";

/** Where an app's own limit is kept: the app settings namespace the native API writes. */
export const LIMITS_NAMESPACE = "limits";

/** An app's limits as `PATCH /v1/apps/{id}` stores them; null: the deployment's default. */
export interface AppLimits {
  /** Events per second this app may publish. */
  publish_rate_limit: number | null;
}

/** Reads an app's own publish rate, if it has one (cached by the caller: this runs on every publish). */
export type AppRateLookup = (appId: string) => Promise<number | null>;

interface Bucket {
  tokens: number;
  rate: number;
  refilledAt: number;
}

/** How often buckets that have filled up again are forgotten. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * A token bucket per app, in events per second, holding one second's worth. A publish of `n`
 * events is admitted when the bucket holds `min(n, one second's worth)` and then pays for all
 * `n`: a batch bigger than a second's worth goes through whole when the bucket is full, and the
 * app waits for the debt to refill. Each process keeps its own buckets, so with several API
 * processes an app may publish up to the limit through each.
 */
export class PublishRateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  #sweptAt = 0;

  constructor(
    /** Events per second for apps without their own limit; 0: unlimited. */
    private readonly defaultRate: number,
    private readonly appRate: AppRateLookup,
    private readonly onRefused: () => void = () => {},
  ) {}

  /** Takes `count` events from the app's bucket, or throws `rate_limited` with when to try again. */
  async take(appId: string, count: number, now = Date.now()): Promise<void> {
    const bucket = await this.#bucketFor(appId, now);
    if (!bucket) return;
    this.#refuseBelow(bucket, Math.min(count, bucket.rate));
    bucket.tokens -= count;
  }

  /**
   * Refuses a publish that no batch size could pass, taking nothing: asked before the body is read,
   * so that an app in debt is answered without its upload being parsed.
   */
  async refuseIfEmpty(appId: string, now = Date.now()): Promise<void> {
    const bucket = await this.#bucketFor(appId, now);
    if (bucket) this.#refuseBelow(bucket, Math.min(1, bucket.rate));
  }

  /** The app's bucket, refilled to `now`; undefined when the app publishes without a limit. */
  async #bucketFor(appId: string, now: number): Promise<Bucket | undefined> {
    const rate = (await this.appRate(appId)) ?? this.defaultRate;
    if (rate <= 0) return undefined;
    this.#sweep(now);
    return this.#refill(appId, rate, now);
  }

  #refuseBelow(bucket: Bucket, needed: number): void {
    if (bucket.tokens >= needed) return;
    const { rate } = bucket;
    const retryAfterSeconds = Math.max(1, Math.ceil((needed - bucket.tokens) / rate));
    this.onRefused();
    throw new HeraldError(
      "rate_limited",
      `This app may publish ${rate} ${rate === 1 ? "event" : "events"} per second; try again in ${retryAfterSeconds} s.`,
      { retryAfterSeconds },
    );
  }

  #refill(appId: string, rate: number, now: number): Bucket {
    const bucket = this.#buckets.get(appId);
    if (!bucket || bucket.rate !== rate) {
      // A new bucket, or a changed limit: start full at the new rate, less any debt still owed.
      const fresh = { tokens: rate + Math.min(0, bucket?.tokens ?? 0), rate, refilledAt: now };
      this.#buckets.set(appId, fresh);
      return fresh;
    }
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.refilledAt) / 1000) * rate);
    bucket.refilledAt = now;
    return bucket;
  }

  /** Drops full buckets (a new one starts full), so the map holds only apps publishing lately. */
  #sweep(now: number): void {
    if (now - this.#sweptAt < SWEEP_INTERVAL_MS) return;
    this.#sweptAt = now;
    for (const [appId, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.refilledAt) / 1000) * bucket.rate >= bucket.rate) this.#buckets.delete(appId);
    }
  }
}
