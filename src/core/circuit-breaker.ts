/** What this process knows of a breaker, as `/v1/endpoints` and `/metrics` show it. */
export type BreakerState = "closed" | "open" | "half_open";
export const BREAKER_STATES: readonly BreakerState[] = ["closed", "open", "half_open"];

export interface CircuitBreakerOptions {
  /** Failed attempts in a row that open it. */
  failures: number;
  /** The first cool-down; each failed probe doubles it. */
  coolDownMs: number;
  maxCoolDownMs: number;
}

/** A change worth a warn line and a metric. */
export type BreakerChange = "opened" | "half_opened" | "closed";

/**
 * A circuit breaker, in memory, shared by the delivery worker (one per endpoint) and the synchronous
 * hooks (one per hook URL): after `failures` failed attempts in a row no attempt is made until the
 * cool-down ends; then one probe goes out, and its success closes the breaker, its failure opens it
 * again for twice as long (up to `maxCoolDownMs`; equal to `coolDownMs` for a fixed cool-down).
 */
export class CircuitBreaker {
  #state: BreakerState = "closed";
  #failures = 0;
  #coolDownMs: number;
  #openUntil = 0;
  /** When a probe whose outcome never came (its caller went away) stops blocking the next one. */
  #probeDeadline = 0;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.#coolDownMs = options.coolDownMs;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** When an open breaker lets its probe through. */
  get openUntil(): number {
    return this.#state === "open" ? this.#openUntil : 0;
  }

  /** Whether it holds nothing: a lane with a clean breaker can be forgotten when idle. */
  get clean(): boolean {
    return this.#state === "closed" && this.#failures === 0;
  }

  /**
   * How many attempts may be in flight now: no limit while closed, none while open, one (the
   * probe) once the cool-down is over. Returns the change when the cool-down just ended.
   */
  slots(now: number): { slots: number; change?: BreakerChange } {
    if (this.#state === "closed") return { slots: Number.POSITIVE_INFINITY };
    if (this.#state === "open" && now < this.#openUntil) return { slots: 0 };
    if (this.#state === "open") {
      this.#state = "half_open";
      return { slots: 1, change: "half_opened" };
    }
    return { slots: 1 };
  }

  /**
   * Whether one call may go out now, for callers that do not count their calls in flight (the
   * hooks): the first call after the cool-down is the probe, and no other goes out until its
   * outcome, or until another cool-down has passed without one.
   */
  admits(now: number): boolean {
    if (this.#state === "closed") return true;
    const probeDue = this.#state === "open" ? now >= this.#openUntil : now >= this.#probeDeadline;
    if (!probeDue) return false;
    this.#state = "half_open";
    this.#probeDeadline = now + this.#coolDownMs;
    return true;
  }

  succeeded(): BreakerChange | undefined {
    const was = this.#state;
    this.#state = "closed";
    this.#failures = 0;
    this.#coolDownMs = this.options.coolDownMs;
    return was === "closed" ? undefined : "closed";
  }

  failed(now: number): BreakerChange | undefined {
    if (this.#state === "open") return undefined; // an attempt started before it opened
    if (this.#state === "half_open") {
      // The probe failed: open again, for twice as long.
      this.#coolDownMs = Math.min(2 * this.#coolDownMs, this.options.maxCoolDownMs);
      return this.#open(now);
    }
    this.#failures++;
    return this.#failures >= this.options.failures ? this.#open(now) : undefined;
  }

  #open(now: number): BreakerChange {
    this.#state = "open";
    this.#openUntil = now + this.#coolDownMs;
    return "opened";
  }
}
