import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** What `/metrics` asks the queue for: pending deliveries per wire format, and the oldest due time. */
export interface QueueGaugeSource {
  pendingByProfile: { profile: string; count: number }[];
  oldestDueAt: number | null;
}

/** Prometheus metrics of one Herald instance, served at `GET /metrics`. */
export class Metrics {
  readonly registry = new Registry();
  #breakers: () => Record<string, number> = () => ({});
  #queue: () => Promise<QueueGaugeSource | undefined> = async () => undefined;
  readonly endpointBreakers = new Gauge({
    name: "herald_endpoint_breakers",
    help: "Endpoints this process knows, by circuit breaker state (closed, open, half_open).",
    labelNames: ["state"] as const,
    registers: [this.registry],
    collect: () => {
      for (const [state, count] of Object.entries(this.#breakers())) this.endpointBreakers.set({ state }, count);
    },
  });
  readonly queuePending = new Gauge({
    name: "herald_queue_pending_deliveries",
    help: "Pending deliveries by wire format (read from the store at most every few seconds).",
    labelNames: ["profile"] as const,
    registers: [this.registry],
    collect: async () => {
      const stats = await this.#queue();
      if (!stats) return;
      this.queuePending.reset();
      for (const { profile, count } of stats.pendingByProfile) this.queuePending.set({ profile }, count);
    },
  });
  readonly queueOldestDue = new Gauge({
    name: "herald_queue_oldest_due_seconds",
    help: "How long the longest-waiting due delivery (not leased) has been due; 0 when none is.",
    registers: [this.registry],
    // Its own collect: gauges are collected concurrently, and the stats are one cached read for both.
    collect: async () => {
      const stats = await this.#queue();
      if (!stats) return;
      this.queueOldestDue.set(stats.oldestDueAt === null ? 0 : Math.max(0, (Date.now() - stats.oldestDueAt) / 1000));
    },
  });

  /** Where the breaker gauge reads its counts: the delivery worker. */
  watchBreakers(counts: () => Record<string, number>): void {
    this.#breakers = counts;
  }

  /** Where the queue gauges read: the store, through a cache (see `QueueGauges`). */
  watchQueue(stats: () => Promise<QueueGaugeSource | undefined>): void {
    this.#queue = stats;
  }
  readonly eventsPublished = new Counter({
    name: "herald_events_published_total",
    help: "Events accepted by publish.",
    registers: [this.registry],
  });
  readonly attempts = new Counter({
    name: "herald_delivery_attempts_total",
    help: "Delivery attempts by profile and outcome (succeeded, retry, failed).",
    labelNames: ["profile", "outcome"] as const,
    registers: [this.registry],
  });
  readonly attemptSeconds = new Histogram({
    name: "herald_delivery_attempt_duration_seconds",
    help: "Time from sending an attempt to its response or error.",
    labelNames: ["profile"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly outboundRequests = new Counter({
    name: "herald_outbound_requests_total",
    help: "Outbound webhook requests (deliveries and hooks) by error class: none (a 2xx), timeout, refused, reset, dns, tls, ssrf_blocked, redirect, status.",
    labelNames: ["error_class"] as const,
    registers: [this.registry],
  });
  readonly ssrfRefusals = new Counter({
    name: "herald_ssrf_refusals_total",
    help: "Webhook URLs and connections the SSRF guard refused: at configuration (config) or when sending (connect).",
    labelNames: ["stage"] as const,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: "herald_delivery_attempts_in_flight",
    help: "Attempts waiting on a receiver right now.",
    registers: [this.registry],
  });
  readonly hookCalls = new Counter({
    name: "herald_sync_hook_calls_total",
    help: "Synchronous hook calls (before-message-send, custom commands) by hook and outcome.",
    labelNames: ["hook", "outcome"] as const,
    registers: [this.registry],
  });
  readonly hookSeconds = new Histogram({
    name: "herald_sync_hook_duration_seconds",
    help: "Time a synchronous hook call took, Herald's work included.",
    labelNames: ["hook"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly breakersOpen = new Gauge({
    name: "herald_sync_hook_breakers_open",
    help: "Synchronous hooks skipped right now because their circuit breaker is open.",
    registers: [this.registry],
  });
  readonly publishesWaiting = new Gauge({
    name: "herald_publishes_waiting",
    help: "Publishes held, their bodies unread, while their app's earlier publishes go on and another app publishes too.",
    registers: [this.registry],
  });
  readonly publishesRateLimited = new Counter({
    name: "herald_publish_rate_limited_total",
    help: "Publishes refused because their app was over its publish rate limit.",
    registers: [this.registry],
  });
}
