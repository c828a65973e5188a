import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { InboxOption } from "../src/index.js";

/** The inbox kind under test follows the suite's store pass: SQLite first, then PostgreSQL. */
export const TEST_STORE = process.env.HERALD_TEST_STORE === "postgres" ? "postgres" : "sqlite";
export const POSTGRES_URL = process.env.HERALD_TEST_POSTGRES_URL ?? "postgres://root@127.0.0.1:5432/test";

export interface TestInbox {
  option: InboxOption;
  /** The same inbox as the CLI names it: `sqlite:<path>` or `postgres://…?schema=<schema>`. */
  spec: string;
  drop(): Promise<void>;
}

/** An inbox of its own for one test: a temp SQLite file, or a fresh schema (named so the runner sweeps leftovers). */
export function testInbox(): TestInbox {
  if (TEST_STORE === "postgres") {
    // The creation second in the name lets a later run drop only what is stale, not a concurrent run's schemas.
    const schema = `herald_t_${Math.floor(Date.now() / 1000)}_${randomBytes(6).toString("hex")}`;
    return {
      option: { postgres: POSTGRES_URL, schema },
      spec: `${POSTGRES_URL}?schema=${schema}`,
      async drop() {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), "herald-inbox-"));
  const path = join(dir, "inbox.db");
  return {
    option: { sqlite: path },
    spec: `sqlite:${path}`,
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Serves a request listener on a free loopback port. */
export async function serve(listener: RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

import { eventually, sleep } from "../../../test/helpers/herald.js";

export { eventually, sleep };

/**
 * A Node process (run through tsx) that prints `listening <url>` once it serves: the receiver
 * fixture or the `herald-receiver` CLI. A test can kill -9 it; `output` keeps what it printed.
 */
export class ListeningProcess {
  output = "";
  url = "";
  #child: ChildProcess | undefined;

  constructor(
    readonly args: string[],
    readonly env: Record<string, string> = {},
  ) {}

  async start(timeoutMs = 20_000): Promise<string> {
    const child = spawn(process.execPath, ["--import", "tsx", ...this.args], {
      env: { ...process.env, ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    child.stdout!.on("data", (chunk: Buffer) => (this.output += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (this.output += chunk));
    this.url = await eventually(() => {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${this.output}`);
      return /listening (\S+)/.exec(this.output)?.[1];
    }, timeoutMs);
    return this.url;
  }

  /** SIGKILL: no shutdown hook, exactly like a crash. */
  kill9(): Promise<void> {
    return this.#signal("SIGKILL");
  }

  /** SIGTERM, then SIGKILL if it has not exited within 10 s. */
  async stop(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#signal("SIGTERM"), new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
    clearTimeout(timer);
    await this.kill9();
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await exited;
  }
}
