import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import type { SyncCallRecord } from "../src/storage/records.js";
import { call, eventually, sleep, startHerald, type TestHerald } from "./helpers/herald.js";

/**
 * What an attacker probe found exhausting one Herald process with ordinary requests: the Overview's
 * stats reading whole attempt logs, streams buffering without end for clients that stop reading, and
 * log pages of hundreds of megabytes. Each test holds a bound: time, bytes, or a connection closed.
 */

const KIB = 1024;
const MIB = 1024 * KIB;
const rss = () => `${(process.memoryUsage().rss / MIB).toFixed(0)} MiB`;

/** Finished deliveries of one endpoint, each with one attempt that captured a 16 KiB answer and its headers. */
function finishedDeliveries(
  appId: string,
  endpointId: string,
  count: number,
  createdAt: (index: number) => number,
  options: { prefix?: string; payload?: string } = {},
): SyncCallRecord[] {
  const { prefix = "a", payload = "{}" } = options;
  const responseBody = "r".repeat(16 * KIB);
  return Array.from({ length: count }, (_, index) => {
    const at = createdAt(index);
    const id = `${prefix}${String(index).padStart(6, "0")}`;
    return {
      event: { id: `evt_${id}`, appId, type: "group_channel:message_send", payload, createdAt: at },
      delivery: {
        id: `dlv_${id}`,
        appId,
        eventId: `evt_${id}`,
        endpointId,
        body: "{}",
        maxAttempts: 1,
        createdAt: at,
        state: index % 10 === 0 ? "failed" : "succeeded",
      },
      attempt: {
        attempt: 1,
        startedAt: at + 5,
        durationMs: 10 + (index % 50),
        statusCode: index % 10 === 0 ? 500 : 200,
        error: null,
        errorClass: index % 10 === 0 ? "status" : null,
        requestHeaders: { "content-type": "application/json", "x-padding": "h".repeat(2 * KIB) },
        responseHeaders: { "content-type": "text/plain", "x-padding": "h".repeat(2 * KIB) },
        responseBody,
        truncated: false,
        bodySha256: "ab".repeat(32),
      },
    };
  });
}

async function seed(h: TestHerald, records: SyncCallRecord[]): Promise<void> {
  for (let start = 0; start < records.length; start += 250) {
    await h.herald.store.logSyncCalls(records.slice(start, start + 250));
  }
}

/** Calls /healthz one after another until `until` settles; the slowest answer, in ms. */
async function slowestHealthz(url: string, until: Promise<unknown>): Promise<{ maxMs: number; calls: number }> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  let maxMs = 0;
  let calls = 0;
  while (!done) {
    const started = performance.now();
    const response = await fetch(`${url}/healthz`);
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    maxMs = Math.max(maxMs, performance.now() - started);
    calls += 1;
    await sleep(20);
  }
  return { maxMs, calls };
}

/** A receiver that answers every webhook 200 with `bytes` of body. */
async function bigAnswers(bytes: number): Promise<{ url: string; server: Server }> {
  const body = "a".repeat(bytes);
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => response.writeHead(200, { "content-type": "text/plain" }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, server };
}

/**
 * A client that sends a stream request and then never reads: its socket is paused at once, so the
 * server's writes pile up in its buffers. `serverSide` resolves with Herald's end of the connection.
 */
