// The options every bench suite reads: `npm run bench -- --help` lists them.
import { parseArgs } from "node:util";

export const { values } = parseArgs({
  options: {
    // Which suites run: delivery (rates and latency per profile), operations (a timing-out endpoint,
    // one app flooding, the rate before the outbound transport and exact JSON), listen (herald listen
    // --forward-to against direct delivery) and log (every delivery log filter over 300,000 deliveries,
    // both stores): those two run by name only.
    suite: { type: "string", default: "delivery,operations" },
    help: { type: "boolean", default: false },
    // operations suite: which of its rounds run (timeouts, fairness, before; isolated, limited and fanout by name only).
    operations: { type: "string", default: "timeouts,fairness,before" },
    // operations suite, round "limited": app A's own publish rate limit, events/s.
    "flood-limit": { type: "string", default: "1000" },
    // operations suite, round "before": the commit the rate is compared with (run from its source).
    before: { type: "string", default: "e4d7ab7" },
    events: { type: "string", default: "50000" },
    rounds: { type: "string", default: "3" },
    batch: { type: "string", default: "500" },
    concurrency: { type: "string", default: "32" },
    // 15 s: a p99 of 1,000 samples (5 s at 200/s) moved 2x between identical runs here.
    "latency-seconds": { type: "string", default: "15" },
    store: { type: "string", default: "sqlite" },
    workers: { type: "string", default: "1,2,4" },
    // warn: errors only; info: also Herald's one line per request (to stdout, read by the bench).
    "log-level": { type: "string", default: "warn" },
    profiles: { type: "string", default: "sendbird,standard,stream,stream-gzip" },
    // --no-hooks skips the before-message-send round.
    hooks: { type: "boolean", default: true },
  },
  allowNegative: true,
});
export const STORE = values.store === "postgres" ? "postgres" : "sqlite";
export const WORKERS = values.workers.split(",").map(Number);
export const POSTGRES_URL = process.env.HERALD_BENCH_POSTGRES_URL ?? "postgres://root@127.0.0.1:5432/test";
export const EVENTS = Number(values.events);
export const ROUNDS = Number(values.rounds);
export const BATCH = Number(values.batch);
export const CONCURRENCY = Number(values.concurrency);
export const LATENCY_SECONDS = Number(values["latency-seconds"]);
