import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type SecretsOption, verifyWebhook } from "../packages/receiver/src/index.js";
import { call, eventually, sleep, startHerald, type TestHerald } from "./helpers/herald.js";

/**
 * `herald listen --forward-to`: a real Herald started here, the CLI as users run it, and a local
 * receiver that verifies every signature with the receiver kit and answers 401 when it does not hold.
 */

const BIN = join(import.meta.dirname, "../bin/herald.js");

interface Arrival {
  verified: boolean;
  body: string;
}

const openReceivers = new Set<() => Promise<void>>();

/** A local webhook receiver: the kit's verification, 201 with a body when it holds, 401 otherwise. */
async function verifyingReceiver(secrets: () => SecretsOption | undefined, answerAfterMs = 0) {
  const arrivals: Arrival[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      const body = Buffer.concat(chunks);
      const given = secrets();
      const verified = given !== undefined && verifyWebhook({ headers: request.headers, body }, { secrets: given }).ok;
      arrivals.push({ verified, body: body.toString("utf8") });
      if (answerAfterMs > 0) await sleep(answerAfterMs);
      response
        .writeHead(verified ? 201 : 401, { "content-type": "text/plain" })
        .end(verified ? "verified here" : "bad signature");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  // Closed after the suite even when a test fails half-way: an open server would keep the file running.
  openReceivers.add(close);
  return { url, arrivals, close };
}

/** `herald listen` as a child process; its stdout lines as they come. */
class Listener {
  readonly lines: string[] = [];
  stderr = "";
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;

  constructor(args: string[], env: Record<string, string>) {
    this.#child = spawn(process.execPath, [BIN, "listen", ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let partial = "";
    this.#child.stdout!.on("data", (chunk: Buffer) => {
      partial += chunk;
      const complete = partial.split("\n");
      partial = complete.pop()!;
      this.lines.push(...complete);
    });
    this.#child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => this.#child.on("close", resolve));
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** The first JSON line: the session. */
  session(): Promise<{ session_id: string; endpoint_id: string; secret: string | null }> {
    return eventually(() => (this.lines[0] ? JSON.parse(this.lines[0]) : undefined), 15_000);
  }

  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }
}

