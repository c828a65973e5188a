import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { type CliFixture, HERALD, RECEIVER_CLI, run, startCliFixture } from "./helpers/cli.js";
import { call, eventually, startHerald, type TestHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

/**
 * What a newcomer's review of the CLI found, each checked as users run it against a real Herald: trigger's
 * app_id, every profile and the flow-control options on endpoints, config --json, filter checks, typo
 * suggestions, help texts, herald-receiver's usage, and listen's lines.
 */

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("herald CLI: a newcomer's review, help texts and the lines it prints", { concurrency: 1 }, () => {
  let f: CliFixture;
  let h: TestHerald;
  let app: { appId: string; token: string };
  let receiver: Receiver;
  let env: Record<string, string>;
  const herald = (args: string[], extra: Record<string, string> = {}) => f.herald(args, extra);

  before(async () => {
    f = await startCliFixture({ herald: { listenGraceMs: 1500 } });
    ({ h, app, receiver, env } = f);
  });
  after(() => f.close());

  it("help texts: no doubled default, grammar, required options; herald-receiver's usage and profile alias", async () => {
    const trigger = await herald(["trigger", "--help"]);
    assert.doesNotMatch(trigger.stdout, /\(default 60\)/);
    assert.match(trigger.stdout, /\(default: 60\)/);
    assert.doesNotMatch((await herald(["endpoint", "rotate-secret", "--help"])).stdout, /keys stays/);
    const recover = await herald(["deliveries", "recover", "--help"]);
    assert.match(recover.stdout, /--endpoint <id> +\(required\)/);
    assert.match(recover.stdout, /--since <time> +\(required\)/);

    const bare = await run(RECEIVER_CLI, [], env);
    assert.equal(bare.code, 2);
    assert.equal(bare.stdout, "");
    assert.match(bare.stderr, /herald-receiver <command>/);
    const check = (profile: string) =>
      run(RECEIVER_CLI, ["check", receiver.url, "--profile", profile, "--secret", "s", "--timeout-ms", "2000"], env);
    const alias = await check("standard");
    assert.notEqual(alias.code, 2, alias.stderr);
    assert.doesNotMatch(alias.stderr, /--profile/);
    const wrong = await check("nope");
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--profile must be/);
  });

  it("trigger --wait on a delivery that fails: exit 1 and one stderr line naming it", async () => {
    // Sendbird's three attempts a few milliseconds apart, and no breaker holding the delivery pending.
    const fast = await startHerald({ retryDelayScale: 0.0001, endpointBreakerFailures: 1_000_000 });
    const broken = await Receiver.start(() => 503);
    try {
      const tenant = await fast.createApp();
      const created = await call(fast.url, "POST", "/v1/endpoints", {
        token: tenant.token,
        body: { url: broken.url, profile: "sendbird" },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const local = { HERALD_URL: fast.url, HERALD_API_TOKEN: tenant.token };
      const failing = await herald(["trigger", "user:block", "--wait"], local);
      assert.equal(failing.code, 1, failing.stdout);
      const lines = failing.stderr.split("\n").filter(Boolean);
      assert.equal(lines.length, 1, failing.stderr);
      assert.match(lines[0]!, new RegExp(`^failed: delivery \\S+ to ${created.body.id}$`));
    } finally {
      await broken.close();
      await fast.close();
    }
  });

  it("listen: a refused forward names its error class once; Ctrl-C says it stopped and removed the endpoint", async () => {
    const port = await closedPort();
    const child = spawn(process.execPath, [HERALD, "listen", "--forward-to", `http://127.0.0.1:${port}/hooks`], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    try {
      const ready = await eventually(() => /endpoint (\S+), session/.exec(out)?.[1], 15_000);
      await call(h.url, "POST", "/v1/events", {
        token: app.token,
        body: { category: "group_channel:message_send", payload: { message: "to nowhere" } },
      });
      const line = await eventually(() => out.split("\n").find((text) => text.includes("ERR")), 15_000);
      assert.match(line, /ERR refused/);
      assert.equal(line.match(/ECONNREFUSED/g)?.length ?? 0, 1, line);
      child.kill("SIGINT");
      assert.equal(await exited, 0);
      assert.match(out, new RegExp(`^stopped; endpoint ${ready} removed$`, "m"));
      assert.equal((await call(h.url, "GET", `/v1/endpoints/${ready}`, { token: app.token })).status, 404);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
