// Running the CLIs as users run them: the compiled bins, their exit code, stdout and stderr apart.
import assert from "node:assert/strict";
import { type SpawnOptions, spawn } from "node:child_process";
import { join } from "node:path";
import type { HeraldOptions } from "../../src/index.js";
import { call, startHerald, type TestHerald } from "./herald.js";
import { Receiver } from "./receiver.js";

export const HERALD = join(import.meta.dirname, "../../bin/herald.js");
export const RECEIVER_CLI = join(import.meta.dirname, "../../packages/receiver/bin/herald-receiver.js");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a bin to its end with this Node (see `runCommand`). */
export function run(bin: string, args: string[], env: Record<string, string>): Promise<Run> {
  return runCommand(process.execPath, [bin, ...args], { env });
}

/** Runs a command to its end (killed after 40 s, so a hang fails the test rather than the run). */
export function runCommand(command: string, args: string[], options: SpawnOptions): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 40_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `--json` output: exit 0 and stdout that parses as JSON. */
export function parsed(result: Run, what: string): any {
  assert.equal(result.code, 0, `${what}: exit code (stderr: ${result.stderr})`);
  try {
    return JSON.parse(result.stdout);
  } catch {
    assert.fail(`${what}: --json printed something that is not JSON: ${result.stdout}`);
  }
}

/** This process's environment without any HERALD_ setting, pointed at one Herald as one app. */
export function cliEnv(url: string, token: string): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("HERALD_") && value !== undefined) clean[name] = value;
  }
  return { ...clean, HERALD_URL: url, HERALD_API_TOKEN: token, NO_COLOR: "1" };
}

/** Runs `work` over `items`, `width` at a time. */
export async function inBatches<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(work));
}

/** One endpoint a CLI test starts with: its name in the test, wire format and filter. */
export type CliEndpoint = readonly [name: string, profile: string, filter: readonly string[]];

/**
 * What the CLI tests run against: a real Herald with one app (holding a Stream API key, so every
 * profile works), a receiver, the CLI's environment for that app, and the `endpoints` asked for,
 * by name. `herald(args)` runs the CLI as users do.
 */
export async function startCliFixture(options: { herald?: HeraldOptions; endpoints?: readonly CliEndpoint[] } = {}) {
  const h: TestHerald = await startHerald(options.herald);
  const app = await h.createApp();
  const receiver = await Receiver.start();
  const env = cliEnv(h.url, app.token);
  const key = await call(h.url, "POST", `/v1/apps/${app.appId}/keys`, {
    headers: { authorization: `Bearer ${h.adminToken}` },
  });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  const endpoints: Record<string, string> = {};
  for (const [name, profile, filter] of options.endpoints ?? []) {
    const created = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: receiver.url, profile, filter },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    endpoints[name] = created.body.id;
  }
  return {
    h,
    app,
    receiver,
    env,
    endpoints,
    herald: (args: string[], extra: Record<string, string> = {}) => run(HERALD, args, { ...env, ...extra }),
    async close() {
      await receiver.close();
      await h.close();
    },
  };
}

export type CliFixture = Awaited<ReturnType<typeof startCliFixture>>;

/** Chat, Calls and Stream endpoints, as the trigger and delivery tests use them. */
export const EVERY_PROFILE: readonly CliEndpoint[] = [
  ["chat", "sendbird", ["group_channel:*"]],
  ["calls", "sendbird-calls", ["*"]],
  ["stream", "stream", ["message.*"]],
];