async function stalledStream(h: TestHerald, path: string, token: string) {
  const { port } = new URL(h.url);
  const accepted: Socket[] = [];
  const onConnection = (candidate: Socket) => accepted.push(candidate);
  // Listening before connecting: the server may accept before the client hears it connected.
  h.herald.server.server.on("connection", onConnection);
  const socket: Socket = connect(Number(port), "127.0.0.1");
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const serverSide = await eventually(() => accepted.find((candidate) => candidate.remotePort === socket.localPort));
  h.herald.server.server.off("connection", onConnection);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nApi-Token: ${token}\r\n\r\n`);
  socket.pause();
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {}); // a reset is one way the server may end it
  return { socket, serverSide, closed };
}

describe("resource limits under attack", { concurrency: 1 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("GET /v1/stats: 24 windows at once over 4,000 deliveries with 16 KiB answers share one read and keep /healthz answering", async () => {
    const h = await startHerald();
    cleanups.push(() => h.close());
    const app = await h.createApp("stats");
    const endpoint = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: "http://127.0.0.1:9/unused" },
    });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    const now = Date.now();
    const RECENT = 4000;
    const OLD = 200;
    // 4,000 in the last 40 minutes, 200 more five hours ago: windows of 1 h and of 6 h differ by those.
    await seed(
      h,
      finishedDeliveries(app.appId, endpoint.body.id, RECENT, (i) => now - 60_000 - i * 600),
    );
    const fiveHoursAgo = now - 5 * 3_600_000;
    await seed(
      h,
      finishedDeliveries(app.appId, endpoint.body.id, OLD, (i) => fiveHoursAgo - i * 1000, { prefix: "old" }),
    );

    const windows = Array.from({ length: 24 }, (_, index) => index + 1);
    await (await fetch(`${h.url}/healthz`)).arrayBuffer(); // a warm connection: time the server, not the dial
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const started = performance.now();
    const all = Promise.all(
      windows.map((hours) => call(h.url, "GET", `/v1/stats?hours=${hours}`, { token: app.token })),
    );
    const health = await slowestHealthz(h.url, all);
    const answers = await all;
    const totalMs = performance.now() - started;
    lag.disable();
    console.log(
      `stats: 24 windows in ${totalMs.toFixed(0)} ms; /healthz slowest ${health.maxMs.toFixed(0)} ms over ${health.calls} calls; event loop delay max ${(lag.max / 1e6).toFixed(0)} ms`,
    );
    for (const [index, answer] of answers.entries()) {
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const [row] = answer.body.endpoints;
      const hours = index + 1;
      assert.equal(answer.body.hours, hours);
      assert.equal(answer.body.complete, true);
      assert.equal(row.deliveries, hours < 6 ? RECENT : RECENT + OLD, `hours=${hours}`);
      assert.equal(row.failed, hours < 6 ? RECENT / 10 : (RECENT + OLD) / 10, `hours=${hours}`);
      assert.equal(row.last_error.message, "HTTP 500");
    }
    assert.equal(new Set(answers.map((answer) => answer.body.generated_at)).size, 1, "one read for every window");
    // Generous: a loaded 2-core machine. Reading whole attempt logs held it for seconds.
    assert.ok(health.maxMs < 1000, `/healthz waited ${health.maxMs.toFixed(0)} ms`);
  });

  it("GET /v1/deliveries and /v1/events: a page stops at about 4 MiB with a cursor, and paging returns each item once", async () => {
    const h = await startHerald();
    cleanups.push(() => h.close());
    const app = await h.createApp("pages");
    const endpoint = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: "http://127.0.0.1:9/unused" },
    });
    const COUNT = 40;
    const payload = JSON.stringify({ blob: "p".repeat(300 * KIB) });
    const now = Date.now();
    // Pairs share a creation time: the cursor must tell them apart.
    await seed(
      h,
      finishedDeliveries(app.appId, endpoint.body.id, COUNT, (i) => now - Math.floor(i / 2), { payload }),
    );

    const pageThrough = async (path: string, key: "deliveries" | "events") => {
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 20; pages++) {
        const separator = path.includes("?") ? "&" : "?";
        const response = await fetch(
          `${h.url}${path}${cursor ? `${separator}cursor=${encodeURIComponent(cursor)}` : ""}`,
          {
            headers: { "api-token": app.token },
          },
        );
        const text = await response.text();
        assert.equal(response.status, 200, text);
        const body = JSON.parse(text);
        sizes.push(text.length);
        seen.push(...body[key].map((item: { id: string }) => item.id));
        cursor = body.next_cursor;
        if (cursor === null) break;
      }
      return { seen, sizes };
    };

    for (const [path, key] of [
      ["/v1/deliveries?limit=500&include_payload=true", "deliveries"],
      ["/v1/events?limit=500", "events"],
    ] as const) {
      const { seen, sizes } = await pageThrough(path, key);
      console.log(`${path}: pages of ${sizes.map((size) => (size / MIB).toFixed(1)).join(", ")} MiB`);
      assert.equal(seen.length, COUNT, `${path}: every item`);
      assert.equal(new Set(seen).size, COUNT, `${path}: each once`);
      assert.ok(sizes.length > 1, `${path}: the first page ended early`);
      // The budget, plus the one item that passed it.
      for (const size of sizes) assert.ok(size < 4 * MIB + 400 * KIB, `${path}: a page of ${size} bytes`);
    }
    // Small items still fill a page up to the limit.
    const small = await call(h.url, "GET", "/v1/deliveries?limit=30", { token: app.token });
    assert.equal(small.body.deliveries.length, 30);
    assert.notEqual(small.body.next_cursor, null);
  });

  it("GET /v1/live/deliveries: a client that stops reading is cut off past the cap, and a reading one keeps receiving", async () => {
    const receiver = await bigAnswers(16 * KIB);
    cleanups.push(() => new Promise((resolve) => receiver.server.close(resolve)));
    const h = await startHerald();
    cleanups.push(() => h.close());
    const app = await h.createApp("live");
    const endpoint = await call(h.url, "POST", "/v1/endpoints", { token: app.token, body: { url: receiver.url } });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));

    const reader = await fetch(`${h.url}/v1/live/deliveries`, { headers: { "api-token": app.token } });
    assert.equal(reader.status, 200);
    let readBytes = 0;
    let readerDeliveries = 0;
    void (async () => {
      try {
        for await (const chunk of reader.body!) {
          readBytes += chunk.length;
          readerDeliveries += (
            Buffer.from(chunk)
              .toString()
              .match(/event: delivery/g) ?? []
          ).length;
        }
      } catch {}
    })();
    const stalled = await stalledStream(h, "/v1/live/deliveries", app.token);
    const serverClosed = new Promise<void>((resolve) => stalled.serverSide.once("close", () => resolve()));
    let cut = false;
    void serverClosed.then(() => {
      cut = true;
    });

    // About 100 events a second, each delivered with a 16 KiB answer the live feed carries, until the
    // stalled stream is cut; bounded at 40 s (some 60 MiB of stream) whatever happens.
    const started = Date.now();
    while (!cut && Date.now() - started < 40_000) {
      const events = Array.from({ length: 50 }, (_, i) => ({ category: "group_channel:message_send", payload: { i } }));
      await h.herald.publishBatch(app.appId, events);
      await sleep(500);
    }
    const cutAfterMs = Date.now() - started;
    console.log(
      `live: stalled stream ${cut ? "cut" : "still open"} after ${cutAfterMs} ms; the reader got ${(readBytes / MIB).toFixed(1)} MiB; RSS ${rss()}`,
    );
    assert.ok(cut, "Herald still holds the stream of a client that stopped reading");
    // The stalled client sees its connection end once it reads again.
    stalled.socket.resume();
    await Promise.race([
      stalled.closed,
      sleep(10_000).then(() => assert.fail("the stalled client's socket did not close")),
    ]);
    // The reading client on the same app goes on receiving.
    const before = readerDeliveries;
    await h.herald.publishBatch(app.appId, [{ category: "group_channel:message_send", payload: { after: true } }]);
    await eventually(() => (readerDeliveries > before ? true : undefined), 10_000);
    await reader.body?.cancel().catch(() => {});
  });

  it("GET /v1/listen/{id}/stream: a CLI that stops reading is cut off past the cap; the session detaches and its attempts settle", async () => {
    const h = await startHerald({ listenGraceMs: 60_000, endpointConcurrency: 64 });
    cleanups.push(() => h.close());
    const app = await h.createApp("listen");
    const created = await call(h.url, "POST", "/v1/listen", { token: app.token, body: {} });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const session = created.body as { id: string; endpoint: { id: string } };
    const stalled = await stalledStream(h, `/v1/listen/${session.id}/stream`, app.token);
    const serverClosed = new Promise<void>((resolve) => stalled.serverSide.once("close", () => resolve()));
    let cut = false;
    void serverClosed.then(() => {
      cut = true;
    });

    // Events of 900 KB (1.2 MB each as base64 on the stream) until the stream is cut; at most 80.
    const blob = "b".repeat(900 * KIB);
    let published = 0;
    const started = Date.now();
    while (!cut && published < 80 && Date.now() - started < 40_000) {
      await h.herald.publish(app.appId, { category: "group_channel:message_send", payload: { blob } });
      published += 1;
      await sleep(100);
    }
    await eventually(() => (cut ? true : undefined), 10_000).catch(() => {});
    console.log(
      `listen: stalled stream ${cut ? "cut" : "still open"} after ${Date.now() - started} ms and ${published} events; RSS ${rss()}`,
    );
    assert.ok(cut, "Herald still holds the stream of a CLI that stopped reading");
    stalled.socket.resume();
    await Promise.race([
      stalled.closed,
      sleep(10_000).then(() => assert.fail("the stalled CLI's socket did not close")),
    ]);
    // Detached, within its grace period: the endpoint is still there. The attempt that found the stream
    // full ended at once as refused (those written before wait for a report, as on a dropped stream).
    const kept = await call(h.url, "GET", `/v1/endpoints/${session.endpoint.id}`, { token: app.token });
    assert.equal(kept.status, 200, JSON.stringify(kept.body));
    const refused = await eventually(async () => {
      const listed = await call(h.url, "GET", `/v1/deliveries?endpoint_id=${session.endpoint.id}&limit=100`, {
        token: app.token,
      });
      const attempts = listed.body.deliveries.flatMap((d: { attempt_log: any[] }) => d.attempt_log);
      return attempts.find((a: { error: string | null }) => a.error?.includes("stopped reading"));
    }, 5000);
    assert.equal(refused.error_class, "refused");
    assert.ok(refused.duration_ms < 1000, `settled after ${refused.duration_ms} ms`);
  });
});
