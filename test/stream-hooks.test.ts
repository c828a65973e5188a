import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { StreamChat } from "stream-chat";
import type { HeraldError } from "../src/core/errors.js";
import { call, eventually, startHerald, type TestHerald } from "./helpers/herald.js";
import { refusingUrl } from "./helpers/receiver.js";

interface HookRequest {
  url: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
}
type Answer = { status?: number; body?: unknown; raw?: string; delayMs?: number };

/** A hook server on loopback that answers JSON, as a customer's before-send or command handler does. */
class HookServer {
  readonly requests: HookRequest[] = [];
  answer: (request: HookRequest) => Answer = () => ({ body: {} });
  #server: Server;
  url = "";
  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const request = { url: req.url ?? "", headers: req.headers, raw: Buffer.concat(chunks) };
        this.requests.push(request);
        const { status = 200, body, raw, delayMs = 0 } = this.answer(request);
        setTimeout(() => {
          if (res.destroyed) return;
          res.writeHead(status, { "content-type": "application/json" }).end(raw ?? JSON.stringify(body ?? {}));
        }, delayMs);
      });
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }
  json(index: number): Record<string, any> {
    return JSON.parse(this.requests[index]!.raw.toString("utf8"));
  }
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

const message = (text: string) => ({
  id: "",
  text,
  type: "regular",
  attachments: [],
  mentioned_users: [],
  silent: false,
});
const input = (text: string) => ({
  message: message(text),
  user: { id: "alice", role: "user" },
  channel: { cid: "messaging:general", type: "messaging", id: "general" },
  request_info: { type: "client", ip: "10.0.0.7" },
});

