import type { DeliveryPolicy } from "../profiles/profile.js";
import type { DeliveryState } from "../storage/records.js";

const JITTER = 0.2;

/** The wait before the attempt after `attempt`, with ±20% jitter so retries do not arrive in lockstep. */
export function retryDelayMs(policy: DeliveryPolicy, attempt: number, random: () => number = Math.random): number {
  const delays = policy.retryDelaysMs;
  const base = delays[Math.min(attempt - 1, delays.length - 1)] ?? 0;
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
}

/** Where a delivery stands after an attempt: delivered, due again at some time, or failed for good. */
export function nextState(
  policy: DeliveryPolicy,
  succeeded: boolean,
  attempt: number,
  maxAttempts: number,
  now: number,
  random?: () => number,
): { state: DeliveryState; nextAttemptAt: number } {
  if (succeeded) return { state: "succeeded", nextAttemptAt: now };
  if (attempt >= maxAttempts) return { state: "failed", nextAttemptAt: now };
  return { state: "pending", nextAttemptAt: now + retryDelayMs(policy, attempt, random) };
}
