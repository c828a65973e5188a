import type { DeliveryPolicy, Outcome } from "../profiles/profile.js";
import type { DeliveryState } from "../storage/records.js";

const JITTER = 0.2;

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
): { state: DeliveryState; nextAttemptAt: number } {
  if (outcome === "succeeded") return { state: "succeeded", nextAttemptAt: now };
  if (outcome === "failed" || attempt >= maxAttempts) return { state: "failed", nextAttemptAt: now };
  const nextAttemptAt = now + retryDelayMs(policy, attempt, random, scale);
  if (nextAttemptAt >= windowEndsAt) return { state: "failed", nextAttemptAt: now };
  return { state: "pending", nextAttemptAt };
}
