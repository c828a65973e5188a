import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { WIRE_FORMATS } from "../src/profiles/registry.js";
import { type CliFixture, parsed, startCliFixture } from "./helpers/cli.js";
import { call, type TestHerald } from "./helpers/herald.js";
import type { Receiver } from "./helpers/receiver.js";

/**
 * What a newcomer's review of the CLI found, each checked as users run it against a real Herald: trigger's
 * app_id, every profile and the flow-control options on endpoints, config --json, filter checks, typo
 * suggestions, help texts, herald-receiver's usage, and listen's lines.
 */

describe("herald CLI: a newcomer's review", { concurrency: 1 }, () => {
  let f: CliFixture;
  let h: TestHerald;
  let app: { appId: string; token: string };
  let receiver: Receiver;
  const herald = (args: string[], extra: Record<string, string> = {}) => f.herald(args, extra);

  before(async () => {
    f = await startCliFixture({ herald: { listenGraceMs: 1500 } });
    ({ h, app, receiver } = f);
  });
  after(() => f.close());

  it("trigger sends the sample with the app's own app_id, with an app token and with --app", async () => {
    const created = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: receiver.url, profile: "sendbird", filter: ["group_channel:message_send"] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const admin = { HERALD_API_TOKEN: "", HERALD_ADMIN_TOKEN: h.adminToken };
    for (const [how, args, extra] of [
      ["an app token", [], {}],
      ["the admin token with --app", ["--app", app.appId], admin],
    ] as const) {
      const before = receiver.requests.length;
      const result = parsed(
        await herald(["trigger", "group_channel:message_send", "--wait", "--json", ...args], extra),
        `trigger with ${how}`,
      );
      assert.equal(result.deliveries[0]?.status, "succeeded", JSON.stringify(result));
      const bodies = receiver.requests.slice(before).map((request) => JSON.parse(request.raw.toString("utf8")));
      assert.equal(bodies.length, 1);
      assert.equal(bodies[0].app_id, app.appId, `with ${how}: the delivered body's app_id`);
    }
    await call(h.url, "DELETE", `/v1/endpoints/${created.body.id}`, { token: app.token });
  });

  it("endpoint create takes every queued profile of the registry, and the flow-control options; get and list show them", async () => {
    const help = await herald(["endpoint", "create", "--help"]);
    for (const format of WIRE_FORMATS.filter((f) => !f.synchronous)) {
      assert.match(help.stdout, new RegExp(`"${format.id}"`), `--profile offers ${format.id}`);
    }
    const stream = parsed(
      await herald(["endpoint", "create", "--url", receiver.url, "--profile", "stream", "--json"]),
      "endpoint create --profile stream",
    );
    assert.equal(stream.profile, "stream");

    const created = parsed(
      await herald([
        "endpoint",
        "create",
        "--url",
        receiver.url,
        "--profile",
        "sendbird",
        "--rate-limit",
        "50",
        "--max-concurrency",
        "4",
        "--retry-policy",
        "durable",
        "--json",
      ]),
      "endpoint create with flow control",
    );
    const stored = await call(h.url, "GET", `/v1/endpoints/${created.id}`, { token: app.token });
    assert.equal(stored.body.rate_limit, 50);
    assert.equal(stored.body.max_concurrency, 4);
    assert.equal(stored.body.retry_policy, "durable");

    const shown = await herald(["endpoint", "get", created.id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^breaker: +closed$/m);
    assert.match(shown.stdout, /^rate_limit: +50\/s$/m);
    assert.match(shown.stdout, /^max_concurrency: +4$/m);
    assert.match(shown.stdout, /^retry_policy: +durable$/m);
    // Every value starts in one column, the longest label's.
    const columns = shown.stdout
      .trimEnd()
      .split("\n")
      .filter((text) => /^[a-z_ ]+: /.test(text))
      .map((text) => text.length - text.slice(text.indexOf(":") + 1).trimStart().length);
    assert.equal(new Set(columns).size, 1, shown.stdout);
    const listed = await herald(["endpoint", "list"]);
    const line = listed.stdout.split("\n").find((text) => text.startsWith(created.id));
    assert.match(line ?? "", /breaker closed, 50\/s, 4 at once/);

    const updated = parsed(
      await herald(["endpoint", "update", created.id, "--rate-limit", "none", "--max-concurrency", "2", "--json"]),
      "endpoint update",
    );
    assert.equal(updated.rate_limit, null);
    assert.equal(updated.max_concurrency, 2);
    assert.equal((await herald(["endpoint", "update", created.id, "--rate-limit", "0"])).code, 2);
    assert.equal((await herald(["endpoint", "update", created.id, "--retry-policy", "forever"])).code, 2);

    // Disabled by Herald itself: the reason shows.
    const disabled = await call(h.url, "PATCH", `/v1/endpoints/${created.id}`, {
      token: app.token,
      body: { enabled: false },
    });
    assert.equal(disabled.status, 200);
    assert.match((await herald(["endpoint", "get", created.id])).stdout, /^enabled: +no$/m);
  });

  it("config --json prints the settings as JSON, secrets masked", async () => {
    for (const args of [
      ["config", "--json"],
      ["--json", "config"],
    ]) {
      const settings = parsed(await herald(args), args.join(" "));
      assert.deepEqual(settings.HERALD_API_TOKEN, { value: "(set)", from_environment: true });
      assert.equal(settings.HERALD_URL.value, h.url);
      assert.ok(!JSON.stringify(settings).includes(app.token), "no secret printed");
    }
  });

  it("deliveries list: a reversed window is a usage error in the CLI's names; an unknown type a warning", async () => {
    const reversed = await herald(["deliveries", "list", "--since", "1m", "--until", "2m"]);
    assert.equal(reversed.code, 2);
    assert.match(reversed.stderr, /--since must be earlier than --until/);
    assert.doesNotMatch(reversed.stderr, /created_after|created_before/);

    const unknown = await herald(["deliveries", "list", "--type", "nope:x"]);
    assert.equal(unknown.code, 0, unknown.stderr);
    assert.match(unknown.stderr, /warning: no event type "nope:x" in Herald's catalog/);
    assert.equal(unknown.stdout, "no deliveries\n");
    const typo = await herald(["deliveries", "list", "--type", "group_channel:mesage_send"]);
    assert.match(typo.stderr, /did you mean group_channel:message_send/);
    const known = await herald(["deliveries", "list", "--type", "group_channel:message_send"]);
    assert.equal(known.stderr, "");
  });

  it("trigger's suggestions for a typo come closest first", async () => {
    const typo = await herald(["trigger", "group_channel:mesage_send"]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /did you mean group_channel:message_send[,?]/);
  });
});
