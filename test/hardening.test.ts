import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { Webhook } from "standardwebhooks";
import { createHerald } from "../src/index.js";
import { capturedLogger } from "./helpers/capture.js";
import {
  call,
  configureChatWebhook,
  eventually,
  sleep,
  startHerald,
  TEST_STORE,
  type TestHerald,
} from "./helpers/herald.js";
import { HeraldProcess } from "./helpers/process.js";
import { freePort, Receiver } from "./helpers/receiver.js";

/** A POST with a body of raw bytes, as a client that builds its own JSON would send it. */
async function postRaw(url: string, token: string, body: string | Buffer, method = "POST") {
  const response = await fetch(url, {
    method,
    headers: { "api-token": token, "content-type": "application/json" },
    body,
  });
  const text = await response.text();
  return { status: response.status, text, body: text ? JSON.parse(text) : undefined };
}

describe("JSON: numbers exactly as published, bounded nesting, UTF-8 only", () => {
  let h: TestHerald;
  let chat: Receiver;
  let standard: Receiver;
  let app: { appId: string; token: string };
  let secret: string;
  const log = capturedLogger();

  before(async () => {
    h = await startHerald({ logger: log.logger });
    chat = await Receiver.start();
    standard = await Receiver.start();
    app = await h.createApp();
    await configureChatWebhook(h.url, app.token, { url: chat.url });
    const created = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: standard.url, profile: "standard", filter: ["group_channel:*"] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    secret = created.body.secret;
  });
  after(() => Promise.all([h.close(), chat.close(), standard.close()]));

  // Written by hand: JSON.stringify could not make these bodies.
  const EXACT = [
    '"message_id":9007199254740993',
    '"price":0.1000000000000000055511151231257827',
    '"huge":1e400',
    '"tiny":-0',
    '"count":12',
  ];
  const exactEvent =
    '{"category":"group_channel:message_send","sender":{"user_id":"Jeff"},' +
    `"payload":{${EXACT.join(",")},"message":"9007199254740993 / 1e400"},` +
    '"channel":{"channel_url":"sendbird_group_channel_1","is_super":false}}';

  it("delivers 9007199254740993 and 0.1000000000000000055511151231257827 digit for digit, in both wire formats", async () => {
    const published = await postRaw(`${h.url}/v1/events`, app.token, exactEvent);
    assert.equal(published.status, 202, published.text);
    await chat.waitFor(1);
    await standard.waitFor(1);

    const sendbird = chat.requests[0]!;
    const sendbirdBody = sendbird.raw.toString("utf8");
    for (const number of EXACT)
      assert.ok(sendbirdBody.includes(number), `Sendbird body has ${number}: ${sendbirdBody}`);
    // Sendbird's own escaping still applies, and the signature covers these very bytes.
    assert.ok(sendbirdBody.includes('"message":"9007199254740993 \\/ 1e400"'), sendbirdBody);
    const hmac = createHmac("sha256", app.token).update(sendbird.raw).digest("hex");
    assert.equal(sendbird.headers["x-sendbird-signature"], hmac);

    const webhook = standard.requests[0]!;
    const standardBody = webhook.raw.toString("utf8");
    for (const number of EXACT)
      assert.ok(standardBody.includes(number), `Standard body has ${number}: ${standardBody}`);
    assert.ok(standardBody.startsWith('{"type":"group_channel:message_send","timestamp":"'), standardBody);
    new Webhook(secret).verify(webhook.raw, {
      "webhook-id": String(webhook.headers["webhook-id"]),
      "webhook-timestamp": String(webhook.headers["webhook-timestamp"]),
      "webhook-signature": String(webhook.headers["webhook-signature"]),
    });

    // Read back through the API, the stored payload has them too.
    const event = await fetch(`${h.url}/v1/events/${published.body.id}`, { headers: { "api-token": app.token } });
    const eventText = await event.text();
    assert.equal(event.status, 200);
    assert.match(String(event.headers.get("content-type")), /application\/json/);
    for (const number of EXACT)
      assert.ok(eventText.includes(number), `GET /v1/events/{id} has ${number}: ${eventText}`);
    const listed = await (
      await fetch(`${h.url}/v1/deliveries?include_payload=true`, { headers: { "api-token": app.token } })
    ).text();
    for (const number of EXACT) assert.ok(listed.includes(number), `the delivery log has ${number}`);
  });

  it("refuses a body nested 20,000 levels deep with a 400 in each API's format, logging no error", async () => {
    const before = await h.counts();
    const deep = `{"category":"user:block","payload":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
    const native = await postRaw(`${h.url}/v1/events`, app.token, deep);
    assert.equal(native.status, 400, native.text);
    assert.equal(native.body.error.code, "malformed_json");
    assert.match(native.body.error.message, /deeper than 128/);
    const sendbird = await postRaw(`${h.url}/v3/applications/settings/webhook`, app.token, deep, "PUT");
    assert.equal(sendbird.status, 400, sendbird.text);
    assert.deepEqual([sendbird.body.error, sendbird.body.code], [true, 400103]);
    assert.deepEqual(await h.counts(), before);
    // Nesting within the limit is fine.
    const nested = `{"category":"user:block","payload":${"[".repeat(100)}${"]".repeat(100)}}`;
    assert.equal((await postRaw(`${h.url}/v1/events`, app.token, nested)).status, 202);
    const errors = log.lines().filter((line) => line.level >= 50 || line.err);
    assert.deepEqual(errors, [], "nothing logged as an error");
  });

  it("keeps characters split between the chunks a body arrives in, and refuses a body cut off mid-character", async () => {
    const client = rawClient(h.url);
    const body = Buffer.from('{"category":"user:block","note":"caf\u00e9 \u{1F600}"}');
    client.socket.write(
      `POST /v1/events HTTP/1.1\r\nHost: x\r\nApi-Token: ${app.token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    // Each write lands as a chunk of its own: "é" and the emoji are cut between their bytes.
    const emoji = body.indexOf(0xf0);
    for (const [start, end] of [
      [0, body.indexOf(0xc3) + 1],
      [body.indexOf(0xc3) + 1, emoji + 2],
      [emoji + 2, emoji + 3],
      [emoji + 3, body.length],
    ] as const) {
      client.socket.write(body.subarray(start, end));
      await sleep(30);
    }
    await client.closed;
    assert.match(client.received(), /^HTTP\/1\.1 202 /, client.received());
    const id = (JSON.parse(client.received().slice(client.received().indexOf("\r\n\r\n") + 4)) as { id: string }).id;
    const stored = await call(h.url, "GET", `/v1/events/${id}`, { token: app.token });
    assert.equal(stored.body.payload.note, "caf\u00e9 \u{1F600}");

    const before = await h.counts();
    const cut = await postRaw(
      `${h.url}/v1/events`,
      app.token,
      Buffer.concat([Buffer.from('{"category":"user:block"}'), Buffer.from([0xf0, 0x9f])]),
    );
    assert.equal(cut.status, 400, cut.text);
    assert.match(cut.body.error.message, /UTF-8/);
    assert.deepEqual(await h.counts(), before);
  });

  it("takes a body over 64 KiB through the path that parses big bodies in turn, and answers a broken one with a 400 in each API's format", async () => {
    const events = Array.from({ length: 400 }, (_, i) => ({ category: "user:block", note: `${i} ${"n".repeat(200)}` }));
    const body = JSON.stringify({ events });
    assert.ok(body.length > 64 * 1024, "big enough to take the path of big bodies");
    const published = await postRaw(`${h.url}/v1/events/batch`, app.token, body);
    assert.equal(published.status, 202, published.text);
    assert.equal(published.body.ids.length, 400);

    const before = await h.counts();
    const broken = `${body.slice(0, -2)},}`;
    const native = await postRaw(`${h.url}/v1/events/batch`, app.token, broken);
    assert.equal(native.status, 400, native.text);
    assert.equal(native.body.error.code, "malformed_json");
    const settings = `{"enabled":true,"url":"${chat.url}","padding":"${"p".repeat(70_000)}",}`;
    const sendbird = await postRaw(`${h.url}/v3/applications/settings/webhook`, app.token, settings, "PUT");
    assert.equal(sendbird.status, 400, sendbird.text);
    assert.deepEqual([sendbird.body.error, sendbird.body.code], [true, 400103]);
    assert.deepEqual(await h.counts(), before);
  });

  it("refuses invalid UTF-8 with a 400, storing nothing", async () => {
    const before = await h.counts();
    const bytes = Buffer.concat([
      Buffer.from('{"category":"user:block","note":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    const native = await postRaw(`${h.url}/v1/events`, app.token, bytes);
    assert.equal(native.status, 400, native.text);
    assert.equal(native.body.error.code, "malformed_json");
    assert.match(native.body.error.message, /UTF-8/);
    const sendbird = await postRaw(`${h.url}/v3/applications/settings/webhook`, app.token, bytes, "PUT");
    assert.equal(sendbird.status, 400, sendbird.text);
    assert.equal(sendbird.body.error, true);
    assert.deepEqual(await h.counts(), before);
  });

  it("refuses half a surrogate pair in settings, in each API's format; a payload keeps its escape", async () => {
    const before = await h.counts();
    const settings = String.raw`{"enabled":true,"url":"http://127.0.0.1:9/sb\ud800x","enabled_events":["*"]}`;
    const sendbird = await postRaw(`${h.url}/v3/applications/settings/webhook`, app.token, settings, "PUT");
    assert.equal(sendbird.status, 400, sendbird.text);
    assert.deepEqual([sendbird.body.error, sendbird.body.code], [true, 400103]);
    assert.match(sendbird.body.message, /"url" holds half of a UTF-16 surrogate pair/);
    const endpoint = String.raw`{"url":"http://127.0.0.1:9/x","profile":"sendbird","headers":{"x-\udc00":"v"}}`;
    const native = await postRaw(`${h.url}/v1/endpoints`, app.token, endpoint);
    assert.equal(native.status, 400, native.text);
    assert.match(native.body.error.message, /"headers\.x-\udc00" holds half/u);
    assert.deepEqual(await h.counts(), before);
    // A whole pair is a character like any other; a payload is stored as written, escape and all.
    const paired = String.raw`{"enabled":true,"url":"http://127.0.0.1:9/sb","enabled_events":["*"],"x":"\ud83d\ude00"}`;
    assert.notEqual((await postRaw(`${h.url}/v3/applications/settings/webhook`, app.token, paired, "PUT")).status, 500);
    const event = await postRaw(
      `${h.url}/v1/events`,
      app.token,
      String.raw`{"category":"user:block","note":"a\ud800b"}`,
    );
    assert.equal(event.status, 202, event.text);
    const stored = await (
      await fetch(`${h.url}/v1/events/${event.body.id}`, { headers: { "api-token": app.token } })
    ).text();
    assert.ok(stored.includes(String.raw`"note":"a\ud800b"`), stored);
  });

  it("still refuses prototype poisoning, whichever parser reads the body", async () => {
    for (const body of [
      '{"category":"user:block","__proto__":{"x":1}}',
      '{"category":"user:block","__proto__":{"x":1e400}}',
    ]) {
      const response = await postRaw(`${h.url}/v1/events`, app.token, body);
      assert.equal(response.status, 400, response.text);
      assert.equal(response.body.error.code, "malformed_json");
    }
  });
});

describe("type names are bounded: a 1 MB one is a 400 in milliseconds, and /healthz stays fast", () => {
  let h: TestHerald;
  let app: { appId: string; token: string };

  before(async () => {
    h = await startHerald();
    app = await h.createApp();
  });
  after(() => h.close());

  it("answers each API's oversized type with a short 400 while /healthz keeps answering", async () => {
    const huge = "group_channel:".padEnd(1_000_000, "x");
    const requests: { name: string; method: string; path: string; body: unknown; check: (body: any) => void }[] = [
      {
        name: "native publish",
        method: "POST",
        path: "/v1/events",
        body: { category: huge },
        check: (body) => assert.equal(body.error.parameter, "category"),
      },
      {
        name: "native batch",
        method: "POST",
        path: "/v1/events/batch",
        body: { events: [{ category: "user:block" }, { category: huge }] },
        check: (body) => assert.equal(body.error.parameter, "events[1].category"),
      },
      {
        name: "native endpoint filter",
        method: "POST",
        path: "/v1/endpoints",
        body: { url: "http://127.0.0.1:9/hook", filter: [huge] },
        check: (body) => assert.equal(body.error.code, "invalid_value"),
      },
      {
        name: "Sendbird Chat enabled_events",
        method: "PUT",
        path: "/v3/applications/settings/webhook",
        body: { enabled_events: ["user:block", huge] },
        check: (body) => assert.deepEqual([body.error, body.code], [true, 400111]),
      },
      {
        name: "Sendbird Calls enabled_events",
        method: "PUT",
        path: `/v1/applications/${app.appId}/settings/webhook`,
        body: { enabled_events: [huge] },
        check: (body) => assert.deepEqual([body.error, body.type], [true, "INVALID_PARAMS"]),
      },
    ];
    const health: number[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const started = performance.now();
        assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
        health.push(performance.now() - started);
        await sleep(5);
      }
    })();
    try {
      for (let round = 0; round < 3; round++) {
        for (const r of requests) {
          const started = performance.now();
          const response = await call(h.url, r.method, r.path, { token: app.token, body: r.body });
          const took = performance.now() - started;
          // Uploading and parsing a megabyte on loopback takes milliseconds; comparing it would take seconds.
          assert.ok(took < 1000, `${r.name} took ${took.toFixed(0)} ms`);
          const answer = JSON.stringify(response.body);
          assert.equal(response.status, 400, `${r.name}: ${answer.slice(0, 300)}`);
          assert.ok(answer.length < 1000, `${r.name}: the answer echoes the type: ${answer.slice(0, 300)}`);
          r.check(response.body);
          assert.match(String(response.body.error?.message ?? response.body.message), /256 characters/, r.name);
        }
      }
    } finally {
      probing = false;
      await prober;
    }
    const worst = Math.max(...health);
    assert.ok(health.length >= 5, `only ${health.length} probes`);
    // Unbounded, one such type kept the event loop busy for about 9 s; a loaded 2-core machine alone
    // can delay a probe by a few hundred ms, so the bound tells the two apart without timing the machine.
    assert.ok(worst < 1000, `/healthz took up to ${worst.toFixed(0)} ms while the requests ran`);
  });
});

/** A raw TCP client: sends what it is told, when it is told, and reports what came back and when it closed. */
function rawClient(url: string, { allowHalfOpen = false } = {}) {
  const { hostname, port } = new URL(url);
  const socket = connect({ port: Number(port), host: hostname, allowHalfOpen });
  let received = "";
  socket.on("data", (chunk) => (received += chunk));
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(performance.now())));
  return { socket, closed, received: () => received };
}

