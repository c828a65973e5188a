// The listen suite: `herald listen --forward-to` against Herald delivering to the same local receiver
// directly, in one run on one Herald. Two endpoints of one app take one event type each: a direct
// Standard Webhooks endpoint, and a listen session (the CLI as users run it) forwarding to the same
// receiver. Reported: the forwarding rate as a ratio of the direct rate (aim >= 0.5x) and the
// publish-to-receipt p99 the relay adds (aim < 10 ms). Bounded: at most 5,000 events per rate round.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { call } from "../test/helpers/herald.js";
import { HeraldProcess, heraldCli } from "../test/helpers/process.js";
import { freePort } from "../test/helpers/receiver.js";
import { event, median, percentile, publishAll, ReceiverProcess, sleep, steadyLatency } from "./harness.js";
import { EVENTS, ROUNDS, values } from "./options.js";

const BIN = join(import.meta.dirname, "../bin/herald.js");
const DIRECT_TYPE = "group_channel:message_send";
const LISTEN_TYPE = "group_channel:message_update";
const MAX_EVENTS = 5000;
const STEADY_RATE = 100;

const direct = (i: number) => event(i);
const relayed = (i: number) => ({ ...event(i), category: LISTEN_TYPE });

/** `herald listen` in its own process; resolves once its session is open. */
async function startListener(herald: HeraldProcess, token: string, forwardTo: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [BIN, "listen", "--json", "--forward-to", forwardTo, "--profile", "standard", "--events", LISTEN_TYPE],
    { env: { ...process.env, HERALD_URL: herald.url, HERALD_API_TOKEN: token }, stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve, reject) => {
    // Only the first line (the session) is read; the per-event lines are left to the pipe.
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`herald listen exited with ${code}`)));
  });
  child.stdout!.resume();
  return child;
}

/** Publishes `total` events and waits until the receiver has them all: events per second. */
async function rate(
  herald: HeraldProcess,
  token: string,
  receiver: ReceiverProcess,
  total: number,
  newEvent: (i: number) => object,
) {
  await receiver.reset();
  const started = performance.now();
  await publishAll(herald, token, total, 0, newEvent);
  await receiver.waitForCount(total, 120_000);
  return total / ((performance.now() - started) / 1000);
}

export async function listenBench(): Promise<void> {
  const total = Math.min(EVENTS, MAX_EVENTS);
  const dir = mkdtempSync(join(tmpdir(), "herald-bench-listen-"));
  const port = await freePort();
  const herald = new HeraldProcess(
    { HERALD_DATABASE_URL: `sqlite:${join(dir, "herald.db")}`, HERALD_LOG_LEVEL: values["log-level"] },
    port,
  );
  await herald.start(60_000);
  const receiver = new ReceiverProcess();
  await receiver.ready();
  const localUrl = `http://127.0.0.1:${receiver.port}/webhooks`;
  let listener: ChildProcess | undefined;
  try {
    const created = await heraldCli(["app", "create", "--name", "listen-bench", "--json"], {}, herald);
    const token = (JSON.parse(created) as { api_token: string }).api_token;
    const endpoint = await call(herald.url, "POST", "/v1/endpoints", {
      token,
      body: { url: localUrl, profile: "standard", filter: [DIRECT_TYPE] },
    });
    if (endpoint.status !== 201) throw new Error(`creating the direct endpoint: ${JSON.stringify(endpoint.body)}`);
    listener = await startListener(herald, token, localUrl);

    const directRates: number[] = [];
    const listenRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      directRates.push(await rate(herald, token, receiver, total, direct));
      listenRates.push(await rate(herald, token, receiver, total, relayed));
    }
    await sleep(500);
    const directLatency = (await steadyLatency(herald, token, receiver, STEADY_RATE, direct)).latencies;
    const listenLatency = (await steadyLatency(herald, token, receiver, STEADY_RATE, relayed)).latencies;

    const directRate = median(directRates);
    const listenRate = median(listenRates);
    const p = (xs: number[], q: number) => percentile(xs, q).toFixed(1);
    const added = percentile(listenLatency, 99) - percentile(directLatency, 99);
    console.log(`\n## listen: herald listen --forward-to vs direct delivery, same Herald, same receiver
${total} events per round, ${ROUNDS} rounds (medians); latency at ${STEADY_RATE} events/s
| path | rate (events/s) | p50 ms | p99 ms |
| --- | --- | --- | --- |
| direct (Standard Webhooks endpoint) | ${directRate.toFixed(0)} | ${p(directLatency, 50)} | ${p(directLatency, 99)} |
| herald listen (relay + CLI) | ${listenRate.toFixed(0)} | ${p(listenLatency, 50)} | ${p(listenLatency, 99)} |
rate ratio listen/direct: ${(listenRate / directRate).toFixed(2)}x (aim >= 0.5x)
p99 added by listen: ${added.toFixed(1)} ms (aim < 10 ms)`);
  } finally {
    listener?.kill("SIGINT");
    await sleep(300);
    receiver.exit();
    await herald.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
