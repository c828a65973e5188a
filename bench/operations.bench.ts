// The operations suite: what a bad neighbour costs, each against a baseline measured in the same run.
// 1. An endpoint that times out on every attempt and takes half of all deliveries: the healthy
//    endpoints' delivery rate and publish-to-receipt p99, against a run without it (aim: within 10%),
//    and against a run where that endpoint answers at once (as much to store; only the timeouts differ).
// 2. App A publishing flat out while app B publishes steadily: B's p99, against B alone (aim: <= 2x).
// 3. The delivery rate with the SSRF guard, response capture and exact JSON, against the commit
//    before them, run from its own source in the same run (aim: not slower).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { call } from "../test/helpers/herald.js";
import { HeraldProcess, heraldCli } from "../test/helpers/process.js";
import { freePort } from "../test/helpers/receiver.js";
import {
  configure,
  cpuSeconds,
  event,
  flood,
  freshDatabase,
  median,
  percentile,
  publishAll,
  ReceiverProcess,
  sleep,
  steadyLatency,
  streamEvent,
  wallClock,
} from "./harness.js";
import { EVENTS, LATENCY_SECONDS, ROUNDS, STORE, values } from "./options.js";

/**
 * By default the last commit before the outbound transport, the hardening (exact JSON) and response
 * capture; `--before <commit>` compares with another.
 */
const BEFORE_COMMIT = values.before;
const REPO = join(import.meta.dirname, "..");
/** The steady publish rate of the latency phases, in events per second. */
const STEADY_RATE = 200;
const FLOOD_LIMIT = Number(values["flood-limit"]);

interface Herald {
  process: HeraldProcess;
  stop(): Promise<void>;
}

/** With BENCH_PROF set, every Herald the suite starts writes a CPU profile into /tmp/prof. */
const PROFILE_FLAGS = globalThis.process.env.BENCH_PROF
  ? ["--cpu-prof", "--cpu-prof-interval=250", "--cpu-prof-dir=/tmp/prof"]
  : [];

/** A Herald on a fresh database of `--store`, in one process; `command` runs another build of it. */
async function startHerald(command = [join(REPO, "bin/herald.js"), "serve"]): Promise<Herald> {
  const database = freshDatabase(STORE);
  const port = await freePort();
  const env = { HERALD_DATABASE_URL: database.databaseUrl, HERALD_LOG_LEVEL: values["log-level"] };
  const process = new HeraldProcess(env, port, [...PROFILE_FLAGS, ...command]);
  await process.start(60_000);
  return {
    process,
    async stop() {
      await process.stop();
      await database.drop();
    },
  };
}

async function createApp(herald: Herald, name: string, publishRateLimit?: number): Promise<string> {
  const cli = (args: string[]) => heraldCli(args, herald.process.env, herald.process);
  const created = JSON.parse(await cli(["app", "create", "--name", name, "--json"])) as {
    id: string;
    api_token: string;
  };
  if (publishRateLimit) await cli(["app", "update", created.id, "--publish-rate-limit", String(publishRateLimit)]);
  return created.api_token;
}

/** A POST through the tests' `call`, failing the bench on anything but a 2xx. */
async function post(herald: Herald, token: string, path: string, body?: unknown): Promise<unknown> {
  const { status, body: answer } = await call(herald.process.url, "POST", path, { token, body });
  if (status >= 300) throw new Error(`POST ${path}: ${status} ${JSON.stringify(answer)}`);
  return answer;
}

const ratio = (a: number, b: number) => (a / b).toFixed(2);

/** Stream events alternating between two types, so each healthy endpoint takes one of them. */
const TYPES = ["message.new", "message.updated"];
const alternating = (i: number) => ({ ...streamEvent(i), type: TYPES[i % 2] });

/**
 * One deployment of round 1: two healthy Stream endpoints taking one type each, and, with `third`,
 * a third endpoint taking every event: one that answers at once (the same storage work, none of the
 * trouble) or one whose receiver never answers (Stream's 6 s timeout, three attempts in 15 s).
 * Returns the healthy endpoints' rate and steady-state latency.
 */