describe("slow and vanishing clients", () => {
  it("cuts off a trickled upload at the request timeout with a 408, as a client abort, not a storage error", async () => {
    const log = capturedLogger();
    const h = await startHerald({ requestTimeoutMs: 800, headersTimeoutMs: 400, logger: log.logger });
    try {
      const app = await h.createApp();
      const client = rawClient(h.url);
      const started = performance.now();
      client.socket.write(
        `POST /v1/events HTTP/1.1\r\nHost: x\r\nApi-Token: ${app.token}\r\nContent-Type: application/json\r\n` +
          "Content-Length: 100000\r\n\r\n",
      );
      // A byte every 100 ms: never idle, never done.
      const trickle = setInterval(() => client.socket.writable && client.socket.write(" "), 100);
      const closedAt = await Promise.race([client.closed, sleep(5000).then(() => undefined)]);
      clearInterval(trickle);
      client.socket.destroy();
      assert.ok(closedAt !== undefined, "the connection was still open after 5 s");
      const took = closedAt - started;
      assert.ok(took >= 700 && took < 2500, `cut off after ${took.toFixed(0)} ms, not about 800`);
      assert.match(client.received(), /^HTTP\/1\.1 408 /);
      assert.match(client.received(), /"code":"request_timeout"/);
      assert.equal((await h.counts()).events, 0);
      // Headers that never finish are cut off at the headers timeout.
      const slow = rawClient(h.url);
      const slowStarted = performance.now();
      slow.socket.write("POST /v1/events HTTP/1.1\r\nHost: x\r\n");
      const slowClosedAt = await Promise.race([slow.closed, sleep(5000).then(() => undefined)]);
      slow.socket.destroy();
      assert.ok(slowClosedAt !== undefined && slowClosedAt - slowStarted < 2000, "headers timeout");
      assert.match(slow.received(), /^HTTP\/1\.1 408 /);
      // A client that does not close after the 408 (half-open) has its connection cut a second later:
      // what it sends after that is refused (before, Herald's end of it stayed open for ever).
      const mute = rawClient(h.url, { allowHalfOpen: true });
      mute.socket.write(
        `POST /v1/events HTTP/1.1\r\nHost: x\r\nApi-Token: ${app.token}\r\nContent-Type: application/json\r\n` +
          "Content-Length: 100000\r\n\r\n{",
      );
      await eventually(() => (mute.received().startsWith("HTTP/1.1 408 ") ? true : undefined), 5000);
      await sleep(1500);
      // The first write after the cut draws the reset, the next one reports it.
      const poke = setInterval(() => mute.socket.writable && mute.socket.write(" "), 100);
      const muteClosedAt = await Promise.race([mute.closed, sleep(2000).then(() => undefined)]);
      clearInterval(poke);
      mute.socket.destroy();
      assert.ok(muteClosedAt !== undefined, "a half-open client kept its connection 1.5 s after the 408");
      await sleep(100);
      const lines = log.lines();
      assert.ok(!lines.some((line) => line.msg === "storage unavailable"), "a timed-out upload is no storage error");
      assert.ok(!lines.some((line) => line.level >= 50), `nothing at error: ${log.text()}`);
    } finally {
      await h.close();
    }
  });

  it("logs a client that hangs up mid-upload as a client abort at info, never as storage unavailable", async () => {
    const log = capturedLogger();
    const h = await startHerald({ logger: log.logger });
    try {
      const app = await h.createApp();
      for (let i = 0; i < 3; i++) {
        const client = rawClient(h.url);
        client.socket.write(
          `POST /v1/events HTTP/1.1\r\nHost: x\r\nApi-Token: ${app.token}\r\nContent-Type: application/json\r\n` +
            `Content-Length: 1000\r\n\r\n{"category":"user:block","pad":"`,
        );
        // Long enough for the server to have parsed the headers and started reading the body, even
        // on a loaded machine: a socket closed before that is no request at all, and logs nothing.
        await sleep(300);
        client.socket.destroy();
        await client.closed;
      }
      await eventually(() =>
        log.lines().filter((line) => line.msg === "client aborted the request").length === 3 ? true : undefined,
      );
      const lines = log.lines();
      assert.ok(!lines.some((line) => line.msg === "storage unavailable"), "an abort is no storage error");
      assert.ok(!lines.some((line) => line.level >= 40), `nothing at warn or above: ${log.text()}`);
      for (const line of lines.filter((l) => l.msg === "client aborted the request")) {
        assert.equal(line.level, 30);
        assert.equal(line.route, "/v1/events");
      }
      // The store is fine: the next publish goes through.
      assert.equal(
        (await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } })).status,
        202,
      );
    } finally {
      await h.close();
    }
  });

  it("answers a request without credentials 401 and cuts it off a second later, not reading its body to the end", async () => {
    const h = await startHerald();
    const client = rawClient(h.url);
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pushing = setInterval(() => {
      if (!client.socket.writable) return;
      client.socket.write(chunk);
      sent += chunk.length;
    }, 2);
    try {
      client.socket.write(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n",
      );
      const closedAt = await Promise.race([client.closed, sleep(5000).then(() => undefined)]);
      assert.ok(closedAt !== undefined, `the connection was still taking the body after 5 s (${sent} bytes)`);
      assert.match(client.received(), /^HTTP\/1\.1 401 /);
    } finally {
      clearInterval(pushing);
      client.socket.destroy();
      await h.close();
    }
  });

  it("closes idle keep-alive connections when a connection is dropped at the cap, so the next one is served", async () => {
    const h = await startHerald({ maxConnections: 2 });
    const idle = [rawClient(h.url), rawClient(h.url)];
    try {
      for (const client of idle) client.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      await eventually(() => idle.every((client) => /^HTTP\/1\.1 200 /.test(client.received())) || undefined);
      const dropped = rawClient(h.url);
      dropped.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      await Promise.race([dropped.closed, sleep(3000)]);
      dropped.socket.destroy();
      const closed = await Promise.all(idle.map((client) => Promise.race([client.closed, sleep(3000).then(() => 0)])));
      assert.ok(
        closed.every((at) => at > 0),
        "idle keep-alive connections were kept while new ones were dropped",
      );
      assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
    } finally {
      for (const client of idle) client.socket.destroy();
      await h.close();
    }
  });

  it("closes connections past HERALD_MAX_CONNECTIONS as they arrive", async () => {
    const h = await startHerald({ maxConnections: 2 });
    const held = [rawClient(h.url), rawClient(h.url)];
    try {
      await sleep(100);
      const third = rawClient(h.url);
      third.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      const closedAt = await Promise.race([third.closed, sleep(3000).then(() => undefined)]);
      third.socket.destroy();
      assert.ok(closedAt !== undefined, "a connection past the cap was kept open");
      assert.equal(third.received(), "", "and it got no answer");
      for (const client of held) client.socket.destroy();
      await Promise.all(held.map((client) => client.closed));
      await sleep(100);
      assert.equal((await fetch(`${h.url}/healthz`)).status, 200, "below the cap again, connections are served");
    } finally {
      for (const client of held) client.socket.destroy();
      await h.close();
    }
  });
});