describe("herald listen --forward-to", { concurrency: 1 }, () => {
  let h: TestHerald;
  let app: { appId: string; token: string };
  let env: Record<string, string>;
  const running: Listener[] = [];

  before(async () => {
    h = await startHerald({ listenGraceMs: 1500 });
    app = await h.createApp();
    env = { HERALD_URL: h.url, HERALD_API_TOKEN: app.token, NO_COLOR: "1" };
  });
  after(async () => {
    for (const listener of running) listener.signal("SIGKILL");
    await Promise.allSettled([...openReceivers].map((close) => close()));
    await h.close();
  });
  const start = (args: string[]) => {
    const listener = new Listener(["--json", ...args], env);
    running.push(listener);
    return listener;
  };

  it("standard: forwards the signed bytes, the kit verifies them with the printed secret, and the log shows the local answer", async () => {
    let secret: string | undefined;
    const receiver = await verifyingReceiver(() => (secret ? { "standard-webhooks": secret } : undefined));
    const listener = start(["--forward-to", receiver.url, "--profile", "standard", "--events", "group_channel:*"]);
    const session = await listener.session();
    secret = session.secret!;
    assert.match(secret, /^whsec_/);

    const published = await call(h.url, "POST", "/v1/events", {
      token: app.token,
      body: { category: "group_channel:message_send", payload: { message: "über \u2028 🎉 a/b", message_id: 17 } },
    });
    assert.equal(published.status, 202);
    const line = await eventually(() => listener.lines.slice(1).find(Boolean), 15_000);
    const printed = JSON.parse(line);
    assert.equal(printed.type, "group_channel:message_send");
    assert.equal(printed.status, 201);
    assert.equal(typeof printed.latency_ms, "number");

    assert.equal(receiver.arrivals.length, 1);
    assert.equal(receiver.arrivals[0]!.verified, true, "the receiver kit verified the forwarded signature");
    assert.match(receiver.arrivals[0]!.body, /über \u2028 🎉 a\/b/);

    const delivery = await eventually(async () => {
      const listed = await call(h.url, "GET", `/v1/deliveries?event_id=${published.body.id}`, { token: app.token });
      const found = listed.body.deliveries[0];
      return found?.status === "succeeded" ? found : undefined;
    });
    assert.equal(delivery.endpoint_id, session.endpoint_id);
    assert.equal(delivery.attempt_log[0].status_code, 201);
    assert.equal(delivery.attempt_log[0].response_body, "verified here");

    // An event the filter leaves out never reaches the laptop.
    await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:unblock", payload: {} } });
    await sleep(500);
    assert.equal(receiver.arrivals.length, 1);

    listener.signal("SIGINT");
    assert.equal(await listener.exited, 0);
    const endpoint = await call(h.url, "GET", `/v1/endpoints/${session.endpoint_id}`, { token: app.token });
    assert.equal(endpoint.status, 404, "the temporary endpoint is removed on exit");
    await receiver.close();
  });

  it("sendbird: signed with the master token; a receiver that refuses the signature shows as 401 in the log", async () => {
    let secrets: SecretsOption | undefined = { sendbird: app.token };
    const receiver = await verifyingReceiver(() => secrets);
    const listener = start(["--forward-to", receiver.url, "--profile", "sendbird"]);
    const session = await listener.session();
    assert.equal(session.secret, null, "Sendbird signs with the app's master token, not a new secret");
    await call(h.url, "POST", "/v1/events", {
      token: app.token,
      body: { category: "group_channel:message_send", payload: {} },
    });
    await eventually(() => (receiver.arrivals.length === 1 ? true : undefined), 15_000);
    assert.equal(receiver.arrivals[0]!.verified, true);

    secrets = { sendbird: "not-the-token" };
    const published = await call(h.url, "POST", "/v1/events", {
      token: app.token,
      body: { category: "group_channel:message_send", payload: {} },
    });
    const attempt = await eventually(async () => {
      const got = await call(h.url, "GET", `/v1/deliveries?event_id=${published.body.id}`, { token: app.token });
      return got.body.deliveries[0]?.attempt_log[0];
    }, 15_000);
    assert.equal(attempt.status_code, 401);
    assert.equal(attempt.error_class, "status");
    assert.equal(attempt.response_body, "bad signature");
    listener.signal("SIGTERM");
    assert.equal(await listener.exited, 0);
    await receiver.close();
  });

  it("a session whose CLI vanished (kill -9) is removed after the grace period", async () => {
    const receiver = await verifyingReceiver(() => undefined);
    const listener = start(["--forward-to", receiver.url]);
    const session = await listener.session();
    listener.signal("SIGKILL");
    await listener.exited;
    await eventually(async () => {
      const got = await call(h.url, "GET", `/v1/endpoints/${session.endpoint_id}`, { token: app.token });
      return got.status === 404 ? true : undefined;
    }, 10_000);
    await receiver.close();
  });

  it("hostile input: another app's session is 404 on every route; a bad forward URL is a usage error", async () => {
    const receiver = await verifyingReceiver(() => undefined);
    const listener = start(["--forward-to", receiver.url]);
    const session = await listener.session();
    const other = await h.createApp("other");
    const path = `/v1/listen/${session.session_id}`;
    for (const [method, route, body] of [
      ["GET", `${path}/stream`, undefined],
      ["POST", `${path}/attempts/abc`, { status_code: 200 }],
      ["DELETE", path, undefined],
    ] as const) {
      const answer = await call(h.url, method, route, { token: other.token, ...(body ? { body } : {}) });
      assert.equal(answer.status, 404, `${method} ${route}`);
      assert.match(answer.body.error.message, /No listen session/);
    }
    listener.signal("SIGINT");
    await listener.exited;

    const bad = new Listener(["--forward-to", "ftp://example.com/x"], env);
    assert.equal(await bad.exited, 2);
    assert.match(bad.stderr, /--forward-to must be an http\(s\) URL/);
    await receiver.close();
  });

  it("a CLI that never reports: the attempt times out like an HTTP one", async () => {
    const local = await startHerald({ listenGraceMs: 1500 });
    try {
      const localApp = await local.createApp();
      // A session opened by hand whose stream is read but never answered.
      const created = await call(local.url, "POST", "/v1/listen", {
        token: localApp.token,
        body: { profile: "sendbird" },
      });
      assert.equal(created.status, 201);
      const controller = new AbortController();
      const stream = await fetch(`${local.url}/v1/listen/${created.body.id}/stream`, {
        headers: { "api-token": localApp.token },
        signal: controller.signal,
      });
      assert.equal(stream.status, 200);
      const started = Date.now();
      const published = await local.herald.publish(localApp.appId, {
        category: "group_channel:message_send",
        payload: {},
      });
      const attempt = await eventually(async () => {
        const got = await call(local.url, "GET", `/v1/deliveries?event_id=${published}`, { token: localApp.token });
        return got.body.deliveries[0]?.attempt_log[0];
      }, 30_000);
      assert.equal(attempt.error_class, "timeout");
      assert.equal(attempt.status_code, null);
      // Sendbird's deadline is the profile's own (seconds), not forever.
      assert.ok(Date.now() - started < 25_000);
      controller.abort();
    } finally {
      await local.close();
    }
  });
});
