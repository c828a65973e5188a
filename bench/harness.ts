// What the bench suites share: the receiver process, events, publishing, and Herald deployments.
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { Agent, request } from "undici";
import { sendbirdChatCatalog } from "../src/profiles/sendbird/index.js";
import { streamChatCatalog } from "../src/profiles/stream/index.js";
import { HeraldProcess, heraldCli } from "../test/helpers/process.js";
import { freePort } from "../test/helpers/receiver.js";
import { BATCH, LATENCY_SECONDS, POSTGRES_URL, values } from "./options.js";

export const wallClock = () => performance.timeOrigin + performance.now();
/** CPU time (user + system, all threads) a process has used so far, in seconds; Linux only (NaN elsewhere). */
export function cpuSeconds(pid: number): number {
  try {
    // Fields 14 and 15 of /proc/<pid>/stat, counted after the command name (which may hold spaces).
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}
/** Linux's USER_HZ, 100 on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

const sample = sendbirdChatCatalog.get("group_channel:message_send")!.sample;
export const event = (i: number) => ({
  ...sample,
  payload: { ...(sample.payload as object), message_id: i, sent_at: wallClock() },
});

/** The receiver process, driven over IPC. */
export class ReceiverProcess {
  #child: ChildProcess;
  #replies: ((message: any) => void)[] = [];
  port = 0;
  constructor(args: string[] = []) {
    this.#child = fork(join(import.meta.dirname, "receiver.ts"), args, { execArgv: ["--import", "tsx"] });
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

export type Profile = "sendbird" | "standard" | "stream" | "stream-gzip";

// Without its member list, about the size of the Sendbird sample (2.0 vs 1.6 KB), so 500 fit a batch.
const { members: _, ...streamSample } = streamChatCatalog.get("message.new")!.sample;
/** A Stream event carrying the same `payload.sent_at` stamp the receiver measures latency from. */
export const streamEvent = (i: number) => ({ ...streamSample, payload: { message_id: i, sent_at: wallClock() } });
export const isStream = (profile: Profile) => profile === "stream" || profile === "stream-gzip";
export const eventFor = (profile: Profile) => (isStream(profile) ? streamEvent : event);
export const PROFILES = values.profiles.split(",") as Profile[];
export const LABELS: Record<Profile, string> = {
  sendbird: "Sendbird",
  standard: "Standard Webhooks",
  stream: "Stream",
  "stream-gzip": "Stream gzip",
};
for (const profile of PROFILES) {
  if (!(profile in LABELS))
    throw new Error(`--profiles: no profile "${profile}"; known: ${Object.keys(LABELS).join(", ")}`);
}

/**
 * Publishes to one app as fast as Herald takes it until `stopAt` (wall clock), from a process of its
 * own so the flood's CPU does not delay the bench's timing. Resolves with the events published.
 */
export function flood(herald: HeraldProcess, token: string, stopAt: number): Promise<number> {
  const child = fork(join(import.meta.dirname, "flooder.ts"), [], { execArgv: ["--import", "tsx"] });
  return new Promise((resolve, reject) => {
    child.on("message", (message: { ready?: boolean; published?: number }) => {
      if (message.ready) child.send({ url: herald.url, token, batch: BATCH, connections: 4, stopAt });
      else resolve(message.published ?? 0);
    });
    child.once("exit", (code) => (code === 0 ? undefined : reject(new Error(`the flooder exited with ${code}`))));
  });
}

export async function publishAll(
  herald: HeraldProcess,
  token: string,
  total: number,
  offset: number,
  newEvent: (i: number) => object,
): Promise<number> {
  const agent = new Agent({ connections: 4 });
  const batches = Array.from({ length: Math.ceil(total / BATCH) }, (_, b) => b);
  let next = 0;
  let published = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < batches.length) {
        const b = batches[next++]!;
        const events = Array.from({ length: Math.min(BATCH, total - b * BATCH) }, (_, i) =>
          newEvent(offset + b * BATCH + i),
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
        published += events.length;
      }
    }),
  );
  await agent.close();
  return published;
}

