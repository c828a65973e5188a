// npm run bench [-- --help --rounds 3 --seconds 5 --rates 2500,5000 --concurrency 32]
// Acknowledgement speed of the receiver kit: verify (Sendbird signature over a ~1 KB body) +
// deduplicate + durable enqueue in SQLite, then 200; against a bare node:http server that reads
// the body and answers 200, in the same run, alternating rounds. Each server runs in its own
// process; the load comes from this one. Prints peak acknowledgements/s (closed loop), the ratio
// kit / bare, and ack latency p50/p99 at a fixed open-loop rate (timed from each request's
// scheduled send, so queueing counts).
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { encodeSendbirdJson, signSendbird } from "@herald/signing";
import { Agent, request } from "undici";
import { uuidv7 } from "../../../src/core/ids.js";
import { sendbirdChatCatalog } from "../../../src/profiles/sendbird/index.js";

// A wrong option is a usage error (exit 2), not a stack trace.
const { values } = (() => {
  try {
    return parseArgs({
      options: {
        rounds: { type: "string", default: "3" },
        seconds: { type: "string", default: "5" },
        rates: { type: "string", default: "2500,5000" },
        concurrency: { type: "string", default: "32" },
        help: { type: "boolean", default: false },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message} (npm run bench -w @herald/receiver -- --help)`);
    process.exit(2);
  }
})();
if (values.help) {
  console.log(`npm run bench -w @herald/receiver [-- options]: the receiver kit's acknowledgement speed against a bare server
  --rounds N          rounds of each server, alternating (default 3)
  --seconds S         seconds per phase (default 5)
  --rates A,B         open-loop rates for the latency phases, per second (default 2500,5000)
  --concurrency N     connections of the closed-loop peak phase (default 32)
  --help              this text`);
  process.exit(0);
}
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const RATES = values.rates.split(",").map(Number);
const CONCURRENCY = Number(values.concurrency);
const SECRET = "bench-master-token";
const SAMPLE = sendbirdChatCatalog.get("group_channel:message_send")!.sample;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Pre-signed requests, so signing is not part of the load generator's cost. */
function signedRequests(count: number) {
  return Array.from({ length: count }, (_, i) => {
    // The catalog's sample message event, as Herald renders it, with a longer text (~1 KB in all).
    const body = encodeSendbirdJson({
      ...SAMPLE,
      payload: { ...(SAMPLE.payload as object), message_id: i, message: `Message ${i}: hello 😀 ${"x".repeat(500)}` },
      app_id: "d0c7ab11-1f53-4b7e-9d5a-1e0b8b1f0c2a",
    });
    const signature = signSendbird(body, SECRET);
    return {
      body,
      headers: {
        "content-type": "application/json",
        "x-sendbird-signature": signature,
        "x-signature": signature,
        // As Herald sends them: UUIDv7, time-ordered.
        "x-webhook-id": uuidv7(),
        "x-webhook-attempt": "1",
      },
    };
  });
}

class Server {
  #child: ChildProcess;
  #dir = mkdtempSync(join(tmpdir(), "ack-bench-"));
  port = 0;
  constructor(readonly kind: Kind) {
    this.#child = fork(join(import.meta.dirname, "server.ts"), [kind, join(this.#dir, "inbox.db"), SECRET], {
      execArgv: ["--import", "tsx"],
    });
  }
  async start(): Promise<void> {
    this.port = ((await new Promise((resolve) => this.#child.once("message", resolve))) as { port: number }).port;
  }
  async handled(): Promise<number> {
    this.#child.send("handled?");
    return ((await new Promise((resolve) => this.#child.once("message", resolve))) as { handled: number }).handled;
  }
  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.once("exit", resolve));
    this.#child.kill("SIGKILL");
    await exited;
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

type Signed = ReturnType<typeof signedRequests>[number];
const KINDS = ["bare", "kit-ack", "kit"] as const;
type Kind = (typeof KINDS)[number];

/** Closed loop: `CONCURRENCY` loops posting back to back for SECONDS; acknowledgements per second. */
async function peak(port: number, requests: Signed[]): Promise<number> {
  const agent = new Agent({ connections: CONCURRENCY });
  const url = `http://127.0.0.1:${port}/webhooks`;
  let next = 0;
  let acked = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const loop = async () => {
    while (performance.now() < deadline && next < requests.length) {
      const { body, headers } = requests[next++]!;
      const response = await request(url, { method: "POST", body, headers, dispatcher: agent });
      await response.body.dump();
      if (response.statusCode === 200) acked++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  const elapsed = (performance.now() - started) / 1000;
  await agent.close();
  return acked / elapsed;
}

/** Open loop at `rate`/s for SECONDS: latency from each request's scheduled time to its 200. */
async function latency(
  port: number,
  requests: Signed[],
  rate: number,
): Promise<{ p50: number; p99: number; failed: number }> {
  const agent = new Agent({ connections: 64 });
  const url = `http://127.0.0.1:${port}/webhooks`;
  const total = Math.min(requests.length, rate * SECONDS);
  const latencies: number[] = [];
  let failed = 0;
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
    for (; sent < due; sent++) {
      const scheduled = started + (sent / rate) * 1000;
      const { body, headers } = requests[sent]!;
      inFlight.push(
        request(url, { method: "POST", body, headers, dispatcher: agent }).then(async (response) => {
          await response.body.dump();
          if (response.statusCode === 200) latencies.push(performance.now() - scheduled);
          else failed++;
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
  await agent.close();
  const sorted = latencies.sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), failed };
}

const results = Object.fromEntries(
  KINDS.map((kind) => [
    kind,
    { peak: [] as number[], latency: RATES.map(() => ({ p50: [] as number[], p99: [] as number[] })) },
  ]),
) as Record<Kind, { peak: number[]; latency: { p50: number[]; p99: number[] }[] }>;
console.log(
  `ack benchmark: ${ROUNDS} rounds, ${SECONDS} s per phase, peak at concurrency ${CONCURRENCY}, latency at ${RATES.join(" and ")}/s`,
);
for (let round = 1; round <= ROUNDS; round++) {
  for (const kind of KINDS) {
    const server = new Server(kind);
    await server.start();
    // Fresh ids each phase: the kit would rightly answer repeats as duplicates without storing them.
    const peakRate = await peak(server.port, signedRequests(Math.min(120_000, CONCURRENCY * 4_000)));
    results[kind].peak.push(peakRate);
    const line = [`round ${round} ${kind.padEnd(7)} peak ${peakRate.toFixed(0).padStart(6)}/s`];
    for (const [index, rate] of RATES.entries()) {
      const lat = await latency(server.port, signedRequests(rate * SECONDS), rate);
      results[kind].latency[index]!.p50.push(lat.p50);
      results[kind].latency[index]!.p99.push(lat.p99);
      line.push(
        `at ${rate}/s p50 ${lat.p50.toFixed(2)} / p99 ${lat.p99.toFixed(2)} ms${lat.failed ? ` (${lat.failed} non-200)` : ""}`,
      );
    }
    if (kind !== "bare") line.push(`(handlers ran ${await server.handled()})`);
    await server.stop();
    console.log(line.join("   "));
  }
}
const bare = median(results.bare.peak);
const summary = Object.fromEntries(
  KINDS.map((kind) => [
    kind,
    {
      peak_per_s: Math.round(median(results[kind].peak)),
      ratio_to_bare: Number((median(results[kind].peak) / bare).toFixed(2)),
      round_ratios: results[kind].peak.map((p, i) => Number((p / results.bare.peak[i]!).toFixed(2))),
      ...Object.fromEntries(
        RATES.map((rate, i) => [
          `ack_ms_at_${rate}_per_s`,
          {
            p50: Number(median(results[kind].latency[i]!.p50).toFixed(2)),
            p99: Number(median(results[kind].latency[i]!.p99).toFixed(2)),
          },
        ]),
      ),
    },
  ]),
);
console.log(JSON.stringify(summary, null, 2));
