import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { sleep } from "./herald.js";

const BIN = join(import.meta.dirname, "../../bin/herald.js");

/** The admin token every test process runs with, unless its env names another. */
export const TEST_ADMIN_TOKEN = "test-admin-token-for-herald-processes";

/** Runs a `herald` CLI command to completion against a running Herald and returns what it printed. */
export async function heraldCli(args: string[], env: Record<string, string>, target?: HeraldProcess): Promise<string> {
  const client = target ? { HERALD_URL: target.url, HERALD_ADMIN_TOKEN: target.adminToken } : {};
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env, ...client },
  });
  return stdout;
}

/** `herald serve` as a separate OS process, so a test can kill -9 it. */
export class HeraldProcess {
  #child: ChildProcess | undefined;
  output = "";

  constructor(
    readonly env: Record<string, string>,
    readonly port: number,
    /** What to run instead of this checkout's `herald serve` (the bench runs an earlier commit's). */
    readonly command: string[] = [BIN, "serve"],
  ) {}

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get adminToken(): string {
    return this.env.HERALD_ADMIN_TOKEN ?? TEST_ADMIN_TOKEN;
  }

  /** A start takes about 5 s here; on a loaded 2-core machine, several starting at once took over 15 s. */
  async start(timeoutMs = 40_000): Promise<void> {
    const child = spawn(process.execPath, this.command, {
      env: {
        ...process.env,
        HERALD_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
        // Test and bench receivers listen on loopback, which the SSRF guard refuses unless told otherwise.
        HERALD_ALLOW_NETWORKS: "127.0.0.0/8,::1",
        ...this.env,
        HERALD_PORT: String(this.port),
        HERALD_HOST: "127.0.0.1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk: Buffer) => (this.output += chunk));
    child.stderr?.on("data", (chunk: Buffer) => (this.output += chunk));
    this.#child = child;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`herald exited with ${child.exitCode}: ${this.output}`);
      try {
        if ((await fetch(`${this.url}/healthz`)).ok) return;
      } catch {}
      await sleep(50);
    }
    throw new Error(`herald did not start in ${timeoutMs} ms: ${this.output}`);
  }

  /** SIGKILL: no shutdown hook, no flush, exactly like a crash. */
  async kill9(): Promise<void> {
    await this.#signal("SIGKILL");
  }

  async stop(): Promise<void> {
    await this.#signal("SIGTERM");
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await exited;
  }
}
