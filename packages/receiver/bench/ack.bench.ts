// npm run bench [-- --rounds 3 --seconds 5 --rate 5000 --concurrency 32]
// Acknowledgement speed of the receiver kit: verify (Sendbird signature over a ~1 KB body) +
// deduplicate + durable enqueue in SQLite, then 200; against a bare node:http server that reads
// the body and answers 200, in the same run, alternating rounds. Each server runs in its own
// process; the load comes from this one. Prints peak acknowledgements/s (closed loop), the ratio
// kit / bare, and ack latency p50/p99 at a fixed open-loop rate (timed from each request's
// scheduled send, so queueing counts).
import { type ChildProcess, fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { encodeSendbirdJson, signSendbird } from "@herald/signing";
import { Agent, request } from "undici";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    rate: { type: "string", default: "5000" },
    concurrency: { type: "string", default: "32" },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const CONCURRENCY = Number(values.concurrency);
const SECRET = "bench-master-token";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Pre-signed requests, so signing is not part of the load generator's cost. */
function signedRequests(count: number) {
  return Array.from({ length: count }, (_, i) => {
    const body = encodeSendbirdJson({
      category: "group_channel:message_send",
      sender: {
        user_id: "Jeff",
        nickname: "Oldies but goodies",
        profile_url: "https://sendbird.com/main/img/profiles/profile_38_512px.png",
        metadata: {},
      },
      silent: false,
      custom_type: "",
      mention_type: "users",
      mentioned_users: [],
      type: "MESG",
      payload: {
        message_id: i,
        custom_type: "",
        message: `Message ${i}: hello 😀 ${"x".repeat(500)}`,
        translations: {},
        created_at: Date.now(),
        data: "",
      },
      channel: {
        name: "Engineers",
        channel_url: "sendbird_group_channel_47226288",
        custom_type: "business",
        is_distinct: false,
        is_public: false,
        is_super: false,
        is_ephemeral: false,
        is_discoverable: false,
        data: "",
      },
      sdk: "API",
      app_id: "d0c7ab11-1f53-4b7e-9d5a-1e0b8b1f0c2a",
    });
    const signature = signSendbird(body, SECRET);
    return {
      body,
      headers: {
        "content-type": "application/json",
        "x-sendbird-signature": signature,
        "x-signature": signature,
        "x-webhook-id": randomUUID(),
        "x-webhook-attempt": "1",
      },
    };
  });
}

class Server {
  #child: ChildProcess;
  #dir = mkdtempSync(join(tmpdir(), "ack-bench-"));
  port = 0;
  constructor(readonly kind: "bare" | "kit") {
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

/** Open loop at RATE/s for SECONDS: latency from each request's scheduled time to its 200. */
async function latency(port: number, requests: Signed[]): Promise<{ p50: number; p99: number; failed: number }> {
  const agent = new Agent({ connections: 64 });
  const url = `http://127.0.0.1:${port}/webhooks`;
  const total = Math.min(requests.length, RATE * SECONDS);
  const latencies: number[] = [];
  let failed = 0;
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE));
    for (; sent < due; sent++) {
      const scheduled = started + (sent / RATE) * 1000;
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

const rows: Record<"bare" | "kit", { peak: number[]; p50: number[]; p99: number[] }> = {
  bare: { peak: [], p50: [], p99: [] },
  kit: { peak: [], p50: [], p99: [] },
};
console.log(
  `ack benchmark: ${ROUNDS} rounds, ${SECONDS} s each, peak at concurrency ${CONCURRENCY}, latency at ${RATE}/s`,
);
for (let round = 1; round <= ROUNDS; round++) {
  for (const kind of ["bare", "kit"] as const) {
    const server = new Server(kind);
    await server.start();
    // Fresh ids each phase: the kit would rightly answer repeats as duplicates without storing them.
    const peakRate = await peak(
      server.port,
      signedRequests(CONCURRENCY * 4_000 > 120_000 ? 120_000 : CONCURRENCY * 4_000),
    );
    const lat = await latency(server.port, signedRequests(RATE * SECONDS));
    if (kind === "kit") console.log(`  (kit handlers ran ${await server.handled()} events so far)`);
    await server.stop();
    rows[kind].peak.push(peakRate);
    rows[kind].p50.push(lat.p50);
    rows[kind].p99.push(lat.p99);
    console.log(
      `round ${round} ${kind.padEnd(4)}  peak ${peakRate.toFixed(0).padStart(6)}/s   at ${RATE}/s: p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms, non-200 ${lat.failed}`,
    );
  }
}
const summary = {
  bare_peak_per_s: Math.round(median(rows.bare.peak)),
  kit_peak_per_s: Math.round(median(rows.kit.peak)),
  ratio_kit_over_bare: Number((median(rows.kit.peak) / median(rows.bare.peak)).toFixed(2)),
  round_ratios: rows.kit.peak.map((k, i) => Number((k / rows.bare.peak[i]!).toFixed(2))),
  [`bare_ack_ms_at_${RATE}`]: {
    p50: Number(median(rows.bare.p50).toFixed(2)),
    p99: Number(median(rows.bare.p99).toFixed(2)),
  },
  [`kit_ack_ms_at_${RATE}`]: {
    p50: Number(median(rows.kit.p50).toFixed(2)),
    p99: Number(median(rows.kit.p99).toFixed(2)),
  },
};
console.log(JSON.stringify(summary, null, 2));
