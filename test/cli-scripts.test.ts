import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Command } from "commander";
import { buildProgram } from "../src/cli/program.js";
import {
  type CliFixture,
  EVERY_PROFILE,
  HERALD,
  inBatches,
  parsed,
  RECEIVER_CLI,
  run,
  runCommand,
  startCliFixture,
} from "./helpers/cli.js";
import { call, eventually, startHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

/**
 * The CLI's newer commands (trigger, deliveries, events, completion) and its contract with scripts:
 * `--json` that parses, `--help` that exits 0 on every command, usage errors that exit 2. A real Herald
 * started here, the CLI run as users run it.
 */

/** Every command path of a commander tree: [] for the root, ["deliveries", "list"], … */
function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return [prefix, ...command.commands.flatMap((child) => commandPaths(child, [...prefix, child.name()]))];
}

describe("herald CLI: --help everywhere, completion, recover as scripts see it", { concurrency: 1 }, () => {
  let f: CliFixture;
  let env: Record<string, string>;
  const herald = (args: string[]) => f.herald(args);

  before(async () => {
    f = await startCliFixture({ endpoints: EVERY_PROFILE });
    ({ env } = f);
  });
  after(() => f.close());

  it("--help exits 0 on every command and subcommand, for herald and herald-receiver", async () => {
    const paths = commandPaths(buildProgram());
    assert.ok(paths.length > 30, `walked ${paths.length} commands`);
    await inBatches(paths, 4, async (path) => {
      const result = await herald([...path, "--help"]);
      assert.equal(result.code, 0, `herald ${path.join(" ")} --help: ${result.stderr}`);
      assert.match(result.stdout, /^Usage: herald/);
    });
    for (const path of [[], ["notifier"], ["dead-letters"], ["check"]]) {
      const result = await run(RECEIVER_CLI, [...path, "--help"], env);
      assert.equal(result.code, 0, `herald-receiver ${path.join(" ")} --help: ${result.stderr}`);
      assert.match(result.stdout, /herald-receiver/);
    }
    // `help` is a command of every level that has subcommands, walked above; the paths below must be among them.
    for (const path of [["help"], ["app", "help"], ["deliveries", "help"]]) {
      assert.ok(
        paths.some((walked) => walked.join(" ") === path.join(" ")),
        `${path.join(" ")} is not in the walked tree`,
      );
    }
    const described = await herald(["help", "deliveries"]);
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /^Usage: herald deliveries/);
    assert.equal((await herald(["help", "no-such-command"])).code, 2);
    // `help` walks a path of names, as `--help` after them does; required options say so.
    const nested = await herald(["help", "app", "keys"]);
    assert.equal(nested.code, 0, nested.stderr);
    assert.match(nested.stdout, /^Usage: herald app keys/);
    assert.equal((await herald(["help", "app", "no-such-command"])).code, 2);
    assert.match((await herald(["app", "create", "--help"])).stdout, /--name <name> +\(required\)/);
    assert.match((await herald(["endpoint", "create", "--help"])).stdout, /--url <url> +\(required\)/);
    for (const cli of [HERALD, RECEIVER_CLI]) {
      const version = await run(cli, ["--version"], env);
      assert.equal(version.code, 0, `${cli} --version: ${version.stderr}`);
      assert.match(version.stdout, /^\d+\.\d+\.\d+/);
    }
    assert.equal((await run(RECEIVER_CLI, ["no-such-command"], env)).code, 2);
    assert.equal((await run(RECEIVER_CLI, ["check"], env)).code, 2);
    // A notifier with secrets but no channel to notify through is a usage error that says what to set.
    const noChannel = await run(RECEIVER_CLI, ["notifier", "--port", "0"], {
      ...env,
      HERALD_RECEIVER_SECRETS: "a-secret",
    });
    assert.equal(noChannel.code, 2, noChannel.stderr);
    assert.match(noChannel.stderr, /no notification channel: set HERALD_RECEIVER_SMTP_URL/);
  });

  it("completion bash|zsh: scripts from the command tree that complete subcommands", async () => {
    const script = await herald(["completion", "bash"]);
    assert.equal(script.code, 0);
    const dir = mkdtempSync(join(tmpdir(), "herald-completion-"));
    writeFileSync(join(dir, "herald.bash"), script.stdout);
    const completed = await new Promise<string>((resolve, reject) => {
      const bash = spawn("bash", [
        "-c",
        `source ${join(dir, "herald.bash")}; COMP_WORDS=(herald deliveries ""); COMP_CWORD=2; _herald; echo "\${COMPREPLY[@]}"`,
      ]);
      let out = "";
      bash.stdout.on("data", (chunk: Buffer) => (out += chunk));
      bash.on("error", reject);
      bash.on("close", () => resolve(out));
    });
    for (const word of ["list", "get", "tail", "resend", "recover"])
      assert.match(completed, new RegExp(`\\b${word}\\b`));
    const zsh = await herald(["completion", "zsh"]);
    assert.equal(zsh.code, 0);
    assert.match(zsh.stdout, /bashcompinit/);
  });

  it("a duration reaching before 1970, or past any date, is a usage error before any request", async () => {
    for (const since of ["99999999d", "999999999999999999999999999d", "20000000000000s"]) {
      for (const args of [
        ["deliveries", "recover", "--endpoint", "ep_x", "--since", since],
        ["deliveries", "list", "--since", since],
      ]) {
        const result = await herald(args);
        assert.equal(result.code, 2, `${args.join(" ")}: ${result.stdout}`);
        assert.match(result.stderr, /before 1970/);
      }
    }
  });

  it("deliveries recover, piped, prints only its final line; its --json is the finished recovery", async () => {
    // Dead letters are the point: no breaker may hold the failing deliveries back as pending.
    const fast = await startHerald({ retryDelayScale: 0.01, endpointBreakerFailures: 1_000_000 });
    let up = false;
    const flaky = await Receiver.start(() => (up ? 200 : 503));
    try {
      const tenant = await fast.createApp();
      const created = await call(fast.url, "POST", "/v1/endpoints", {
        token: tenant.token,
        body: { url: flaky.url, profile: "sendbird" },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const events = Array.from({ length: 40 }, (_, n) => ({ category: "user:block", n }));
      await call(fast.url, "POST", "/v1/events/batch", { token: tenant.token, body: { events } });
      await eventually(async () => {
        const failed = await call(fast.url, "GET", "/v1/deliveries?status=failed&limit=100", { token: tenant.token });
        return failed.body.deliveries.length === 40 ? true : undefined;
      }, 30_000);
      up = true;
      const local = { ...env, HERALD_URL: fast.url, HERALD_API_TOKEN: tenant.token };
      const args = ["deliveries", "recover", "--endpoint", created.body.id, "--since", "10m"];
      const human = await run(HERALD, args, local);
      assert.equal(human.code, 0, human.stderr);
      // Piped: no progress lines, only the final one, which says what was sent (not how it fared).
      assert.match(human.stdout, /^recovery \S+ done: 40 failed deliveries of \S+ sent again\n$/);
      await flaky.waitFor(40 * 3 + 40);
      // A second recovery of the same window finds them delivered: nothing failed is left.
      const again = parsed(await run(HERALD, [...args, "--json"], local), "deliveries recover --json");
      assert.equal(again.status, "succeeded");
      assert.equal(again.recovered, 0);
    } finally {
      await flaky.close();
      await fast.close();
    }
  });
});

describe("herald CLI: start-up", () => {
  it("loads none of the server's packages for a command that only calls the API", async () => {
    // A module hook that names every package the CLI process resolves.
    const dir = mkdtempSync(join(tmpdir(), "herald-cli-imports-"));
    const hooks = join(dir, "hooks.mjs");
    writeFileSync(
      hooks,
      'export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write("resolved " + r.url + "\\n"); return r; }',
    );
    const register = join(dir, "register.mjs");
    writeFileSync(register, `import { register } from "node:module"; register(${JSON.stringify(`file://${hooks}`)});`);
    for (const args of [["--help"], ["endpoint", "create", "--help"], ["app", "list", "--url", "http://127.0.0.1:9"]]) {
      const result = await runCommand(process.execPath, ["--import", register, HERALD, ...args], { env: process.env });
      const packages = new Set(
        [...result.stderr.matchAll(/^resolved .*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)].map((match) => match[1]),
      );
      assert.ok(packages.has("commander"), `the hook saw the CLI's own packages: ${[...packages]}`);
      const heavy = ["fastify", "typebox", "undici", "jose", "better-sqlite3", "pg", "pino"].filter((name) =>
        packages.has(name),
      );
      assert.deepEqual(heavy, [], `herald ${args.join(" ")} loaded ${heavy.join(", ")}`);
    }
  });

  it("herald migrate says how many schema steps it applied, and then that there were none", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-migrate-"));
    const env = { ...process.env, HERALD_DATABASE_URL: `sqlite:${join(dir, "herald.db")}` };
    const first = await runCommand(process.execPath, [HERALD, "migrate"], { env });
    assert.equal(first.code, 0, first.stderr);
    const applied = /^applied (\d+) schema steps; schema up to date \(version (\d+)\)$/m.exec(first.stdout);
    assert.ok(applied, first.stdout);
    assert.equal(applied[1], applied[2], "a new database takes every step");
    const second = await runCommand(process.execPath, [HERALD, "migrate"], { env });
    assert.equal(second.stdout.trim(), `schema already up to date (version ${applied[2]})`);
  });
});
