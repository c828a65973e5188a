import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type CliFixture, EVERY_PROFILE, HERALD, inBatches, parsed, run, startCliFixture } from "./helpers/cli.js";
import { call, eventually, type TestHerald } from "./helpers/herald.js";
import type { Receiver } from "./helpers/receiver.js";

/**
 * The CLI's newer commands (trigger, deliveries, events, completion) and its contract with scripts:
 * `--json` that parses, `--help` that exits 0 on every command, usage errors that exit 2. A real Herald
 * started here, the CLI run as users run it.
 */

describe("herald CLI: trigger, deliveries, events, and what scripts rely on", { concurrency: 1 }, () => {
  let f: CliFixture;
  let h: TestHerald;
  let app: { appId: string; token: string };
  let receiver: Receiver;
  let env: Record<string, string>;
  let endpoints: Record<string, string>;
  const herald = (args: string[]) => f.herald(args);

  before(async () => {
    f = await startCliFixture({ endpoints: EVERY_PROFILE });
    ({ h, app, receiver, env, endpoints } = f);
  });
  after(() => f.close());

  for (const [vendor, type, set, endpoint, expected] of [
    [
      "a Sendbird Chat",
      "group_channel:message_send",
      "payload.message=hi from the CLI",
      "chat",
      '"message":"hi from the CLI"',
    ],
    ["a Sendbird Calls", "direct_call:dial", "direct_call.call_id=call-from-cli", "calls", '"call_id":"call-from-cli"'],
    ["a Stream", "message.new", "message.text=hi stream", "stream", '"text":"hi stream"'],
  ] as const) {
    it(`trigger publishes the catalog's sample of ${vendor} type with --set, and --wait prints the outcome`, async () => {
      const before = receiver.requests.length;
      const result = parsed(await herald(["trigger", type, "--set", set, "--wait", "--json"]), `trigger ${type}`);
      assert.match(result.id, /^evt_/);
      const mine = result.deliveries.filter((d: { endpoint_id: string }) => d.endpoint_id === endpoints[endpoint]);
      assert.equal(mine.length, 1, JSON.stringify(result.deliveries));
      assert.equal(mine[0].status, "succeeded");
      assert.equal(mine[0].attempt_log[0].status_code, 200);
      const bodies = receiver.requests.slice(before).map((request) => request.raw.toString("utf8"));
      assert.ok(
        bodies.some((body) => body.includes(expected)),
        `the override reached the receiver: ${bodies.join("\n")}`,
      );
    });
  }

  it("trigger: human output is the event id; --file publishes a file; an unknown type is a usage error", async () => {
    const plain = await herald(["trigger", "group_channel:message_send"]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^evt_\S+\n$/);

    const dir = mkdtempSync(join(tmpdir(), "herald-trigger-"));
    const file = join(dir, "event.json");
    writeFileSync(
      file,
      JSON.stringify({ category: "group_channel:message_send", payload: { message: "from a file" } }),
    );
    const fromFile = parsed(
      await herald(["trigger", "--file", file, "--set", "payload.extra=7", "--json"]),
      "trigger --file",
    );
    const event = parsed(await herald(["events", "get", fromFile.id, "--json"]), "events get");
    assert.equal(event.type, "group_channel:message_send");
    assert.deepEqual(event.payload.payload, { message: "from a file", extra: 7 });

    const unknown = await herald(["trigger", "group_channel:no_such_thing"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no event type "group_channel:no_such_thing".*did you mean/);
    assert.equal((await herald(["trigger"])).code, 2);
    const nothingClose = await herald(["trigger", "zzzzzzzzzzzz"]);
    assert.match(nothingClose.stderr, /herald trigger --list shows them/);

    // --list: every type there is a sample of, by vocabulary; Herald's own events are raised by Herald only.
    const listed = await herald(["trigger", "--list"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^sendbird \(category\)$/m);
    assert.match(listed.stdout, /^ {2}group_channel:message_send +\S/m);
    assert.match(listed.stdout, /^ {2}message\.new +\S/m);
    assert.doesNotMatch(listed.stdout, /herald\.endpoint\.disabled/);
    const catalog = parsed(await herald(["trigger", "--list", "--json"]), "trigger --list --json");
    assert.ok(catalog.vocabularies.length >= 2);
  });

  it("deliveries tail shows a new delivery within a second", async () => {
    const child = spawn(process.execPath, [HERALD, "deliveries", "tail", "--json"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk));
    try {
      assert.ok((await h.counts()).deliveries > 0, "earlier tests made deliveries: the history tail must not print");
      // It says when its first poll (history, not printed) is done.
      await eventually(() => (err.includes("following the delivery log") ? true : undefined), 20_000);
      assert.equal(out, "", "history is not printed");
      const published = await call(h.url, "POST", "/v1/events", {
        token: app.token,
        body: { category: "group_channel:message_send", payload: { message: "tail me" } },
      });
      const at = Date.now();
      const line = await eventually(() => out.split("\n").find((text) => text.includes(published.body.id)), 5000);
      const elapsed = Date.now() - at;
      assert.ok(elapsed <= 1000, `shown after ${elapsed} ms`);
      assert.equal(JSON.parse(line).event_id, published.body.id);
      for (const text of out.split("\n").filter(Boolean)) JSON.parse(text);
    } finally {
      child.kill("SIGINT");
    }
  });

  it("every read command's --json parses", async () => {
    const events = parsed(await herald(["events", "list", "--json"]), "events list");
    assert.ok(events.events.length > 0);
    const deliveries = parsed(
      await herald(["deliveries", "list", "--json", "--endpoint", endpoints.chat!]),
      "deliveries list",
    );
    assert.ok(deliveries.deliveries.length > 0);
    const one = deliveries.deliveries[0];
    const reads = [
      ["deliveries", "list", "--json", "--status", "succeeded", "--limit", "2"],
      ["deliveries", "get", one.id, "--json"],
      ["deliveries", "resend", one.id, "--json"],
      ["events", "get", one.event_id, "--json"],
      ["endpoint", "list", "--json"],
      ["endpoint", "get", endpoints.stream!, "--json"],
      ["token", "list", "--json"],
      ["--json", "events", "list", "--limit", "1"],
    ];
    await inBatches(reads, 4, async (args) => {
      parsed(await herald(args), args.join(" "));
    });
    // As text: an event shows where it went; an app shows its publish rate.
    const eventText = await herald(["events", "get", one.event_id]);
    assert.equal(eventText.code, 0, eventText.stderr);
    assert.match(
      eventText.stdout,
      new RegExp(`^delivery: +${one.id}  ${one.status}  ${one.endpoint_id}  attempts \\d+$`, "m"),
    );
    const admin = { ...env, HERALD_ADMIN_TOKEN: h.adminToken };
    const appText = await run(HERALD, ["app", "get", app.appId], admin);
    assert.match(appText.stdout, /^publish_rate_limit: +the deployment's default$/m);
    // An app's own limit is set, shown and given back to the default.
    const limited = await run(HERALD, ["app", "update", app.appId, "--publish-rate-limit", "250"], admin);
    assert.equal(limited.code, 0, limited.stderr);
    assert.match(limited.stdout, /^publish_rate_limit: +250 events\/s$/m);
    assert.equal(
      (await call(h.url, "GET", `/v1/apps/${app.appId}`, { token: h.adminToken })).body.publish_rate_limit,
      250,
    );
    const restored = await run(
      HERALD,
      ["app", "update", app.appId, "--publish-rate-limit", "default", "--json"],
      admin,
    );
    assert.equal(JSON.parse(restored.stdout).publish_rate_limit, null);
    const wrong = await run(HERALD, ["app", "update", app.appId, "--publish-rate-limit", "0"], admin);
    assert.equal(wrong.code, 2, "an out-of-range limit is a usage error");
    assert.match(wrong.stderr, /integer >= 1, or default/);
    for (const args of [
      ["app", "list", "--json"],
      ["app", "get", app.appId, "--json"],
      ["app", "keys", "list", app.appId, "--json"],
    ]) {
      parsed(await run(HERALD, args, admin), args.join(" "));
    }
  });

  it("exit codes: 0 ok, 1 when the API refuses, 2 for a usage error", async () => {
    assert.equal((await herald(["deliveries", "get", "no-such-delivery"])).code, 1);
    assert.equal((await herald(["events", "get", "evt_nope"])).code, 1);
    assert.equal((await herald(["no-such-command"])).code, 2);
    assert.equal((await herald(["deliveries"])).code, 2);
    assert.equal((await herald(["deliveries", "list", "--status", "lost"])).code, 2);
    assert.equal((await herald(["deliveries", "list", "--since", "yesterday"])).code, 2);
    assert.equal((await herald(["completion", "fish"])).code, 2);
  });
});