/** Publishes at a steady rate in small batches for a few seconds; returns publish-to-receipt latencies. */
export async function steadyLatency(
  herald: HeraldProcess,
  token: string,
  receiver: ReceiverProcess,
  rate: number,
  newEvent: (i: number) => object,
) {
  await receiver.reset();
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  const ticks = Math.round((LATENCY_SECONDS * 1000) / tickMs);
  // Enough connections that a slow answer never queues the next publish in the client.
  const agent = new Agent({ connections: 256 });
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  const acknowledged: number[] = [];
  for (let t = 0; t < ticks; t++) {
    const events = Array.from({ length: perTick }, (_, i) => newEvent(t * perTick + i));
    const sentAt = performance.now();
    inFlight.push(
      request(`${herald.url}/v1/events/batch`, {
        method: "POST",
        dispatcher: agent,
        headers: { "content-type": "application/json", "api-token": token },
        body: JSON.stringify({ events }),
      }).then(async (response) => {
        await response.body.dump();
        acknowledged.push(performance.now() - sentAt);
      }),
    );
    const wait = started + (t + 1) * tickMs - performance.now();
    if (wait > 0) await sleep(wait);
  }
  await Promise.all(inFlight);
  await agent.close();
  await receiver.waitForCount(ticks * perTick, 60_000);
  return {
    rate: (ticks * perTick) / LATENCY_SECONDS,
    latencies: (await receiver.stats()).latencies,
    /** Publish-to-202 times, milliseconds: how much of the latency is ingestion. */
    acknowledged,
  };
}

export const peakRssMb = (pid: number) => {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
};

export interface Deployment {
  label: string;
  profile: Profile;
  /** The process publishes go to. */
  api: HeraldProcess;
  processes: HeraldProcess[];
  token: string;
  /** What the bare loop signs with: the master token (Sendbird) or the endpoint's whsec_ secret. */
  secret: string;
  stop(): Promise<void>;
}

/** Points the app at the receiver: Sendbird's settings API, or a Standard Webhooks endpoint. */
export async function configure(
  api: HeraldProcess,
  token: string,
  profile: Profile,
  receiverUrl: string,
): Promise<string> {
  const headers = { "content-type": "application/json", "api-token": token };
  if (profile === "sendbird") {
    const put = await fetch(`${api.url}/v3/applications/settings/webhook`, {
      method: "PUT",
      headers,
      body: JSON.stringify({ enabled: true, url: receiverUrl, enabled_events: ["*"] }),
    });
    if (!put.ok) throw new Error(`configuring the webhook failed: ${put.status}`);
    return token;
  }
  // Stream endpoints sign with the app's API key: make one, and sign the bare loop with its secret.
  const key = isStream(profile)
    ? ((await (await fetch(`${api.url}/v1/keys`, { method: "POST", headers: { "api-token": token } })).json()) as {
        api_secret: string;
      })
    : undefined;
  const endpoint = isStream(profile)
    ? { url: receiverUrl, profile: "stream", options: { compress: profile === "stream-gzip" } }
    : { url: receiverUrl, profile: "standard" };
  const created = await fetch(`${api.url}/v1/endpoints`, { method: "POST", headers, body: JSON.stringify(endpoint) });
  if (created.status !== 201) throw new Error(`creating the endpoint failed: ${created.status}`);
  return key?.api_secret ?? ((await created.json()) as { secret: string }).secret;
}

/** A database of its own for one deployment: a SQLite file in a temp directory, or a PostgreSQL schema. */
export function freshDatabase(store: "sqlite" | "postgres"): { databaseUrl: string; drop(): Promise<void> } {
  if (store === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "herald-bench-"));
    return {
      databaseUrl: `sqlite:${join(dir, "herald.db")}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `herald_bench_${randomBytes(4).toString("hex")}`;
  return {
    databaseUrl: `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}

/** SQLite: one process doing everything. PostgreSQL: one API process and `workers` worker processes. */
export async function deploy(
  store: "sqlite" | "postgres",
  workers: number,
  profile: Profile,
  receiverUrl: string,
): Promise<Deployment> {
  const { databaseUrl, drop: dropDatabase } = freshDatabase(store);
  const env = { HERALD_DATABASE_URL: databaseUrl, HERALD_LOG_LEVEL: values["log-level"] };
  const roles = store === "sqlite" ? ["all"] : ["api", ...Array.from({ length: workers }, () => "worker")];
  const processes = await Promise.all(
    roles.map(async (role) => new HeraldProcess({ ...env, HERALD_ROLE: role }, await freePort())),
  );
  for (const process of processes) await process.start();
  const api = processes[0]!;
  const { api_token: token } = JSON.parse(await heraldCli(["app", "create", "--name", "bench", "--json"], env, api));
  const secret = await configure(api, token, profile, receiverUrl);
  await sleep(1100); // every worker's endpoint cache sees the webhook
  const where =
    store === "sqlite" ? "SQLite (1 process)" : `PostgreSQL (api + ${workers} worker${workers > 1 ? "s" : ""})`;
  return {
    label: `Herald ${LABELS[profile]} on ${where}`,
    profile,
    api,
    processes,
    token,
    secret,
    async stop() {
      await Promise.all(processes.map((p) => p.stop()));
      await dropDatabase();
    },
  };
}

/** One round: publish EVENTS as fast as Herald takes them; deliveries/s from the first publish to the last receipt. */
