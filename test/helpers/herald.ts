import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { createHerald, type Herald, type HeraldOptions } from "../../src/index.js";
import { Receiver } from "./receiver.js";

export interface TestHerald {
  herald: Herald;
  /** Base URL of Herald's HTTP server on loopback. */
  url: string;
  dbPath: string;
  /** Creates an app and returns its id and master token. */
  createApp(name?: string): Promise<{ appId: string; token: string }>;
  /** Row counts straight from the database file, to prove a request changed nothing. */
  counts(): { events: number; deliveries: number; endpoints: number };
  close(): Promise<void>;
}

/** A real Herald on a fresh SQLite file, listening on a free loopback port. */
export async function startHerald(options: HeraldOptions = {}): Promise<TestHerald> {
  const dir = mkdtempSync(join(tmpdir(), "herald-test-"));
  const dbPath = join(dir, "herald.db");
  const herald = await createHerald({
    env: {},
    databaseUrl: `sqlite:${dbPath}`,
    host: "127.0.0.1",
    port: 0,
    logLevel: "silent",
    sqliteSynchronous: "normal",
    pollIntervalMs: 200,
    ...options,
  });
  const url = await herald.listen();
  return {
    herald,
    url,
    dbPath,
    async createApp(name = "test") {
      const { app, apiToken } = await herald.apps.create(name);
      return { appId: app.id, token: apiToken };
    },
    counts() {
      const db = new Database(dbPath, { readonly: true });
      try {
        const count = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
        return { events: count("events"), deliveries: count("deliveries"), endpoints: count("endpoints") };
      } finally {
        db.close();
      }
    },
    async close() {
      await herald.close();
      rmSync(dir, { recursive: true, force: true });
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
