// The delivery suite: Herald on SQLite (its own process, default settings) delivering to a local
// receiver (its own process), against a bare undici loop posting the same signed bodies to the same
// receiver with no storage, measured in the same run. Prints deliveries/s, the ratio Herald / bare,
// publish-to-receipt latency at half of Herald's peak rate, and Herald's peak RSS.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { encodeSendbirdJson, signSendbird, signStandardWebhook, signStream } from "@herald/signing";
import { Agent, request } from "undici";
import { createHerald } from "../src/herald.js";
import {
  type Deployment,
  deploy,
  event,
  eventFor,
  isStream,
  median,
  PROFILES,
  type Profile,
  peakRssMb,
  percentile,
  publishAll,
  ReceiverProcess,
  steadyLatency,
  streamEvent,
  wallClock,
} from "./harness.js";
import { BATCH, CONCURRENCY, EVENTS, ROUNDS, STORE, values, WORKERS } from "./options.js";

/** One request as a user would sign it by hand, in the profile's wire format. */
function signedRequest(
  profile: Profile,
  i: number,
  secret: string,
): { body: string | Buffer; headers: Record<string, string> } {
  if (isStream(profile)) {
    const body = JSON.stringify({ ...streamEvent(i), created_at: new Date().toISOString() });
    const headers = {
      "content-type": "application/json",
      "x-webhook-id": `msg_${i}`,
      "x-webhook-attempt": "1",
      "x-api-key": "bench",
      "x-signature": signStream(body, secret),
    };
    if (profile === "stream") return { body, headers };
    return { body: gzipSync(body), headers: { ...headers, "content-encoding": "gzip" } };
  }
  if (profile === "sendbird") {
    const body = encodeSendbirdJson({ ...event(i), app_id: "bench" });
    const signature = signSendbird(body, secret);
    return {
      body,
      headers: { "content-type": "application/json", "x-sendbird-signature": signature, "x-signature": signature },
    };
  }
  const body = JSON.stringify({
    type: "group_channel:message_send",
    timestamp: new Date().toISOString(),
    data: event(i),
  });
  const id = `msg_${i}`;
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    body,
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signStandardWebhook(id, timestamp, body, secret),
    },
  };
}

/** What a user would write without Herald: POST the same signed bodies in a loop, nothing stored. */
async function bareUndici(url: string, profile: Profile, secret: string): Promise<number> {
  const agent = new Agent({ connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 30_000 });
  let next = 0;
  const started = wallClock();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < EVENTS) {
        const { body, headers } = signedRequest(profile, next++, secret);
        const response = await request(url, { method: "POST", body, dispatcher: agent, headers });
        await response.body.dump();
      }
    }),
  );
  await agent.close();
  return EVENTS / ((wallClock() - started) / 1000);
}

/**
 * What a user would build instead of Herald: a BullMQ queue on the local Redis, jobs added in bulk,
 * a worker POSTing the same signed bodies with undici at the same concurrency, 3 attempts per job.
 * Timed end to end, like Herald: first enqueue to last completed job.
 */
async function bullmqBaseline(url: string, token: string): Promise<number> {
  const { Queue, Worker } = await import("bullmq");
  const connection = { host: "127.0.0.1", port: 6379 };
  const name = `herald-bench-${randomBytes(4).toString("hex")}`;
  const queue = new Queue(name, { connection });
  const agent = new Agent({ connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 30_000 });
  let completed = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const started = wallClock();
  const worker = new Worker(
    name,
    async (job) => {
      const body = job.data.body as string;
      const signature = signSendbird(body, token);
      const response = await request(url, {
        method: "POST",
        body,
        dispatcher: agent,
        headers: {
          "content-type": "application/json",
          "x-sendbird-signature": signature,
          "x-webhook-id": String(job.id),
        },
      });
      await response.body.dump();
      if (response.statusCode >= 300) throw new Error(`status ${response.statusCode}`);
    },
    { connection, concurrency: CONCURRENCY },
  );
  worker.on("completed", () => {
    if (++completed === EVENTS) finish();
  });
  for (let from = 0; from < EVENTS; from += 1000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1000, EVENTS - from) }, (_, i) => ({
        name: "webhook",
        data: { body: encodeSendbirdJson({ ...event(from + i), app_id: "bench" }) },
        opts: { attempts: 3, backoff: { type: "fixed", delay: 250 }, removeOnComplete: true },
      })),
    );
  }
  await finished;
  const rate = EVENTS / ((wallClock() - started) / 1000);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await agent.close();
  return rate;
}

