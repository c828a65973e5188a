/** Every Herald setting, each readable from one environment variable (see README "Configuration"). */
export interface HeraldConfig {
  /** `sqlite:<path>` (default `sqlite:./data/herald.db`) or `postgres://…`. */
  databaseUrl: string;
  /** PostgreSQL connections this process may hold. */
  databasePoolSize: number;
  host: string;
  port: number;
  /** Which parts run in this process. */
  role: "all" | "api" | "worker";
  logLevel: string;
  /** `json` lines, `pretty` lines for people, or `auto`: pretty when stdout is a terminal. */
  logFormat: "auto" | "json" | "pretty";
  /** Largest request body the APIs accept, in bytes. */
  bodyLimit: number;
  /** How long a client has to send a whole request, headers and body (0: no limit). */
  requestTimeoutMs: number;
  /** How long a client has to send a request's headers (at most `requestTimeoutMs`). */
  headersTimeoutMs: number;
  /** Open client connections at once; more are closed as they arrive. */
  maxConnections: number;
  /** A Bearer token `GET /metrics` requires; empty: metrics are open. */
  metricsToken: string;
  /** Events in one `POST /v1/events/batch`. */
  maxBatchEvents: number;
  /** Events per second one app may publish, unless the app has its own limit; 0: unlimited. */
  publishRateLimit: number;
  /** Attempts in flight at once to one endpoint. */
  endpointConcurrency: number;
  /** Attempts in flight at once in this process, over all endpoints. */
  maxInFlight: number;
  /** How often the worker looks for due deliveries it was not told about (retries after a crash, other processes). */
  pollIntervalMs: number;
  /** How long a claimed delivery stays leased beyond its attempt timeout before another worker may take it. */
  leaseMarginMs: number;
  /** `full` fsyncs every commit, so a 202 survives power loss; `normal` survives a process crash only. */
  sqliteSynchronous: "full" | "normal";
  /** How long an Idempotency-Key is remembered. */
  idempotencyTtlMs: number;
  /** How long shutdown waits for attempts in flight. */
  shutdownGraceMs: number;
  /** The deployment admin's token (manages apps over HTTP); empty: read or made in `adminTokenFile`. */
  adminToken: string;
  /** Where a generated admin token is kept for local CLIs when `adminToken` is not set. */
  adminTokenFile: string;
  /** How long a rotated master token keeps authenticating API calls. */
  tokenOverlapMs: number;
  /** How long a rotated endpoint secret keeps signing beside the new one. */
  secretOverlapMs: number;
  /** Secondary API tokens one app may have; also its cap on Stream API keys. */
  maxApiTokens: number;
  /** Multiplies every retry delay (1 in production; tests compress the Standard Webhooks schedule). */
  retryDelayScale: number;
  /** An endpoint no attempt to has succeeded for this long is disabled (its work held); 0: never. */
  autoDisableAfterMs: number;
  /** An endpoint this many of whose deliveries in a row failed is disabled (its work held); 0: never. */
  autoDisableFailures: number;
  /** Failed calls in a row after which a before-message-send hook is skipped (failing open). */
  hookBreakerFailures: number;
  /** How long a tripped hook is skipped before one call probes it again. */
  hookBreakerCoolDownMs: number;
  /** CIDRs, addresses and host names the SSRF guard lets webhooks reach (it refuses internal networks). */
  allowNetworks: string[];
  /** How much of each attempt's response body the delivery log keeps, in bytes. */
  responseCaptureBytes: number;
  /** How long a `herald listen` session whose connection dropped is kept before its endpoint is removed. */
  listenGraceMs: number;
  /** How many times one delivery may be resent by hand (`POST /v1/deliveries/{id}/retry`). */
  maxManualRetries: number;
  /** Events, deliveries and attempts older than this many days are deleted in the background; 0: kept forever. */
  retentionDays: number;
  /** How often the retention sweep runs. */
  retentionSweepMs: number;
  /** How often the queue (depth and oldest pending, per endpoint) is sampled for the Overview's history. */
  queueSampleMs: number;
  /** Failed attempts in a row that open an endpoint's circuit breaker (no attempts until its cool-down ends). */
  endpointBreakerFailures: number;
  /** An open endpoint breaker's first cool-down before its probe; doubled per failed probe. */
  endpointBreakerCoolDownMs: number;
  /** The longest an endpoint breaker's cool-down grows to. */
  endpointBreakerMaxCoolDownMs: number;
  /** `herald.delivery.failed` events one app gets per minute at most, so a dead endpoint cannot flood. */
  failedEventsPerMinute: number;
}