describe("Idempotency-Key: per app and route; the same key with another body is a 422", () => {
  it("replays the same body, refuses a different one with 422 and writes nothing, and keeps routes apart", async () => {
    const h = await startHerald();
    try {
      const app = await h.createApp();
      const publish = (path: string, body: unknown, key = "order-7") =>
        call(h.url, "POST", path, { token: app.token, headers: { "idempotency-key": key }, body });
      const first = await publish("/v1/events", { category: "user:block", note: "a" });
      assert.equal(first.status, 202);
      // The same request again, even written differently (key order aside, the same JSON), replays.
      const again = await postRawWithKey(h.url, app.token, '{ "category" : "user:block", "note": "a" }', "order-7");
      assert.deepEqual([again.status, again.body.id, again.body.replayed], [202, first.body.id, true]);
      const counts = await h.counts();

      const different = await publish("/v1/events", { category: "user:block", note: "b" });
      assert.equal(different.status, 422, JSON.stringify(different.body));
      assert.equal(different.body.error.code, "idempotency_mismatch");
      assert.equal(different.body.error.parameter, "Idempotency-Key");
      assert.match(different.body.error.message, /different request body/);
      // Even a body that is not valid for publishing: the key is the answer's subject first.
      assert.equal((await publish("/v1/events", { category: "user:blok" })).status, 422);
      assert.deepEqual(await h.counts(), counts, "nothing written");

      // The batch route has keys of its own: the same key there is a new request.
      const batch = await publish("/v1/events/batch", { events: [{ category: "user:unblock" }] });
      assert.deepEqual([batch.status, batch.body.replayed], [202, false]);
      assert.notDeepEqual(batch.body.ids, [first.body.id]);
      const batchAgain = await publish("/v1/events/batch", { events: [{ category: "user:unblock" }] });
      assert.deepEqual([batchAgain.status, batchAgain.body.ids], [202, batch.body.ids]);
      const batchOther = await publish("/v1/events/batch", {
        events: [{ category: "user:unblock" }, { category: "user:block" }],
      });
      assert.equal(batchOther.status, 422);
      assert.equal((await h.counts()).events, counts.events + 1);
    } finally {
      await h.close();
    }
  });
});

