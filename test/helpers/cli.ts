// Running the CLIs as users run them: the compiled bins, their exit code, stdout and stderr apart.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";

export const HERALD = join(import.meta.dirname, "../../bin/herald.js");
export const RECEIVER_CLI = join(import.meta.dirname, "../../packages/receiver/bin/herald-receiver.js");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a bin to its end (killed after 40 s, so a hang fails the test rather than the run). */
export function run(bin: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
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
