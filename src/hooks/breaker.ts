/** When a hook's breaker opens and how long it stays open. */
export interface BreakerOptions {
  /** Consecutive failed calls that open it. */
  failureThreshold: number;
  /** How long an open breaker skips the hook before one probe call is let through. */
  coolDownMs: number;
}

type State =
  | { kind: "closed"; failures: number }
  | { kind: "open"; until: number }
  | { kind: "probing"; until: number };

/** A change a breaker made, for logs and metrics. */
export type BreakerChange = "opened" | "closed";

/**
 * Circuit breakers per key (a hook's endpoint): after `failureThreshold` failures in a row the hook
 * is skipped for `coolDownMs`; then one call probes it, and closes the breaker or opens it again.
 */
export class Breakers {
  readonly #states = new Map<string, State>();

  constructor(
    private readonly options: BreakerOptions,
    private readonly onChange: (key: string, change: BreakerChange) => void = () => {},
  ) {}

  /** Whether a call may go out now; an open breaker past its cool-down lets this one through as the probe. */
  allows(key: string, now = Date.now()): boolean {
    const state = this.#states.get(key);
    if (!state || state.kind === "closed") return true;
    // A probe whose outcome never came (its caller went away) lets another through after a cool-down.
    if (now < state.until) return false;
    this.#states.set(key, { kind: "probing", until: now + this.options.coolDownMs });
    return true;
  }

  succeeded(key: string): void {
    const state = this.#states.get(key);
    this.#states.delete(key);
    if (state?.kind === "probing" || state?.kind === "open") this.onChange(key, "closed");
  }

  failed(key: string, now = Date.now()): void {
    const state = this.#states.get(key) ?? { kind: "closed", failures: 0 };
    const failures = state.kind === "closed" ? state.failures + 1 : this.options.failureThreshold;
    if (failures < this.options.failureThreshold) {
      this.#states.set(key, { kind: "closed", failures });
      return;
    }
    this.#states.set(key, { kind: "open", until: now + this.options.coolDownMs });
    if (state.kind !== "open") this.onChange(key, "opened");
  }

  openCount(): number {
    return [...this.#states.values()].filter((state) => state.kind !== "closed").length;
  }
}