interface Setting<K extends keyof HeraldConfig> {
  key: K;
  env: string;
  parse: (raw: string, env: string) => HeraldConfig[K];
}

const integer =
  (min: number) =>
  (raw: string, env: string): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`${env} must be an integer >= ${min}, got "${raw}"`);
    return value;
  };
const text = (raw: string) => raw;
const positiveNumber = (raw: string, env: string): number => {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${env} must be a number >= 0, got "${raw}"`);
  return value;
};
/** A comma-separated list; blanks are dropped. */
const list = (raw: string): string[] =>
  raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
const oneOf =
  <T extends string>(...allowed: T[]) =>
  (raw: string, env: string): T => {
    if (!(allowed as string[]).includes(raw))
      throw new Error(`${env} must be one of ${allowed.join(", ")}, got "${raw}"`);
    return raw as T;
  };

export const DEFAULT_CONFIG: Readonly<HeraldConfig> = {
  databaseUrl: "sqlite:./data/herald.db",
  databasePoolSize: 10,
  host: "0.0.0.0",
  port: 8080,
  role: "all",
  logLevel: "info",
  logFormat: "auto",
  bodyLimit: 1024 * 1024,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  maxConnections: 4096,
  metricsToken: "",
  maxBatchEvents: 1000,
  publishRateLimit: 0,
  endpointConcurrency: 32,
  maxInFlight: 1024,
  pollIntervalMs: 1000,
  leaseMarginMs: 10_000,
  sqliteSynchronous: "full",
  idempotencyTtlMs: 24 * 60 * 60 * 1000,
  shutdownGraceMs: 10_000,
  adminToken: "",
  adminTokenFile: "~/.config/herald/admin-token",
  tokenOverlapMs: 24 * 60 * 60 * 1000,
  secretOverlapMs: 24 * 60 * 60 * 1000,
  maxApiTokens: 100,
  retryDelayScale: 1,
  autoDisableAfterMs: 5 * 24 * 60 * 60 * 1000,
  autoDisableFailures: 100,
  hookBreakerFailures: 5,
  hookBreakerCoolDownMs: 30_000,
  allowNetworks: [],
  responseCaptureBytes: 16 * 1024,
  listenGraceMs: 30_000,
  maxManualRetries: 10,
  retentionDays: 30,
  retentionSweepMs: 60_000,
  queueSampleMs: 60_000,
  endpointBreakerFailures: 10,
  endpointBreakerCoolDownMs: 5000,
  endpointBreakerMaxCoolDownMs: 300_000,
  failedEventsPerMinute: 10,
};

const SETTINGS: { [K in keyof HeraldConfig]: Setting<K> }[keyof HeraldConfig][] = [
  { key: "databaseUrl", env: "HERALD_DATABASE_URL", parse: text },
  { key: "databasePoolSize", env: "HERALD_DATABASE_POOL_SIZE", parse: integer(1) },
  { key: "host", env: "HERALD_HOST", parse: text },
  { key: "port", env: "HERALD_PORT", parse: integer(0) },
  { key: "role", env: "HERALD_ROLE", parse: oneOf("all", "api", "worker") },
  {
    key: "logLevel",
    env: "HERALD_LOG_LEVEL",
    parse: oneOf("fatal", "error", "warn", "info", "debug", "trace", "silent"),
  },
  { key: "logFormat", env: "HERALD_LOG_FORMAT", parse: oneOf("auto", "json", "pretty") },
  { key: "bodyLimit", env: "HERALD_BODY_LIMIT", parse: integer(1024) },
  { key: "requestTimeoutMs", env: "HERALD_REQUEST_TIMEOUT_MS", parse: integer(0) },
  { key: "headersTimeoutMs", env: "HERALD_HEADERS_TIMEOUT_MS", parse: integer(100) },
  { key: "maxConnections", env: "HERALD_MAX_CONNECTIONS", parse: integer(1) },
  { key: "metricsToken", env: "HERALD_METRICS_TOKEN", parse: text },
  { key: "maxBatchEvents", env: "HERALD_MAX_BATCH_EVENTS", parse: integer(1) },
  { key: "publishRateLimit", env: "HERALD_PUBLISH_RATE_LIMIT", parse: integer(0) },
  { key: "endpointConcurrency", env: "HERALD_ENDPOINT_CONCURRENCY", parse: integer(1) },
  { key: "maxInFlight", env: "HERALD_MAX_IN_FLIGHT", parse: integer(1) },
  { key: "pollIntervalMs", env: "HERALD_POLL_INTERVAL_MS", parse: integer(10) },
  { key: "leaseMarginMs", env: "HERALD_LEASE_MARGIN_MS", parse: integer(100) },
  { key: "sqliteSynchronous", env: "HERALD_SQLITE_SYNCHRONOUS", parse: oneOf("full", "normal") },
  { key: "idempotencyTtlMs", env: "HERALD_IDEMPOTENCY_TTL_MS", parse: integer(1000) },
  { key: "shutdownGraceMs", env: "HERALD_SHUTDOWN_GRACE_MS", parse: integer(0) },
  { key: "adminToken", env: "HERALD_ADMIN_TOKEN", parse: text },
  { key: "adminTokenFile", env: "HERALD_ADMIN_TOKEN_FILE", parse: text },
  { key: "tokenOverlapMs", env: "HERALD_TOKEN_OVERLAP_MS", parse: integer(0) },
  { key: "secretOverlapMs", env: "HERALD_SECRET_OVERLAP_MS", parse: integer(0) },
  { key: "maxApiTokens", env: "HERALD_MAX_API_TOKENS", parse: integer(1) },
  { key: "retryDelayScale", env: "HERALD_RETRY_DELAY_SCALE", parse: positiveNumber },
  { key: "autoDisableAfterMs", env: "HERALD_AUTO_DISABLE_AFTER_MS", parse: integer(0) },
  { key: "autoDisableFailures", env: "HERALD_AUTO_DISABLE_FAILURES", parse: integer(0) },
  { key: "hookBreakerFailures", env: "HERALD_HOOK_BREAKER_FAILURES", parse: integer(1) },
  { key: "hookBreakerCoolDownMs", env: "HERALD_HOOK_BREAKER_COOLDOWN_MS", parse: integer(0) },
  { key: "allowNetworks", env: "HERALD_ALLOW_NETWORKS", parse: list },
  { key: "responseCaptureBytes", env: "HERALD_RESPONSE_CAPTURE_BYTES", parse: integer(0) },
  { key: "listenGraceMs", env: "HERALD_LISTEN_GRACE_MS", parse: integer(0) },
  { key: "maxManualRetries", env: "HERALD_MAX_MANUAL_RETRIES", parse: integer(0) },
  { key: "retentionDays", env: "HERALD_RETENTION_DAYS", parse: integer(0) },
  { key: "retentionSweepMs", env: "HERALD_RETENTION_SWEEP_MS", parse: integer(100) },
  { key: "queueSampleMs", env: "HERALD_QUEUE_SAMPLE_MS", parse: integer(100) },
  { key: "endpointBreakerFailures", env: "HERALD_ENDPOINT_BREAKER_FAILURES", parse: integer(1) },
  { key: "endpointBreakerCoolDownMs", env: "HERALD_ENDPOINT_BREAKER_COOLDOWN_MS", parse: integer(0) },
  { key: "endpointBreakerMaxCoolDownMs", env: "HERALD_ENDPOINT_BREAKER_MAX_COOLDOWN_MS", parse: integer(0) },
  { key: "failedEventsPerMinute", env: "HERALD_FAILED_EVENTS_PER_MINUTE", parse: integer(0) },
];

/** The variables that configure Herald, for the README and `herald config`. */
export const CONFIG_VARIABLES = SETTINGS.map(({ key, env }) => ({ key, env, default: DEFAULT_CONFIG[key] }));

/** Reads settings from the environment over the defaults; explicit overrides win over both. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<HeraldConfig> = {}): HeraldConfig {
  const config: HeraldConfig = { ...DEFAULT_CONFIG };
  for (const setting of SETTINGS) {
    const raw = env[setting.env];
    if (raw !== undefined && raw !== "") Object.assign(config, { [setting.key]: setting.parse(raw, setting.env) });
  }
  return { ...config, ...overrides };
}
