/** What this process knows of an endpoint's breaker, as `/v1/endpoints` and `/metrics` show it. */
export type BreakerState = "closed" | "open" | "half_open";
export const BREAKER_STATES: readonly BreakerState[] = ["closed", "open", "half_open"];

export interface EndpointBreakerOptions {
  /** Failed attempts in a row that open it. */
  failures: number;
  /** The first cool-down; each failed probe doubles it. */
  coolDownMs: number;
  maxCoolDownMs: number;
}

/** A change worth a warn line and a metric. */
export type BreakerChange = "opened" | "half_opened" | "closed";

/**
 * One endpoint's circuit breaker, in memory: after `failures` failed attempts in a row no attempt
 * is made until the cool-down ends; then one probe goes out, and its success closes the breaker,
 * its failure opens it again for twice as long (up to `maxCoolDownMs`).
 */
export class EndpointBreaker {
  #state: BreakerState = "closed";
  #failures = 0;
  #coolDownMs: number;
  #openUntil = 0;

  constructor(private readonly options: EndpointBreakerOptions) {
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