describe("Stream's synchronous hooks: before-message-send and custom commands", () => {
  let h: TestHerald;
  let app: { appId: string; token: string };
  let client: StreamChat;
  let hook: HookServer;

  before(async () => {
    h = await startHerald({ hookBreakerFailures: 3, hookBreakerCoolDownMs: 400 });
    app = await h.createApp("stream");
    const key = (await call(h.url, "POST", "/v1/keys", { token: app.token })).body;
    client = new StreamChat(key.api_key, key.api_secret, { baseURL: h.url });
    hook = await new HookServer().start();
    await client.updateAppSettings({
      before_message_send_hook_url: `${hook.url}/before`,
      custom_action_handler_url: `${hook.url}/commands/{type}?via=herald`,
    } as never);
  });
  after(() => Promise.all([h.close(), hook.close()]));

  const send = (text: string) => h.herald.beforeMessageSend(app.appId, input(text));

  it("sends the signed request and takes only the fields a hook may change", async () => {
    hook.answer = () => ({
      body: {
        message: {
          text: "card number ****",
          id: "forged",
          html: "<b>x</b>",
          user: { id: "mallory" },
          priority: "high",
        },
      },
    });
    const start = hook.requests.length;
    const result = await send("card number 1234 1234 1234 1234");
    assert.equal(result.outcome, "modified");
    assert.equal(result.message.text, "card number ****");
    assert.equal(result.message.priority, "high", "a custom field is taken");
    assert.equal(result.message.id, "", "built-in fields are not");
    assert.equal(result.message.html, undefined);
    assert.equal(result.message.user, undefined);
    const request = hook.requests[start]!;
    assert.equal(request.url, "/before");
    assert.equal(client.verifyWebhook(request.raw, String(request.headers["x-signature"])), true);
    assert.equal(request.headers["x-api-key"], (client as any).key);
    const body = hook.json(start);
    assert.deepEqual(Object.keys(body).sort(), ["channel", "message", "request_info", "user"]);
    assert.equal(body.message.id, "");
  });

  it("rejects on type error, accepts an empty or unchanged answer", async () => {
    hook.answer = () => ({ body: { message: { type: "error", text: "this message did not meet our guidelines" } } });
    const rejected = await send("spam");
    assert.deepEqual(rejected, {
      outcome: "rejected",
      message: message("spam"),
      error: "this message did not meet our guidelines",
    });
    hook.answer = () => ({ body: {} });
    assert.deepEqual(await send("hello"), { outcome: "accepted", message: message("hello") });
    hook.answer = (request) => ({ body: JSON.parse(request.raw.toString("utf8")) });
    assert.deepEqual(await send("echo"), { outcome: "accepted", message: message("echo") });
  });

  it("fails open on a non-2xx, an unparsable answer, a refused connection and a timeout", async () => {
    for (const [answer, reason] of [
      [{ status: 500 }, /status 500/],
      [{ status: 404 }, /status 404/],
      [{ raw: "<html>oops" }, /not JSON/],
    ] as const) {
      hook.answer = () => answer;
      const result = await send("hi");
      assert.equal(result.outcome, "failed_open", JSON.stringify(answer));
      assert.equal(result.message.before_message_send_failed, true);
      assert.equal(result.message.text, "hi");
      assert.match((result as { reason: string }).reason, reason);
      hook.answer = () => ({ body: {} });
      assert.equal((await send("reset")).outcome, "accepted", "a success resets the failure count");
    }
    await client.updateAppSettings({ before_message_send_hook_attempt_timeout_ms: 150 } as never);
    hook.answer = () => ({ delayMs: 1000, body: {} });
    const started = performance.now();
    const slow = await eventually(() => send("slow"));
    const took = performance.now() - started;
    assert.equal(slow.outcome, "failed_open");
    assert.match((slow as { reason: string }).reason, /timeout/);
    assert.ok(took < 150 + 500 + 300, `answered in ${Math.round(took)} ms`);
    hook.answer = () => ({ body: {} });
    assert.equal((await send("reset")).outcome, "accepted");
    await client.updateAppSettings({ before_message_send_hook_url: await refusingUrl() } as never);
    const refused = await send("nobody home");
    assert.equal(refused.outcome, "failed_open");
    await client.updateAppSettings({
      before_message_send_hook_url: `${hook.url}/before`,
      before_message_send_hook_attempt_timeout_ms: 0,
    } as never);
    assert.equal((await send("reset")).outcome, "accepted");
  });

  it("opens the breaker after repeated failures, skips the hook, then probes and closes", async () => {
    hook.answer = () => ({ status: 503 });
    const start = hook.requests.length;
    for (let i = 0; i < 3; i++) assert.equal((await send(`down ${i}`)).outcome, "failed_open");
    assert.equal(hook.requests.length, start + 3);
    const skipped = await send("skipped");
    assert.equal(skipped.outcome, "failed_open");
    assert.match((skipped as { reason: string }).reason, /circuit breaker open/);
    assert.equal(hook.requests.length, start + 3, "an open breaker does not call the hook");
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    assert.match(metrics, /herald_sync_hook_breakers_open 1/);
    hook.answer = () => ({ body: {} });
    await new Promise((resolve) => setTimeout(resolve, 450));
    assert.equal((await send("probe")).outcome, "accepted");
    assert.equal(hook.requests.length, start + 4, "one probe after the cool-down");
    assert.match(await (await fetch(`${h.url}/metrics`)).text(), /herald_sync_hook_breakers_open 0/);
  });

  it("never leaves the breaker stuck: a call that cannot be written is no probe, and a new URL starts afresh", async () => {
    hook.answer = () => ({ status: 500 });
    for (let i = 0; i < 3; i++) await send(`down ${i}`);
    assert.match((await send("skipped")).outcome === "failed_open" ? "open" : "", /open/);
    await new Promise((resolve) => setTimeout(resolve, 450));
    // Nested past what JSON.stringify can write: in-process callers can hand anything over.
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 20_000; i++) deep = { deep };
    const unwritable = await h.herald.beforeMessageSend(app.appId, { ...input("deep"), message: { text: "x", deep } });
    assert.equal(unwritable.outcome, "failed_open");
    assert.match((unwritable as { reason: string }).reason, /could not be written/);
    hook.answer = () => ({ body: {} });
    assert.equal((await send("probe after cool-down")).outcome, "accepted", "the probe was still there to take");
    hook.answer = () => ({ status: 500 });
    for (let i = 0; i < 3; i++) await send(`down again ${i}`);
    const start = hook.requests.length;
    await client.updateAppSettings({ before_message_send_hook_url: `${hook.url}/before-v2` } as never);
    hook.answer = () => ({ body: {} });
    assert.equal((await send("new url")).outcome, "accepted", "a new URL is not held by the old one's breaker");
    assert.equal(hook.requests.at(-1)!.url, "/before-v2");
    assert.equal(hook.requests.length, start + 1);
    // Back on the old URL, its breaker is still open from the failures above: it probes after the cool-down.
    await client.updateAppSettings({ before_message_send_hook_url: `${hook.url}/before` } as never);
    assert.match(((await send("old url")) as { reason?: string }).reason ?? "", /circuit breaker open/);
    await new Promise((resolve) => setTimeout(resolve, 450));
    assert.equal((await send("old url, probed")).outcome, "accepted");
  });

  it("fails open on an answer that is JSON but not an object", async () => {
    for (const raw of ["[1,2]", "null", '"ok"', "42"]) {
      hook.answer = () => ({ raw });
      const result = await send("odd answer");
      assert.equal(result.outcome, "failed_open", raw);
      assert.match((result as { reason: string }).reason, /not a JSON object/);
      // A good answer between them, so the breaker stays closed.
      hook.answer = () => ({ body: {} });
      assert.equal((await send("reset")).outcome, "accepted");
    }
    hook.answer = () => ({ body: {} });
    assert.equal((await send("reset")).outcome, "accepted");
  });

  it("logs every call with its outcome and latency in the delivery log", async () => {
    const endpointId = `ep_stream-before-send_${app.appId}`;
    const logged = await eventually(async () => {
      const { body } = await call(h.url, "GET", `/v1/deliveries?endpoint_id=${endpointId}&limit=500`, {
        token: app.token,
      });
      return body.deliveries.length >= 10 ? body.deliveries : undefined;
    });
    const states = new Set(logged.map((delivery: { status: string }) => delivery.status));
    assert.deepEqual([...states].sort(), ["failed", "succeeded"]);
    for (const delivery of logged) {
      assert.equal(delivery.type, "before_message_send");
      assert.equal(delivery.attempt_log.length, 1);
      assert.equal(typeof delivery.attempt_log[0].duration_ms, "number");
    }
  });

  it("answers over HTTP to a publish-only token, in the native format for bad input", async () => {
    const token = (await call(h.url, "POST", "/v1/tokens", { token: app.token, body: { scopes: ["publish"] } })).body
      .token;
    hook.answer = () => ({ body: { message: { text: "changed" } } });
    const answered = await call(h.url, "POST", "/v1/hooks/before-message-send", { token, body: input("original") });
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    assert.deepEqual([answered.body.outcome, answered.body.message.text], ["modified", "changed"]);
    const bad = await call(h.url, "POST", "/v1/hooks/before-message-send", { token, body: { message: "x" } });
    assert.equal(bad.status, 400);
    assert.equal(typeof bad.body.error.message, "string");
    const other = await h.createApp("other");
    const elsewhere = await call(h.url, "POST", "/v1/hooks/before-message-send", {
      token: other.token,
      body: input("x"),
    });
    assert.deepEqual(
      elsewhere.body,
      { outcome: "accepted", message: message("x") },
      "another app has no hook: its own settings apply",
    );
  });

  it("runs custom commands: {type} substitution, messages, ephemeral MML, drop", async () => {
    hook.answer = (request) => ({
      body: { message: { text: `ran ${request.url}`, type: "ephemeral", mml: "<mml><button>OK</button></mml>" } },
    });
    const start = hook.requests.length;
    const ran = await h.herald.runCommand(app.appId, {
      message: { text: "/ticket suspicious transaction 1234" },
      user: { id: "alice" },
      form_data: { action: "submit" },
    });
    assert.equal(ran.outcome, "message");
    assert.equal(ran.message?.type, "ephemeral");
    assert.equal(ran.message?.mml, "<mml><button>OK</button></mml>");
    assert.equal(hook.requests[start]!.url, "/commands/ticket?via=herald");
    const sent = hook.json(start);
    assert.deepEqual(
      [sent.message.command, sent.message.args, sent.form_data],
      ["ticket", "suspicious transaction 1234", { action: "submit" }],
    );
    assert.equal(
      client.verifyWebhook(hook.requests[start]!.raw, String(hook.requests[start]!.headers["x-signature"])),
      true,
    );
    await h.herald.runCommand(app.appId, { message: { text: "x", command: "Ticket_2-x" }, user: { id: "alice" } });
    assert.equal(hook.requests.at(-1)!.url, "/commands/Ticket_2-x?via=herald");
    hook.answer = () => ({ body: { message: null } });
    assert.deepEqual(await h.herald.runCommand(app.appId, { message: { text: "/giphy" }, user: { id: "a" } }), {
      outcome: "dropped",
      message: null,
    });
  });

  it("refuses command names that are not names (., .., slashes), before calling the handler", async () => {
    const start = hook.requests.length;
    for (const command of ["..", ".", "a/b", "x y", "", 7]) {
      const over = await call(h.url, "POST", "/v1/hooks/commands", {
        token: app.token,
        body: { message: { text: "/x", command }, user: { id: "a" } },
      });
      assert.equal(over.status, 400, JSON.stringify(command));
      assert.equal(typeof over.body.error.message, "string");
    }
    await assert.rejects(
      h.herald.runCommand(app.appId, { message: { text: "/.. up" }, user: { id: "a" } }),
      /not a command name/,
    );
    assert.equal(hook.requests.length, start, "the handler was never called");
  });

  it("fails with Stream's 45 when the handler fails and 44 when there is none, in-process and over HTTP", async () => {
    hook.answer = () => ({ status: 500 });
    await assert.rejects(
      h.herald.runCommand(app.appId, { message: { text: "/ticket" }, user: { id: "a" } }),
      (error: HeraldError) => error.details.vendorCode === 45,
    );
    const failed = await call(h.url, "POST", "/v1/hooks/commands", {
      token: app.token,
      body: { message: { text: "/ticket" }, user: { id: "a" } },
    });
    assert.deepEqual([failed.status, failed.body.code, failed.body.StatusCode], [400, 45, 400]);
    assert.match(failed.body.message, /^RunCommand failed with error: "Custom Command handler returned an error/);
    await client.updateAppSettings({ custom_action_handler_url: "" } as never);
    await assert.rejects(
      h.herald.runCommand(app.appId, { message: { text: "/ticket" }, user: { id: "a" } }),
      (error: HeraldError) => error.details.vendorCode === 44,
    );
    const missing = await call(h.url, "POST", "/v1/hooks/commands", {
      token: app.token,
      body: { message: { text: "/ticket" }, user: { id: "a" } },
    });
    assert.deepEqual([missing.status, missing.body.code], [400, 44]);
  });
});