async function round(deployment: Deployment, receiver: ReceiverProcess, offset: number) {
  await receiver.reset();
  const started = wallClock();
  await publishAll(deployment.api, deployment.token, EVENTS, offset, eventFor(deployment.profile));
  const publishedAt = wallClock();
  const stats = await receiver.waitForCount(EVENTS, 300_000);
  return { rate: EVENTS / ((stats.lastAt - started) / 1000), publishRate: EVENTS / ((publishedAt - started) / 1000) };
}

const BEFORE_SEND_CALLS = 3000;

/**
 * Before-message-send round trips: Herald's in-process `beforeMessageSend` (sign, POST, parse,
 * decide; the log is written after) against a bare undici POST of a signed body to the same hook
 * server, interleaved call by call. Prints p50/p99 of both and what Herald adds at each.
 */
async function beforeSendRound(hookUrl: string) {
  const dir = mkdtempSync(join(tmpdir(), "herald-bench-hooks-"));
  const herald = await createHerald({
    env: {},
    databaseUrl: `sqlite:${join(dir, "herald.db")}`,
    host: "127.0.0.1",
    port: 0,
    logLevel: "warn",
    // The hook server is on loopback, which the SSRF guard refuses unless told otherwise.
    allowNetworks: ["127.0.0.0/8"],
  });
  const agent = new Agent({ connections: 1, keepAliveTimeout: 30_000 });
  try {
    const url = await herald.listen();
    const { app } = await herald.apps.create("hooks");
    const key = await herald.apps.createApiKey(app.id);
    const { StreamChat } = await import("stream-chat");
    await new StreamChat(key.apiKey, key.secret, { baseURL: url }).updateAppSettings({
      before_message_send_hook_url: hookUrl,
    } as never);
    const input = {
      message: { id: "", text: "hello, here's my number", type: "regular", attachments: [] },
      user: { id: "alice", role: "user" },
      channel: { cid: "messaging:general", type: "messaging", id: "general" },
      request_info: { type: "client", ip: "10.0.0.7" },
    };
    const bare: number[] = [];
    const viaHerald: number[] = [];
    for (let i = 0; i < BEFORE_SEND_CALLS + 300; i++) {
      let started = performance.now();
      const body = JSON.stringify(input);
      const response = await request(hookUrl, {
        method: "POST",
        body,
        dispatcher: agent,
        headers: { "content-type": "application/json", "x-signature": signStream(body, key.secret) },
      });
      JSON.parse((await response.body.text()) || "{}");
      const bareMs = performance.now() - started;
      started = performance.now();
      const result = await herald.beforeMessageSend(app.id, input);
      if (result.outcome !== "accepted") throw new Error(`before-send: ${JSON.stringify(result)}`);
      // The first 300 pairs warm both paths up (JIT, connections) and are not counted.
      if (i >= 300) {
        viaHerald.push(performance.now() - started);
        bare.push(bareMs);
      }
    }
    return { bare, viaHerald };
  } finally {
    await agent.close();
    await herald.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function deliveryBench(): Promise<void> {
  const receiver = new ReceiverProcess();
  await receiver.ready();
  const receiverUrl = `http://127.0.0.1:${receiver.port}/webhook`;
  const configurations: ["sqlite" | "postgres", number, Profile][] =
    STORE === "postgres"
      ? [["sqlite", 1, "sendbird"], ...WORKERS.map((n): ["postgres", number, Profile] => ["postgres", n, "sendbird"])]
      : [...PROFILES.map((profile): ["sqlite", number, Profile] => ["sqlite", 1, profile])];
  console.log(
    `Herald delivery benchmark: ${EVENTS} Chat events per round, ${ROUNDS} rounds, batches of ${BATCH}, concurrency ${CONCURRENCY}`,
  );
  let baseline: number | undefined;
  const results: {
    label: string;
    rate: number;
    publish: number;
    ratio: number;
    p50: number;
    p99: number;
    atRate: number;
    rss: number;
  }[] = [];
  try {
    for (const [store, workers, profile] of configurations) {
      const deployment = await deploy(store, workers, profile, receiverUrl);
      try {
        const bareRates: number[] = [];
        const rates: number[] = [];
        const publishRates: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          await receiver.reset();
          bareRates.push(await bareUndici(receiverUrl, deployment.profile, deployment.secret));
          const result = await round(deployment, receiver, r * EVENTS);
          rates.push(result.rate);
          publishRates.push(result.publishRate);
          console.log(
            `${deployment.label}, round ${r + 1}: bare undici ${bareRates[r]!.toFixed(0)}/s, Herald ${result.rate.toFixed(0)}/s ` +
              `(published at ${result.publishRate.toFixed(0)}/s), ratio ${(result.rate / bareRates[r]!).toFixed(2)}`,
          );
        }
        const peak = median(rates);
        const steady = await steadyLatency(
          deployment.api,
          deployment.token,
          receiver,
          peak / 2,
          eventFor(deployment.profile),
        );
        results.push({
          label: deployment.label,
          rate: peak,
          publish: median(publishRates),
          ratio: median(rates.map((rate, i) => rate / bareRates[i]!)),
          p50: percentile(steady.latencies, 50),
          p99: percentile(steady.latencies, 99),
          atRate: steady.rate,
          rss: Math.max(...deployment.processes.map((p) => peakRssMb(p.pid!))),
        });
      } finally {
        await deployment.stop();
      }
    }
    if (STORE === "postgres") {
      const rates: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        await receiver.reset();
        rates.push(await bullmqBaseline(receiverUrl, "bench-token"));
        console.log(`BullMQ + Redis baseline, round ${r + 1}: ${rates[r]!.toFixed(0)}/s`);
      }
      baseline = median(rates);
    }
    if (values.hooks) {
      const hooks = await beforeSendRound(receiverUrl);
      const at = (xs: number[], p: number) => percentile(xs, p).toFixed(3);
      console.log(
        `\nbefore-message-send, ${BEFORE_SEND_CALLS} calls: bare undici p50 ${at(hooks.bare, 50)} ms / p99 ${at(hooks.bare, 99)} ms, ` +
          `Herald p50 ${at(hooks.viaHerald, 50)} ms / p99 ${at(hooks.viaHerald, 99)} ms; Herald adds ` +
          `${(percentile(hooks.viaHerald, 50) - percentile(hooks.bare, 50)).toFixed(3)} ms at p50, ` +
          `${(percentile(hooks.viaHerald, 99) - percentile(hooks.bare, 99)).toFixed(3)} ms at p99 (aim: < 1 ms at p99)`,
      );
    }
  } finally {
    receiver.exit();
  }
  console.log(
    "\nresult (medians; ratio against a bare undici loop measured in the same round; aims: ratio >= 0.5, p99 < 50 ms)",
  );
  for (const r of results) {
    console.log(
      `  ${r.label.padEnd(52)} ${r.rate.toFixed(0).padStart(6)} deliveries/s  ratio ${r.ratio.toFixed(2)}  ` +
        `publish ${r.publish.toFixed(0)}/s  p50 ${r.p50.toFixed(1)} ms / p99 ${r.p99.toFixed(1)} ms at ${r.atRate.toFixed(0)}/s  ` +
        `peak RSS ${r.rss.toFixed(0)} MB`,
    );
  }
  if (baseline !== undefined) {
    console.log(
      `  ${"BullMQ 6.7 + Redis, undici worker".padEnd(52)} ${baseline.toFixed(0).padStart(6)} deliveries/s  ` +
        "(no attempt log; Redis here keeps nothing on disk)",
    );
  }
  const byWorkers = results.filter((r) => r.label.includes("PostgreSQL"));
  if (byWorkers.length > 1) {
    console.log(
      `  scaling: ${byWorkers.map((r) => `${(r.rate / byWorkers[0]!.rate).toFixed(2)}x`).join(" / ")} of 1 worker`,
    );
  }
}
