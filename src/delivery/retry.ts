import type { DeliveryPolicy, Outcome } from "../profiles/profile.js";
import type { DeliveryState, Endpoint } from "../storage/records.js";

const JITTER = 0.2;
/** The longest wait a receiver's `Retry-After` can ask for: one hour. */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;
/** The statuses whose `Retry-After` is honoured: Too Many Requests and Service Unavailable. */
const RETRY_AFTER_STATUSES = new Set([429, 503]);

/**
 * How long a 429 or 503 asks to be left alone (`Retry-After`: seconds, or an HTTP-date), capped at
 * an hour; 0 for any other status, or a header absent or unreadable.
 */
export function retryAfterMs(
  statusCode: number | null,
  headers: Readonly<Record<string, string>>,
  now: number,
): number {
  if (statusCode === null || !RETRY_AFTER_STATUSES.has(statusCode)) return 0;
  const value = headers["retry-after"]?.trim();
  if (!value) return 0;
  const asked = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(asked) || asked <= 0) return 0;
  return Math.min(asked, MAX_RETRY_AFTER_MS);
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/**
 * The `durable` schedule: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h, 24 h, 24 h (±20%):
 * 12 attempts over about 71.7 h, for receivers that may be down for days.
 */
export const DURABLE_RETRY_DELAYS_MS: readonly number[] = [
  5 * SECOND,
  30 * SECOND,
  2 * MINUTE,
  10 * MINUTE,
  30 * MINUTE,
  HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  24 * HOUR,
  24 * HOUR,
];

/**
 * The policy an endpoint's deliveries follow: its wire format's own, or with `durable` the same
 * timeout and the durable schedule. A format with a window (Stream) keeps its own: see the API.
 */
export function policyOf(profilePolicy: DeliveryPolicy, endpoint: Pick<Endpoint, "retryPolicy">): DeliveryPolicy {
  if (endpoint.retryPolicy !== "durable" || profilePolicy.windowMs !== undefined) return profilePolicy;
  return {
    timeoutMs: profilePolicy.timeoutMs,
    maxAttempts: DURABLE_RETRY_DELAYS_MS.length + 1,
    retryDelaysMs: DURABLE_RETRY_DELAYS_MS,
  };
}

/** The wait before the attempt after `attempt`, with ±20% jitter so retries do not arrive in lockstep. */
export function retryDelayMs(
  policy: DeliveryPolicy,
  attempt: number,
  random: () => number = Math.random,
  scale = 1,
): number {
  const delays = policy.retryDelaysMs;
  const base = (delays[Math.min(attempt - 1, delays.length - 1)] ?? 0) * scale;
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
}

/** Where a delivery stands after an attempt: delivered, due again at some time, or failed for good. */
export function nextState(
  policy: DeliveryPolicy,
  outcome: Outcome,
  attempt: number,
  maxAttempts: number,
  now: number,
  scale = 1,
  random?: () => number,
  /** When the policy's window closes (see `DeliveryPolicy.windowMs`): no retry starts at or after it. */
  windowEndsAt = Number.POSITIVE_INFINITY,
  /** The receiver's `Retry-After` (see `retryAfterMs`): the retry waits at least this long, never less than the policy's delay. */
  notBeforeMs = 0,
): { state: DeliveryState; nextAttemptAt: number } {
  if (outcome === "succeeded") return { state: "succeeded", nextAttemptAt: now };
  if (outcome === "failed" || attempt >= maxAttempts) return { state: "failed", nextAttemptAt: now };
  const nextAttemptAt = now + Math.max(retryDelayMs(policy, attempt, random, scale), notBeforeMs);
  if (nextAttemptAt >= windowEndsAt) return { state: "failed", nextAttemptAt: now };
  return { state: "pending", nextAttemptAt };
}
