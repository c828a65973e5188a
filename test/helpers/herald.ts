import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { createHerald, type Herald, type HeraldOptions } from "../../src/index.js";
import { Receiver } from "./receiver.js";

/** Which store the suite runs against: `npm test` runs it once per store (see scripts/run-tests.js). */
export const TEST_STORE = process.env.HERALD_TEST_STORE === "postgres" ? "postgres" : "sqlite";
const POSTGRES_URL = process.env.HERALD_TEST_POSTGRES_URL ?? "postgres://root@127.0.0.1:5432/test";

/** A database of its own for one test: a temp SQLite file, or a fresh PostgreSQL schema. */
export interface TestDatabase {
  url: string;
  /** Row counts straight from the database, to prove a request changed nothing. */
  counts(): Promise<{ events: number; deliveries: number; endpoints: number }>;
  /** Holds write locks from another connection until the returned function is called. */
  lock(): Promise<() => Promise<void>>;
  /** Runs SQL (no parameters) from another connection: a row as another process would have left it. */
  exec(sql: string): Promise<void>;
  drop(): Promise<void>;
}

const COUNTED = ["events", "deliveries", "endpoints"] as const;

export function testDatabase(): TestDatabase {
  if (TEST_STORE === "postgres") {
    // The creation second in the name lets a later run drop only what is stale, not a concurrent run's schemas.
    const schema = `herald_t_${Math.floor(Date.now() / 1000)}_${randomBytes(6).toString("hex")}`;
    const url = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const withClient = async <T>(work: (client: pg.Client) => Promise<T>) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return await work(client);
      } finally {
        await client.end();
      }
    };
    return {
      url,
      counts: () =>
        withClient(async (client) => {
          // One query at a time: a pg client queues concurrent ones, and pg 9 will refuse them.
          const counts: number[] = [];
          for (const table of COUNTED) {
            counts.push(Number((await client.query(`SELECT COUNT(*) AS n FROM ${table}`)).rows[0].n));
          }
          return { events: counts[0]!, deliveries: counts[1]!, endpoints: counts[2]! };
        }),
      async lock() {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query("BEGIN");
        await client.query("LOCK TABLE events, endpoints IN ACCESS EXCLUSIVE MODE");
        return async () => {
          await client.query("ROLLBACK");
          await client.end();
        };
      },
      exec: (sql) => withClient(async (client) => void (await client.query(sql))),
      drop: async () => {
        // A Herald process still stopping may hold locks in another order than DROP takes them: a
        // deadlock picks the DROP as its victim, and trying again once that process is gone succeeds.
        for (let attempt = 1; ; attempt++) {
          try {
            return await withClient(
              async (client) => void (await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)),
            );
          } catch (error) {
            if ((error as { code?: string }).code !== "40P01" || attempt === 5) throw error;
            await sleep(500);
          }
        }
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), "herald-test-"));
  const path = join(dir, "herald.db");
  return {
    url: `sqlite:${path}`,
    async counts() {
      const db = new Database(path, { readonly: true });
      try {
        const count = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
        return { events: count("events"), deliveries: count("deliveries"), endpoints: count("endpoints") };
      } finally {
        db.close();
      }
    },
    async lock() {
      const db = new Database(path);
      db.exec("BEGIN IMMEDIATE");
      return async () => {
        db.exec("ROLLBACK");
        db.close();
      };
    },
    async exec(sql) {
      const db = new Database(path);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestHerald {
  herald: Herald;
  /** The deployment admin's token for this Herald. */
  adminToken: string;
  /** Base URL of Herald's HTTP server on loopback. */
  url: string;
  database: TestDatabase;
  /** Creates an app and returns its id and master token. */
  createApp(name?: string): Promise<{ appId: string; token: string }>;
  counts(): Promise<{ events: number; deliveries: number; endpoints: number }>;
  close(): Promise<void>;
}

/** What tests open in the SSRF guard (`HERALD_ALLOW_NETWORKS`): loopback, where their receivers listen. */
export const LOOPBACK_ALLOWED = ["127.0.0.0/8", "::1"];

/** Failures become dead letters within a second; no breaker or auto-disable holds them back as pending. */
export const QUICK_DEAD_LETTERS = {
  retryDelayScale: 0.01,
  autoDisableFailures: 0,
  autoDisableAfterMs: 0,
  endpointBreakerFailures: 1_000_000,
};

/** A real Herald on a fresh database of the store under test, listening on a free loopback port. */
export async function startHerald(options: HeraldOptions = {}): Promise<TestHerald> {
  const database = testDatabase();
  const adminToken = `admin-${randomBytes(16).toString("hex")}`;
  const herald = await createHerald({
    adminToken,
    env: {},
    databaseUrl: database.url,
    host: "127.0.0.1",
    port: 0,
    logLevel: "silent",
    sqliteSynchronous: "normal",
    pollIntervalMs: 200,
    // Test receivers listen on loopback, which the SSRF guard refuses unless told otherwise.
    allowNetworks: LOOPBACK_ALLOWED,
    ...options,
  });
  const url = await herald.listen();
  return {
    herald,
    adminToken,
    url,
    database,
    async createApp(name = "test") {
      const { app, apiToken } = await herald.apps.create(name);
      return { appId: app.id, token: apiToken };
    },
    counts: () => database.counts(),
    async close() {
      await herald.close();
      await database.drop();
    },
  };
}

/** A JSON request to Herald, returning status and parsed body. */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers["api-token"] = options.token;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers["content-type"] ??= "application/json";
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Points an app's Sendbird Chat webhook at a URL, subscribed to everything unless told otherwise. */
export async function configureChatWebhook(
  baseUrl: string,
  token: string,
  settings: Record<string, unknown>,
): Promise<void> {
  const { status, body } = await call(baseUrl, "PUT", "/v3/applications/settings/webhook", {
    token,
    body: { enabled: true, enabled_events: ["*"], ...settings },
  });
  if (status !== 200) throw new Error(`configuring webhook failed: ${status} ${JSON.stringify(body)}`);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A Herald, a receiver, and an app whose Chat webhook (all categories) points at the receiver. */
export async function startWithReceiver(
  options: HeraldOptions = {},
): Promise<{ h: TestHerald; receiver: Receiver; app: { appId: string; token: string } }> {
  const h = await startHerald(options);
  const receiver = await Receiver.start();
  const app = await h.createApp();
  await configureChatWebhook(h.url, app.token, { url: receiver.url });
  return { h, receiver, app };
}
