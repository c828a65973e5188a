// npm run bench [-- --events 50000 --rounds 3]
// Herald on SQLite (its own process, default settings) delivering to a local receiver (its own
// process), against a bare undici loop posting the same signed bodies to the same receiver with no
// storage, measured in the same run. Prints deliveries/s, the ratio Herald / bare, publish-to-receipt
// latency at half of Herald's peak rate, and Herald's peak RSS.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { encodeSendbirdJson, signSendbird } from "@herald/signing";
import { Agent, request } from "undici";
import { sendbirdChatCatalog } from "../src/catalog/index.js";
import { HeraldProcess, heraldCli } from "../test/helpers/process.js";
import { refusingUrl } from "../test/helpers/receiver.js";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "50000" },
    rounds: { type: "string", default: "3" },
    batch: { type: "string", default: "500" },
    concurrency: { type: "string", default: "32" },
    "latency-seconds": { type: "string", default: "5" },
  },
});
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);
const BATCH = Number(values.batch);
const CONCURRENCY = Number(values.concurrency);
const LATENCY_SECONDS = Number(values["latency-seconds"]);

const wallClock = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

const sample = sendbirdChatCatalog.get("group_channel:message_send")!.sample;
const event = (i: number) => ({
  ...sample,
  payload: { ...(sample.payload as object), message_id: i, sent_at: wallClock() },
});

/** The receiver process, driven over IPC. */
class ReceiverProcess {
  #child: ChildProcess;
  #replies: ((message: any) => void)[] = [];
  port = 0;
  constructor() {
    this.#child = fork(join(import.meta.dirname, "receiver.ts"), { execArgv: ["--import", "tsx"] });
    this.#child.on("message", (message) => this.#replies.shift()?.(message));
  }
  #ask(cmd: string): Promise<any> {
    return new Promise((resolve) => {
      this.#replies.push(resolve);
      if (cmd !== "ready") this.#child.send({ cmd });
    });
  }
  async ready() {
    this.port = (await this.#ask("ready")).port;
  }
  reset = () => this.#ask("reset");
  /** Only counts while waiting: shipping every latency over IPC each poll would load the receiver. */
  count = (): Promise<{ count: number; lastAt: number }> => this.#ask("count");
  stats = (): Promise<{ count: number; lastAt: number; latencies: number[] }> => this.#ask("stats");
  exit = () => this.#child.send({ cmd: "exit" });
  async waitForCount(count: number, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stats = await this.count();
      if (stats.count >= count) return stats;
      if (Date.now() > deadline) throw new Error(`receiver got ${stats.count}/${count}`);
      await sleep(20);
    }
  }
}

/** What a user would write without Herald: POST the same signed bodies in a loop, nothing stored. */
async function bareUndici(url: string, token: string): Promise<number> {
  const agent = new Agent({ connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 30_000 });
  let next = 0;
  const started = wallClock();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < EVENTS) {
        const body = encodeSendbirdJson({ ...event(next++), app_id: "bench" });
        const signature = signSendbird(body, token);
        const response = await request(url, {
          method: "POST",
          body,
          dispatcher: agent,
          headers: { "content-type": "application/json", "x-sendbird-signature": signature, "x-signature": signature },
        });
        await response.body.dump();
      }
    }),
  );
  await agent.close();
  return EVENTS / ((wallClock() - started) / 1000);
}

async function publishAll(herald: HeraldProcess, token: string, total: number, offset: number): Promise<void> {
  const agent = new Agent({ connections: 4 });
  const batches = Array.from({ length: Math.ceil(total / BATCH) }, (_, b) => b);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < batches.length) {
        const b = batches[next++]!;
        const events = Array.from({ length: Math.min(BATCH, total - b * BATCH) }, (_, i) =>
          event(offset + b * BATCH + i),
        );
        const response = await request(`${herald.url}/v1/events/batch`, {
          method: "POST",
          dispatcher: agent,
          headers: { "content-type": "application/json", "api-token": token },
          body: JSON.stringify({ events }),
        });
        if (response.statusCode !== 202)
          throw new Error(`publish failed: ${response.statusCode} ${await response.body.text()}`);
        await response.body.dump();
      }
    }),
  );
  await agent.close();
}