async function timeoutRun(healthy: ReceiverProcess, third: ReceiverProcess | undefined, offset: number) {
  const herald = await startHerald();
  try {
    const token = await createApp(herald, "timeouts");
    await post(herald, token, "/v1/keys");
    for (const type of TYPES) {
      const url = `http://127.0.0.1:${healthy.port}/${type}`;
      await post(herald, token, "/v1/endpoints", { url, profile: "stream", filter: [type] });
    }
    if (third)
      await post(herald, token, "/v1/endpoints", { url: `http://127.0.0.1:${third.port}/`, profile: "stream" });
    await sleep(1100);
    await healthy.reset();
    const started = wallClock();
    await publishAll(herald.process, token, EVENTS, offset, alternating);
    const { lastAt } = await healthy.waitForCount(EVENTS, 300_000);
    const rate = EVENTS / ((lastAt - started) / 1000);
    const steady = await steadyLatency(herald.process, token, healthy, STEADY_RATE, alternating);
    return { rate, p99: percentile(steady.latencies, 99), timedOut: third ? (await third.count()).count : 0 };
  } finally {
    await herald.stop();
  }
}

async function timeoutRound() {
  const healthy = new ReceiverProcess();
  const prompt = new ReceiverProcess();
  const hanging = new ReceiverProcess(["--hang"]);
  await Promise.all([healthy.ready(), prompt.ready(), hanging.ready()]);
  const against = {
    alone: { rates: [] as number[], p99s: [] as number[] },
    prompt: { rates: [] as number[], p99s: [] as number[] },
  };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const alone = await timeoutRun(healthy, undefined, 3 * r * EVENTS);
      const withPrompt = await timeoutRun(healthy, prompt, (3 * r + 1) * EVENTS);
      await hanging.reset();
      const withHanging = await timeoutRun(healthy, hanging, (3 * r + 2) * EVENTS);
      for (const [name, base] of [
        ["alone", alone],
        ["prompt", withPrompt],
      ] as const) {
        against[name].rates.push(withHanging.rate / base.rate);
        against[name].p99s.push(withHanging.p99 / base.p99);
      }
      console.log(
        `timing-out endpoint, round ${r + 1}: healthy endpoints ${alone.rate.toFixed(0)}/s p99 ${alone.p99.toFixed(1)} ms alone, ` +
          `${withPrompt.rate.toFixed(0)}/s p99 ${withPrompt.p99.toFixed(1)} ms beside a prompt third endpoint, ` +
          `${withHanging.rate.toFixed(0)}/s p99 ${withHanging.p99.toFixed(1)} ms beside the timing-out one (${withHanging.timedOut} requests hung); ` +
          `rate ${ratio(withHanging.rate, alone.rate)} / ${ratio(withHanging.rate, withPrompt.rate)}, ` +
          `p99 ${ratio(withHanging.p99, alone.p99)} / ${ratio(withHanging.p99, withPrompt.p99)} (against alone / against prompt)`,
      );
    }
  } finally {
    healthy.exit();
    prompt.exit();
    hanging.exit();
  }
  const summary = (name: keyof typeof against) => ({
    rate: median(against[name].rates),
    p99: median(against[name].p99s),
  });
  return { alone: summary("alone"), prompt: summary("prompt") };
}

/**
 * Round 2: apps A and B on one Herald, each with a Sendbird webhook to a receiver of its own. B
 * publishes STEADY_RATE events/s alone, then again while A publishes as fast as Herald takes it.
 * `isolated` (round "isolated") gives A a Herald of its own: what the flood costs B through the
 * machine alone (cores, loopback, the receivers), with no event loop or database shared. `limited`
 * (round "limited") gives A a publish rate limit of its own (--flood-limit): A still sends as fast as
 * it can, and what is over the limit is refused before its body is read.
 */
