import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { StreamChat } from "stream-chat";
import { type Run, runCommand } from "./helpers/cli.js";
import { call, sleep, startHerald, type TestHerald, testDatabase } from "./helpers/herald.js";
import { freePort, refusingUrl } from "./helpers/receiver.js";

/** The `herald` command as users run it. */
const BIN = join(import.meta.dirname, "../bin/herald.js");
const VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, "../package.json"), "utf8")) as { version: string })
  .version;

/** The test runner's environment without any HERALD_* setting, and with a home of its own. */
function cleanEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("HERALD_") && value !== undefined) env[name] = value;
  }
  return { ...env, HOME: home, XDG_CONFIG_HOME: join(home, ".config") };
}

/** A failed command: one line on stderr, nothing on stdout, exit code 1, never a stack trace. */
function assertOneLineError(result: Run, pattern: RegExp): void {
  assert.equal(result.code, 1, `exit code (stderr: ${result.stderr})`);
  assert.equal(result.stdout, "");
  const lines = result.stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, `stderr is one line: ${result.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /^\s+at |Error:|node:internal/m);
}

/** `--json` output: exactly one JSON document on stdout, nothing on stderr. */
function json(result: Run): any {
  assert.equal(result.code, 0, `exit code (stderr: ${result.stderr})`);
  assert.equal(result.stderr, "");
  assert.match(result.stdout, /^\{.*\}\n$/, "one line of JSON and nothing else");
  return JSON.parse(result.stdout);
}

// The client commands and the serve process run side by side: each spawn costs a Node start.
describe("herald CLI", { concurrency: 2 }, () => {
  describe("herald CLI: a client of the HTTP API, run from a directory of its own", { concurrency: 1 }, () => {
    let h: TestHerald;
    /** Where the CLI runs: a fresh directory, not the repository. */
    let cwd: string;
    let home: string;
    let env: Record<string, string>;
    const herald = (args: string[], extra: Record<string, string> = {}) =>
      runCommand(process.execPath, [BIN, ...args], { env: { ...env, ...extra }, cwd });

    before(async () => {
      h = await startHerald();
      cwd = mkdtempSync(join(tmpdir(), "herald-cli-cwd-"));
      home = mkdtempSync(join(tmpdir(), "herald-cli-home-"));
      env = { ...cleanEnv(home), HERALD_URL: h.url, HERALD_ADMIN_TOKEN: h.adminToken };
    });
    after(async () => {
      await h?.close();
      rmSync(cwd, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    });

    it("creates, lists and shows apps with the admin token; the printed master token works against the API", async () => {
      const created = json(await herald(["app", "create", "--name", "demo", "--json"]));
      assert.match(created.id, /^[0-9A-F-]{36}$/);
      assert.equal(created.name, "demo");
      assert.match(created.api_token, /^[0-9a-f]{40}$/);
      assert.equal((await call(h.url, "GET", "/v1/endpoints", { token: created.api_token })).status, 200);

      const [listed, shown, human, missing, text] = await Promise.all([
        herald(["app", "list", "--json"]),
        herald(["app", "get", created.id, "--json"]),
        herald(["app", "list"]),
        herald(["app", "get", "no-such-app"]),
        herald(["app", "create", "--name", "shown"]),
      ]);
      assert.ok(json(listed).apps.some((app: { id: string }) => app.id === created.id));
      assert.deepEqual(json(shown), {
        id: created.id,
        name: "demo",
        created_at: created.created_at,
        publish_rate_limit: null,
      });
      assert.equal(human.code, 0);
      assert.match(human.stdout, new RegExp(`${created.id}.*demo`));
      assertOneLineError(missing, /^error: No app "no-such-app"\.$/);
      assert.equal(text.code, 0);
      assert.match(text.stdout, /api_token: +[0-9a-f]{40}\n.*shown only this once/);
    });

    it("creates, lists and revokes an app's Stream API keys; the printed pair authenticates stream-chat", async () => {
      const app = json(await herald(["app", "create", "--name", "keys", "--json"]));
      const first = json(await herald(["app", "keys", "create", app.id, "--json"]));
      assert.deepEqual(Object.keys(first).sort(), ["api_key", "api_secret", "created_at"]);
      assert.match(first.api_key, /^[a-z0-9]{12}$/);
      assert.match(first.api_secret, /^[a-z0-9]{64}$/);
      const client = new StreamChat(first.api_key, first.api_secret, { baseURL: h.url });
      assert.equal(((await client.getAppSettings()) as { app: { name: string } }).app.name, "keys");
      const second = json(await herald(["app", "keys", "create", app.id, "--json"]));
      const listed = json(await herald(["app", "keys", "list", app.id, "--json"]));
      assert.deepEqual(
        listed.keys.map((key: { api_key: string; signing: boolean }) => [key.api_key, key.signing]),
        [
          [second.api_key, true],
          [first.api_key, false],
        ],
      );
      const human = await herald(["app", "keys", "list", app.id]);
      assert.ok(!human.stdout.includes(first.api_secret) && !human.stdout.includes(second.api_secret));
      assert.equal(json(await herald(["app", "keys", "revoke", app.id, first.api_key, "--json"])).revoked, true);
      await assert.rejects(client.getAppSettings(), /api_key not valid/);
      assertOneLineError(await herald(["app", "keys", "revoke", app.id, first.api_key]), /^error: No API key/);
    });

    it("manages endpoints with an app token, and with the admin token plus --app", async () => {
      const app = await h.createApp("endpoints");
      const withToken = ["--token", app.token];
      const created = json(
        await herald([
          "endpoint",
          "create",
          "--url",
          "http://127.0.0.1:9/hooks",
          "--filter",
          "group_channel:*,user:block",
          "--header",
          "X-Team=core",
          "--description",
          "first",
          "--json",
          ...withToken,
        ]),
      );
      assert.match(created.id, /^ep_/);
      assert.match(created.secret, /^whsec_/);
      assert.deepEqual(created.filter, ["group_channel:*", "user:block"]);
      assert.deepEqual(created.headers, { "x-team": "core" });
      // It is in the API, for this app.
      const fetched = await call(h.url, "GET", `/v1/endpoints/${created.id}`, { token: app.token });
      assert.equal(fetched.status, 200);
      assert.equal(fetched.body.url, "http://127.0.0.1:9/hooks");

      // The admin token acts for the app named by --app (or HERALD_APP_ID).
      const asAdmin = ["--app", app.appId];
      const [listed, updated, rotated, human] = await Promise.all([
        herald(["endpoint", "list", "--json", ...withToken]),
        herald(["endpoint", "update", created.id, "--disable", "--description", "second", "--json", ...withToken]),
        herald(["endpoint", "rotate-secret", created.id, "--overlap", "60", "--json", ...withToken]),
        herald(["endpoint", "create", "--url", "http://127.0.0.1:9/other", ...asAdmin]),
      ]);
      assert.ok(json(listed).endpoints.some((e: { id: string }) => e.id === created.id));
      const changed = json(updated);
      assert.equal(changed.enabled, false);
      assert.equal(changed.description, "second");
      assert.equal(changed.url, "http://127.0.0.1:9/hooks", "fields not given keep their values");
      const secret = json(rotated);
      assert.match(secret.secret, /^whsec_/);
      assert.notEqual(secret.secret, created.secret);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /secret: +whsec_\S+\n.*shown only this once/);
      const other = /^id: +(ep_\w+)$/m.exec(human.stdout)?.[1];
      assert.ok(other, human.stdout);

      const [viaEnv, enabled] = await Promise.all([
        herald(["endpoint", "list", "--json"], { HERALD_APP_ID: app.appId }),
        herald(["endpoint", "update", created.id, "--enable", "--json", ...asAdmin]),
      ]);
      assert.deepEqual(
        json(viaEnv)
          .endpoints.map((e: { id: string }) => e.id)
          .sort(),
        [created.id, other].sort(),
      );
      assert.equal(json(enabled).enabled, true);

      const [gone, deleted] = await Promise.all([
        herald(["endpoint", "delete", created.id, "--json", ...withToken]),
        herald(["endpoint", "delete", other, ...asAdmin]),
      ]);
      assert.deepEqual(json(gone), { id: created.id, deleted: true });
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal(deleted.stdout, `deleted endpoint ${other}\n`);
      assert.equal((await call(h.url, "GET", "/v1/endpoints", { token: app.token })).body.endpoints.length, 0);
      assertOneLineError(await herald(["endpoint", "get", created.id, ...asAdmin]), /^error: No endpoint "ep_\w+"\.$/);
    });

    it("a token created with --scope publish is refused an endpoint create: one error line, exit code 1", async () => {
      const app = await h.createApp("tokens");
      const token = json(await herald(["token", "create", "--scope", "publish", "--json", "--token", app.token]));
      assert.deepEqual(token.scopes, ["publish"]);
      assert.match(token.token, /^[0-9a-f]{40}$/);

      const [refused, listed] = await Promise.all([
        herald(["endpoint", "create", "--url", "http://127.0.0.1:9/x", "--token", token.token]),
        herald(["token", "list", "--json", "--app", app.appId]),
      ]);
      assertOneLineError(refused, /^error: This action needs a token with the "manage" scope\.$/);
      // The refusal is the API's: 403, and nothing was created.
      const direct = await call(h.url, "POST", "/v1/endpoints", {
        token: token.token,
        body: { url: "http://x.test/" },
      });
      assert.equal(direct.status, 403);
      assert.equal((await call(h.url, "GET", "/v1/endpoints", { token: app.token })).body.endpoints.length, 0);
      assert.ok(json(listed).tokens.some((t: { id: string }) => t.id === token.id));
      const revoked = await herald(["token", "revoke", token.id, "--token", app.token]);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.equal((await call(h.url, "GET", "/v1/deliveries", { token: token.token })).status, 401);
    });

    it("fails in one line: Herald unreachable, no admin token, no app credential", async () => {
      const unreachable = new URL(await refusingUrl()).origin;
      const [refused, noAdmin, noApp] = await Promise.all([
        herald(["app", "list"], { HERALD_URL: unreachable }),
        runCommand(process.execPath, [BIN, "app", "list", "--json"], {
          env: { ...cleanEnv(home), HERALD_URL: h.url },
          cwd,
        }),
        herald(["endpoint", "list"]),
      ]);
      assert.equal(
        refused.stderr,
        `error: cannot reach Herald at ${unreachable}: connection refused — is it running? (herald serve)\n`,
      );
      assertOneLineError(refused, /cannot reach Herald/);
      assertOneLineError(noAdmin, /^error: no admin token: set HERALD_ADMIN_TOKEN or run herald serve once/);
      assertOneLineError(noApp, /^error: no app credential: pass --token/);
    });

    it("prints its version, and its configuration without secrets and without an EPIPE on a closed pipe", async () => {
      const shell = (pipeline: string) =>
        runCommand("sh", ["-c", `"${process.execPath}" "${BIN}" config ${pipeline}`], {
          env: { ...env, HERALD_PORT: "9999" },
          cwd,
        });
      const [version, config, head, closed] = await Promise.all([
        herald(["--version"]),
        herald(["config"], {
          HERALD_PORT: "9999",
          HERALD_DATABASE_URL: "postgres://herald:pa%24%24word@db:5432/herald",
        }),
        shell("| head -1"),
        shell("| true"),
      ]);
      assert.equal(version.stdout, `${VERSION}\n`);
      assert.equal(config.code, 0, config.stderr);
      assert.match(config.stdout, /^HERALD_PORT=9999 +# from the environment$/m);
      assert.match(config.stdout, /^HERALD_ROLE=all$/m);
      assert.match(config.stdout, /^HERALD_ADMIN_TOKEN=\(set\) +# from the environment$/m);
      assert.ok(!config.stdout.includes(h.adminToken), "the admin token is never printed");
      assert.match(
        config.stdout,
        /^HERALD_DATABASE_URL=postgres:\/\/herald:\*\*\*@db:5432\/herald +# from the environment$/m,
      );
      assert.ok(!config.stdout.includes("pa%24%24word"), "nor the database password");
      assert.equal(head.stdout.split("\n").length, 2, "one line");
      assert.equal(head.stderr, "");
      assert.equal(closed.stderr, "", "nothing on stderr when the reader went away");
    });

    it("never creates ./data (or anything else) in the directory it runs in", () => {
      assert.equal(existsSync(join(cwd, "data")), false);
    });
  });

  describe("herald serve and the admin token file", () => {
    let child: ChildProcess | undefined;
    const dir = mkdtempSync(join(tmpdir(), "herald-cli-serve-"));
    const database = testDatabase();
    after(async () => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it("writes a generated admin token (0600) that `app create` on the same machine then uses", async () => {
      const tokenFile = join(dir, "config", "herald", "admin-token");
      const url = `http://127.0.0.1:${await freePort()}`;
      const env = {
        ...cleanEnv(dir),
        HERALD_ADMIN_TOKEN_FILE: tokenFile,
        HERALD_DATABASE_URL: database.url,
        HERALD_HOST: "127.0.0.1",
        HERALD_PORT: new URL(url).port,
        HERALD_LOG_LEVEL: "info",
        HERALD_SQLITE_SYNCHRONOUS: "normal",
      };
      const serve = spawn(process.execPath, [BIN, "serve"], { env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
      child = serve;
      let output = "";
      serve.stdout.on("data", (chunk: Buffer) => (output += chunk));
      serve.stderr.on("data", (chunk: Buffer) => (output += chunk));
      const deadline = Date.now() + 40_000;
      for (;;) {
        assert.equal(serve.exitCode, null, `serve exited: ${output}`);
        const healthy = await fetch(`${url}/healthz`).then(
          (response) => response.ok,
          () => false,
        );
        if (healthy) break;
        assert.ok(Date.now() < deadline, `serve did not start: ${output}`);
        await sleep(50);
      }

      assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, "config", "herald")).mode & 0o777, 0o700);
      assert.match(readFileSync(tokenFile, "utf8"), /^[0-9a-f]{64}\n$/);
      assert.ok(output.includes(tokenFile), `serve says where the token is: ${output}`);

      // The client: same machine, same user, no token in its environment, run from another directory.
      const elsewhere = mkdtempSync(join(dir, "client-"));
      const created = json(
        await runCommand(process.execPath, [BIN, "app", "create", "--name", "local", "--json"], {
          env: { ...cleanEnv(dir), HERALD_ADMIN_TOKEN_FILE: tokenFile, HERALD_PORT: env.HERALD_PORT },
          cwd: elsewhere,
        }),
      );
      assert.equal((await call(url, "GET", "/v1/endpoints", { token: created.api_token })).status, 200);
      assert.equal(existsSync(join(elsewhere, "data")), false);

      // SIGTERM closes Herald cleanly.
      const exited = new Promise<number | null>((resolve) => serve.once("exit", (code) => resolve(code)));
      process.kill(serve.pid!, "SIGTERM");
      assert.equal(await exited, 0);
    });

    it("a database it cannot reach is named as the database, on one line, exit 1", async () => {
      const closed = new URL(await refusingUrl()).port;
      const result = await runCommand(process.execPath, [BIN, "serve"], {
        env: {
          ...cleanEnv(dir),
          HERALD_ADMIN_TOKEN: "unreachable-database-test",
          HERALD_DATABASE_URL: `postgres://root:secret@127.0.0.1:${closed}/test`,
          HERALD_HOST: "127.0.0.1",
          HERALD_PORT: closed,
        },
        cwd: dir,
      });
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, /cannot open the database \(HERALD_DATABASE_URL, postgres\): .*ECONNREFUSED/);
      assert.ok(!`${result.stdout}${result.stderr}`.includes("secret"), "the password is not shown");
    });
  });
});