async function postRawWithKey(url: string, token: string, body: string, key: string) {
  const response = await fetch(`${url}/v1/events`, {
    method: "POST",
    headers: { "api-token": token, "content-type": "application/json", "idempotency-key": key },
    body,
  });
  return { status: response.status, body: (await response.json()) as any };
}

describe("observability: one log line per request, /healthz, /readyz, /metrics", () => {
  it("logs one line per request with method, route pattern, status, latency and app, and never a token", async () => {
    const log = capturedLogger();
    const h = await startHerald({ logger: log.logger });
    const app = await h.createApp();
    const secondary = (await call(h.url, "POST", "/v3/applications/api_tokens", { token: app.token })).body.token;
    const published = await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } });
    assert.equal(published.status, 202);
    await call(h.url, "DELETE", `/v3/applications/api_tokens/${secondary}`, { token: app.token });
    await call(h.url, "GET", `/v3/applications/api_tokens/${secondary}`, { token: app.token });
    await call(h.url, "GET", "/v1/events", { token: "wrong-token" });
    await fetch(`${h.url}/healthz`);
    await h.close();
    const requests = log.lines().filter((line) => line.msg === "request");
    const publishLines = requests.filter((line) => line.route === "/v1/events" && line.method === "POST");
    assert.equal(publishLines.length, 1, "one line for the publish");
    const [line] = publishLines;
    assert.equal(line!.status, 202);
    assert.equal(line!.app, app.appId);
    assert.equal(line!.level, 30);
    assert.equal(typeof line!.ms, "number");
    const deleted = requests.find((l) => l.method === "DELETE");
    assert.deepEqual([deleted?.route, deleted?.status], ["/v3/applications/api_tokens/:token", 200]);
    const unknown = requests.find((l) => l.method === "GET" && l.status === 404);
    assert.equal(unknown?.route, null, "an unknown route is logged without its URL");
    assert.ok(requests.some((l) => l.status === 401 && l.route === "/v1/events"));
    assert.equal(requests.find((l) => l.route === "/healthz")?.level, 20, "probes at debug");
    assert.equal(requests.length, 6, "one line for each of the six requests");
    const messages = log.lines().map((l) => l.msg);
    assert.ok(messages.includes("herald listening"), "start at info");
    assert.ok(messages.indexOf("herald stopping") < messages.indexOf("herald stopped"), "clean shutdown at info");
    for (const secret of [app.token, secondary]) assert.ok(!log.text().includes(secret), "a token reached the logs");
  });

  it("answers /readyz 200 while the store answers and 503 once it does not; /healthz stays 200", async () => {
    const h = await startHerald();
    try {
      const ready = await call(h.url, "GET", "/readyz");
      assert.deepEqual([ready.status, ready.body], [200, { status: "ok" }]);
      // The store goes away under the running server.
      await h.herald.store.close();
      const down = await call(h.url, "GET", "/readyz");
      assert.equal(down.status, 503);
      assert.equal(down.body.error.code, "unavailable");
      assert.equal((await call(h.url, "GET", "/healthz")).status, 200, "alive all the same");
    } finally {
      await h.close().catch(() => {});
    }
  });

  it("guards /metrics with HERALD_METRICS_TOKEN when it is set", async () => {
    const h = await startHerald({ metricsToken: "metrics-secret" });
    try {
      const open = await fetch(`${h.url}/metrics`);
      assert.equal(open.status, 401);
      assert.match(String(open.headers.get("www-authenticate")), /^Bearer/);
      assert.equal(((await open.json()) as any).error.code, "unauthorized");
      const wrong = await fetch(`${h.url}/metrics`, { headers: { authorization: "Bearer nope" } });
      assert.equal(wrong.status, 401);
      const right = await fetch(`${h.url}/metrics`, { headers: { authorization: "Bearer metrics-secret" } });
      assert.equal(right.status, 200);
      assert.match(await right.text(), /herald_events_published_total/);
      assert.equal((await fetch(`${h.url}/healthz`)).status, 200, "probes need no token");
    } finally {
      await h.close();
    }
    const plain = await startHerald();
    try {
      assert.equal((await fetch(`${plain.url}/metrics`)).status, 200, "no token set: open");
    } finally {
      await plain.close();
    }
  });
});