async function fairnessRound(mode: "shared" | "isolated" | "limited" = "shared") {
  const isolated = mode === "isolated";
  const receiverA = new ReceiverProcess();
  const receiverB = new ReceiverProcess();
  await Promise.all([receiverA.ready(), receiverB.ready()]);
  const alone: number[] = [];
  const flooded: number[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const herald = await startHerald();
      let heraldA: Herald | undefined;
      try {
        heraldA = isolated ? await startHerald() : herald;
        const tokenA = await createApp(heraldA, "A", mode === "limited" ? FLOOD_LIMIT : undefined);
        const tokenB = await createApp(herald, "B");
        await configure(heraldA.process, tokenA, "sendbird", `http://127.0.0.1:${receiverA.port}/`);
        await configure(herald.process, tokenB, "sendbird", `http://127.0.0.1:${receiverB.port}/`);
        await sleep(1100);
        const bAlone = await steadyLatency(herald.process, tokenB, receiverB, STEADY_RATE, event);
        // A floods for as long as B's steady phase lasts, and a little longer.
        const flooding = flood(heraldA.process, tokenA, Date.now() + (LATENCY_SECONDS + 1.5) * 1000);
        await sleep(500);
        const bFlooded = await steadyLatency(herald.process, tokenB, receiverB, STEADY_RATE, event);
        const floodEvents = await flooding;
        const p99Alone = percentile(bAlone.latencies, 99);
        const p99Flooded = percentile(bFlooded.latencies, 99);
        alone.push(p99Alone);
        flooded.push(p99Flooded);
        console.log(
          `app A flooding${isolated ? " a Herald of its own" : mode === "limited" ? ` with a limit of ${FLOOD_LIMIT}/s` : ""}, round ${r + 1}: B alone p50 ${percentile(bAlone.latencies, 50).toFixed(1)} / p99 ${p99Alone.toFixed(1)} ms; ` +
            `with A publishing ${(floodEvents / (LATENCY_SECONDS + 1.5)).toFixed(0)} events/s: ` +
            `p50 ${percentile(bFlooded.latencies, 50).toFixed(1)} / p99 ${p99Flooded.toFixed(1)} ms; ratio ${ratio(p99Flooded, p99Alone)} ` +
            `(B's publish answered in p99 ${percentile(bAlone.acknowledged, 99).toFixed(1)} ms alone, ${percentile(bFlooded.acknowledged, 99).toFixed(1)} ms flooded)`,
        );
      } finally {
        await herald.stop();
        if (heraldA !== herald) await heraldA?.stop();
      }
    }
  } finally {
    receiverA.exit();
    receiverB.exit();
  }
  return { alone: median(alone), flooded: median(flooded), ratio: median(flooded.map((p, i) => p / alone[i]!)) };
}

const FANOUT_ENDPOINTS = 100;

/** The slowest /healthz answer while `during` runs, probing every 5 ms. */
async function slowestHealthz(url: string, during: () => Promise<unknown>): Promise<number> {
  let slowest = 0;
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const started = performance.now();
      await (await fetch(`${url}/healthz`)).arrayBuffer();
      slowest = Math.max(slowest, performance.now() - started);
      await sleep(5);
    }
  })();
  await during();
  probing = false;
  await probe;
  return slowest;
}

/**
 * Round "fanout": one 1 MB event to FANOUT_ENDPOINTS endpoints of one app (Sendbird, so rendered per
 * endpoint unless shared). What it holds up: the slowest /healthz answer while it is published and
 * delivered, against the slowest over as long a quiet stretch, and how long the publish takes.
 */
