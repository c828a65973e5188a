import { type BreakerChange, CircuitBreaker } from "../core/circuit-breaker.js";

/** When a hook's breaker opens and how long it stays open. */
export interface BreakerOptions {
  /** Consecutive failed calls that open it. */
  failureThreshold: number;
  /** How long an open breaker skips the hook before one probe call is let through. */
  coolDownMs: number;
}

/**
 * Circuit breakers per key (a hook's endpoint and URL), each a `CircuitBreaker` with a fixed
 * cool-down; a key whose breaker closes is forgotten, so the map holds only failing hooks.
 */
export class Breakers {
  readonly #breakers = new Map<string, CircuitBreaker>();

  constructor(
    private readonly options: BreakerOptions,
    private readonly onChange: (key: string, change: Exclude<BreakerChange, "half_opened">) => void = () => {},
  ) {}

  /** Whether a call may go out now; an open breaker past its cool-down lets this one through as the probe. */
  allows(key: string, now = Date.now()): boolean {
    return this.#breakers.get(key)?.admits(now) ?? true;
  }

  succeeded(key: string): void {
    const change = this.#breakers.get(key)?.succeeded();
    this.#breakers.delete(key);
    if (change === "closed") this.onChange(key, change);
  }

  failed(key: string, now = Date.now()): void {
    let breaker = this.#breakers.get(key);
    if (!breaker) {
      const { failureThreshold: failures, coolDownMs } = this.options;
      breaker = new CircuitBreaker({ failures, coolDownMs, maxCoolDownMs: coolDownMs });
      this.#breakers.set(key, breaker);
    }
    if (breaker.failed(now) === "opened") this.onChange(key, "opened");
  }

  openCount(): number {
    return [...this.#breakers.values()].filter((breaker) => breaker.state !== "closed").length;
  }
}