describe("what the database holds, and who may read it", () => {
  it("creates the SQLite data folder 0700 and the database file (and its WAL) 0600", async () => {
    const root = mkdtempSync(join(tmpdir(), "herald-modes-"));
    const dir = join(root, "nested", "data");
    const herald = await createHerald({ env: {}, databaseUrl: `sqlite:${join(dir, "herald.db")}`, logLevel: "silent" });
    try {
      await herald.apps.create("modes");
      const mode = (path: string) => statSync(path).mode & 0o777;
      assert.equal(mode(dir).toString(8), "700");
      assert.equal(mode(join(root, "nested")).toString(8), "700");
      assert.equal(mode(join(dir, "herald.db")).toString(8), "600");
      for (const name of readdirSync(dir)) assert.equal(mode(join(dir, name)).toString(8), "600", name);
      assert.ok(readdirSync(dir).includes("herald.db-wal"), "the WAL file was checked too");
    } finally {
      await herald.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("keeps the master token in plain form (it signs webhooks) and every other token only as a hash", async () => {
    const h = await startHerald();
    try {
      const app = await h.createApp();
      const sendbirdSecondary = (await call(h.url, "POST", "/v3/applications/api_tokens", { token: app.token })).body
        .token as string;
      const nativeSecondary = (
        await call(h.url, "POST", "/v1/tokens", { token: app.token, body: { scopes: ["publish"] } })
      ).body.token as string;
      const rotated = (await call(h.url, "POST", "/v1/tokens/master/rotate", { token: app.token })).body
        .api_token as string;
      const cells = await everyCell(h.database.url);
      const holding = (secret: string) => cells.filter((cell) => cell.value.includes(secret)).map((cell) => cell.at);
      assert.deepEqual(holding(rotated), ["apps.signing_key"], "the master token: only as the signing key");
      assert.deepEqual(holding(app.token), [], "a rotated-out master token is kept hashed only");
      assert.deepEqual(holding(sendbirdSecondary), [], "secondary tokens are kept hashed only");
      assert.deepEqual(holding(nativeSecondary), []);
      assert.deepEqual(holding(h.adminToken), [], "the admin token is not in the database");
      assert.ok(holding(createHash("sha256").update(nativeSecondary).digest("hex")).includes("api_tokens.token_hash"));
    } finally {
      await h.close();
    }
  });
});

/** Every cell of every table of Herald's database, as text, with where it is. */
async function everyCell(url: string): Promise<{ at: string; value: string }[]> {
  const cells: { at: string; value: string }[] = [];
  if (TEST_STORE === "sqlite") {
    const db = new Database(url.slice("sqlite:".length), { readonly: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      for (const { name } of tables) {
        for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]) {
          for (const [column, value] of Object.entries(row))
            cells.push({ at: `${name}.${column}`, value: String(value) });
        }
      }
    } finally {
      db.close();
    }
    return cells;
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: tables } = await client.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
    );
    for (const { table_name: name } of tables) {
      for (const row of (await client.query(`SELECT * FROM "${name}"`)).rows as Record<string, unknown>[]) {
        for (const [column, value] of Object.entries(row)) {
          cells.push({ at: `${name}.${column}`, value: typeof value === "string" ? value : JSON.stringify(value) });
        }
      }
    }
  } finally {
    await client.end();
  }
  return cells;
}