/** Publishes at a steady rate in small batches for a few seconds; returns publish-to-receipt latencies. */
async function steadyLatency(herald: HeraldProcess, token: string, receiver: ReceiverProcess, rate: number) {
  await receiver.reset();
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  const ticks = Math.round((LATENCY_SECONDS * 1000) / tickMs);
  const agent = new Agent({ connections: 8 });
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let t = 0; t < ticks; t++) {
    const events = Array.from({ length: perTick }, (_, i) => event(t * perTick + i));
    inFlight.push(
      request(`${herald.url}/v1/events/batch`, {
        method: "POST",
        dispatcher: agent,
        headers: { "content-type": "application/json", "api-token": token },
        body: JSON.stringify({ events }),
      }).then((response) => response.body.dump()),
    );
    const wait = started + (t + 1) * tickMs - performance.now();
    if (wait > 0) await sleep(wait);
  }
  await Promise.all(inFlight);
  await agent.close();
  await receiver.waitForCount(ticks * perTick, 60_000);
  return { rate: (ticks * perTick) / LATENCY_SECONDS, latencies: (await receiver.stats()).latencies };
}

const peakRssMb = (pid: number) => {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
};

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "herald-bench-"));
  const receiver = new ReceiverProcess();
  await receiver.ready();
  const receiverUrl = `http://127.0.0.1:${receiver.port}/webhook`;
  const env = { HERALD_DATABASE_URL: `sqlite:${join(dir, "herald.db")}`, HERALD_LOG_LEVEL: "warn" };
  const herald = new HeraldProcess(env, Number(new URL(await refusingUrl()).port));
  try {
    await herald.start();
    const { api_token: token } = JSON.parse(await heraldCli(["app", "create", "--name", "bench", "--json"], env));
    const put = await fetch(`${herald.url}/v3/applications/settings/webhook`, {
      method: "PUT",
      headers: { "content-type": "application/json", "api-token": token },
      body: JSON.stringify({ enabled: true, url: receiverUrl, enabled_events: ["*"] }),
    });
    if (!put.ok) throw new Error(`configuring the webhook failed: ${put.status}`);

    console.log(
      `Herald delivery benchmark: ${EVENTS} Chat events per round, ${ROUNDS} rounds, batches of ${BATCH}, concurrency ${CONCURRENCY}`,
    );
    const bareRates: number[] = [];
    const heraldRates: number[] = [];
    const publishRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await receiver.reset();
      bareRates.push(await bareUndici(receiverUrl, token));

      await receiver.reset();
      const started = wallClock();
      await publishAll(herald, token, EVENTS, round * EVENTS);
      const publishedAt = wallClock();
      const stats = await receiver.waitForCount(EVENTS, 300_000);
      heraldRates.push(EVENTS / ((stats.lastAt - started) / 1000));
      publishRates.push(EVENTS / ((publishedAt - started) / 1000));
      console.log(
        `round ${round + 1}: bare undici ${bareRates[round]!.toFixed(0)}/s, Herald ${heraldRates[round]!.toFixed(0)}/s ` +
          `(published at ${publishRates[round]!.toFixed(0)}/s), ratio ${(heraldRates[round]! / bareRates[round]!).toFixed(2)}`,
      );
    }
    const heraldPeak = median(heraldRates);
    const steady = await steadyLatency(herald, token, receiver, heraldPeak / 2);
    const ratios = heraldRates.map((rate, i) => rate / bareRates[i]!);

    console.log("\nresult (medians)");
    console.log(`  bare undici loop, no storage     ${median(bareRates).toFixed(0)} deliveries/s`);
    console.log(
      `  Herald on SQLite, end to end     ${heraldPeak.toFixed(0)} deliveries/s (publish ${median(publishRates).toFixed(0)} events/s)`,
    );
    console.log(`  ratio Herald / bare              ${median(ratios).toFixed(2)}  (aim >= 0.5)`);
    console.log(
      `  publish-to-receipt at ${steady.rate.toFixed(0)}/s (half of peak): p50 ${percentile(steady.latencies, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(steady.latencies, 99).toFixed(1)} ms  (aim p99 < 50 ms)`,
    );
    console.log(`  Herald peak RSS                  ${peakRssMb(herald.pid!).toFixed(0)} MB`);
  } finally {
    await herald.stop();
    receiver.exit();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