async function fanoutRound() {
  const receiver = new ReceiverProcess();
  await receiver.ready();
  const rows: { quiet: number; busy: number; publish: number }[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const herald = await startHerald();
      try {
        const token = await createApp(herald, "fan-out");
        const url = herald.process.url;
        const headers = { "content-type": "application/json", "api-token": token };
        for (let i = 0; i < FANOUT_ENDPOINTS; i++) {
          const endpoint = { url: `http://127.0.0.1:${receiver.port}/${i}`, profile: "sendbird" };
          const created = await fetch(`${url}/v1/endpoints`, {
            method: "POST",
            headers,
            body: JSON.stringify(endpoint),
          });
          if (created.status !== 201) throw new Error(`creating an endpoint failed: ${created.status}`);
        }
        await receiver.reset();
        const quiet = await slowestHealthz(url, () => sleep(3000));
        let publish = 0;
        const busy = await slowestHealthz(url, async () => {
          const started = performance.now();
          const body = { ...event(r), payload: { message: "x".repeat(1_000_000) } };
          const answer = await fetch(`${url}/v1/events`, { method: "POST", headers, body: JSON.stringify(body) });
          if (answer.status !== 202) throw new Error(`the publish failed: ${answer.status}`);
          publish = performance.now() - started;
          await receiver.waitForCount(FANOUT_ENDPOINTS, 30_000);
        });
        rows.push({ quiet, busy, publish });
        console.log(
          `1 MB event to ${FANOUT_ENDPOINTS} endpoints, round ${r + 1}: slowest /healthz ${busy.toFixed(1)} ms ` +
            `(quiet: ${quiet.toFixed(1)} ms); the publish answered in ${publish.toFixed(1)} ms`,
        );
      } finally {
        await herald.stop();
      }
    }
  } finally {
    receiver.exit();
  }
  return {
    quiet: median(rows.map((row) => row.quiet)),
    busy: median(rows.map((row) => row.busy)),
    publish: median(rows.map((row) => row.publish)),
  };
}

/**
 * The commit before this work, from its own source: `git archive` into a temp directory that shares
 * this checkout's node_modules, run with tsx. Undefined when the clone does not hold that commit.
 */
function checkoutBefore(): { command: string[]; remove(): void } | undefined {
  try {
    execFileSync("git", ["cat-file", "-e", `${BEFORE_COMMIT}^{commit}`], { cwd: REPO, stdio: "ignore" });
  } catch {
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), "herald-bench-before-"));
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync("git", ["archive", BEFORE_COMMIT, "src", "package.json"], {
    cwd: REPO,
    maxBuffer: 64 * 1024 * 1024,
  });
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  return {
    command: ["--import", "tsx", join(dir, "src/cli/main.ts"), "serve"],
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Round 3: Sendbird deliveries/s from first publish to last receipt, now and before, interleaved, in
 * alternating order. Also the CPU time Herald's process spent per event: on a shared machine the rate
 * moves with the neighbours' load far more than CPU time does.
 */
async function beforeRound() {
  const before = checkoutBefore();
  if (!before) return undefined;
  const receiver = new ReceiverProcess();
  await receiver.ready();
  const url = `http://127.0.0.1:${receiver.port}/`;
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const rates: number[] = [];
      const cpu: number[] = [];
      const order = r % 2 === 0 ? [0, 1] : [1, 0];
      for (const which of order) {
        const herald = await startHerald(which === 0 ? undefined : before.command);
        try {
          const token = await createApp(herald, "before");
          await configure(herald.process, token, "sendbird", url);
          await sleep(1100);
          await receiver.reset();
          const cpuBefore = cpuSeconds(herald.process.pid!);
          const started = wallClock();
          await publishAll(herald.process, token, EVENTS, r * EVENTS, event);
          const { lastAt } = await receiver.waitForCount(EVENTS, 300_000);
          rates[which] = EVENTS / ((lastAt - started) / 1000);
          cpu[which] = ((cpuSeconds(herald.process.pid!) - cpuBefore) * 1e6) / EVENTS;
        } finally {
          await herald.stop();
        }
      }
      ratios.push(rates[0]! / rates[1]!);
      cpuRatios.push(cpu[0]! / cpu[1]!);
      console.log(
        `now against ${BEFORE_COMMIT}, round ${r + 1}: now ${rates[0]!.toFixed(0)}/s, before (${BEFORE_COMMIT}) ${rates[1]!.toFixed(0)}/s, ratio ${ratio(rates[0]!, rates[1]!)}; ` +
          `Herald's CPU per event now ${cpu[0]!.toFixed(0)} µs, before ${cpu[1]!.toFixed(0)} µs, ratio ${ratio(cpu[0]!, cpu[1]!)}`,
      );
    }
  } finally {
    receiver.exit();
    before.remove();
  }
  return { rate: median(ratios), cpu: median(cpuRatios) };
}