describe("log format", () => {
  it("writes lines for people with HERALD_LOG_FORMAT=pretty, and JSON lines when stdout is no terminal", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-pretty-"));
    try {
      for (const format of ["pretty", "auto"]) {
        const herald = new HeraldProcess(
          { HERALD_DATABASE_URL: `sqlite:${join(dir, `${format}.db`)}`, HERALD_LOG_FORMAT: format },
          await freePort(),
        );
        await herald.start();
        await fetch(`${herald.url}/v1/events`);
        await herald.stop();
        const lines = herald.output.split("\n").filter(Boolean);
        if (format === "pretty") {
          assert.ok(
            lines.some((line) => /^\d\d:\d\d:\d\d\.\d{3} INFO {2}herald listening url=http/.test(line)),
            herald.output,
          );
          assert.ok(
            lines.some((line) => / INFO {2}request method=GET route=\/v1\/events status=401 ms=/.test(line)),
            herald.output,
          );
          assert.ok(
            lines.some((line) => / INFO {2}herald stopped/.test(line)),
            herald.output,
          );
          assert.ok(!lines.some((line) => line.startsWith("{")), "no JSON");
        } else {
          for (const line of lines) assert.equal(typeof JSON.parse(line).msg, "string", line);
          assert.ok(lines.some((line) => JSON.parse(line).msg === "herald stopped"));
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