export async function operationsBench(): Promise<void> {
  console.log(
    `\nHerald operations benchmark: ${EVENTS} events per rate phase, ${LATENCY_SECONDS} s steady phases at ${STEADY_RATE} events/s, ${ROUNDS} rounds`,
  );
  const parts = new Set(values.operations.split(",").map((name) => name.trim()));
  for (const part of parts) {
    if (!["timeouts", "fairness", "isolated", "limited", "fanout", "before"].includes(part))
      throw new Error(`--operations: no round "${part}"`);
  }
  const timeouts = parts.has("timeouts") ? await timeoutRound() : undefined;
  const fairness = parts.has("fairness") ? await fairnessRound() : undefined;
  const isolated = parts.has("isolated") ? await fairnessRound("isolated") : undefined;
  const limited = parts.has("limited") ? await fairnessRound("limited") : undefined;
  const fanout = parts.has("fanout") ? await fanoutRound() : undefined;
  const before = parts.has("before") ? await beforeRound() : null;
  console.log("\nresult (medians of per-round ratios, each against a baseline measured in the same round)");
  if (timeouts) {
    console.log(
      `  an endpoint timing out on every attempt, half of all deliveries: healthy rate ${timeouts.alone.rate.toFixed(2)}x, ` +
        `p99 ${timeouts.alone.p99.toFixed(2)}x of a run without it (aim: rate >= 0.90, p99 <= 1.10); ` +
        `rate ${timeouts.prompt.rate.toFixed(2)}x, p99 ${timeouts.prompt.p99.toFixed(2)}x of a run where that endpoint answers ` +
        "at once (the same events and deliveries stored: what the timeouts themselves cost)",
    );
  }
  if (fairness) {
    console.log(
      `  app A flooding: app B p99 ${fairness.flooded.toFixed(1)} ms against ${fairness.alone.toFixed(1)} ms alone, ` +
        `${fairness.ratio.toFixed(2)}x (aim: <= 2)`,
    );
  }
  if (isolated) {
    console.log(
      `  app A flooding a Herald of its own: app B p99 ${isolated.flooded.toFixed(1)} ms against ${isolated.alone.toFixed(1)} ms alone, ` +
        `${isolated.ratio.toFixed(2)}x (what the machine alone costs B)`,
    );
  }
  if (limited) {
    console.log(
      `  app A flooding past a publish rate limit of ${FLOOD_LIMIT} events/s: app B p99 ${limited.flooded.toFixed(1)} ms against ${limited.alone.toFixed(1)} ms alone, ` +
        `${limited.ratio.toFixed(2)}x (aim: <= 2)`,
    );
  }
  if (fanout) {
    console.log(
      `  a 1 MB event to ${FANOUT_ENDPOINTS} endpoints: the slowest /healthz ${fanout.busy.toFixed(1)} ms while it is published ` +
        `and delivered, ${fanout.quiet.toFixed(1)} ms over a quiet stretch (${ratio(fanout.busy, fanout.quiet)}); ` +
        `the publish answered in ${fanout.publish.toFixed(1)} ms`,
    );
  }
  if (before !== null) {
    console.log(
      before === undefined
        ? `  before/after: skipped, this clone does not hold commit ${BEFORE_COMMIT} (a shallow clone?)`
        : `  now against ${BEFORE_COMMIT}${BEFORE_COMMIT === "e4d7ab7" ? " (before the SSRF guard, response capture and exact JSON)" : ""}: ` +
            `${before.rate.toFixed(2)}x its delivery rate (aim: >= 1), ${before.cpu.toFixed(2)}x its CPU time per event`,
    );
  }
}
