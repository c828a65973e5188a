import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, eventually, startHerald, type TestHerald } from "./helpers/herald.js";

/**
 * What an attacker review found on the streaming routes (`/v1/listen`, `/v1/live/deliveries`):
 * oversized attempt reports, HEAD on a stream, streams outliving their credential, unbounded sessions.
 */

/** An open server-sent-events stream: its events as they come, and whether it has ended. */
class EventStream {
  readonly events: { event: string; data: any }[] = [];
  ended = false;
  readonly #controller = new AbortController();

  static async open(url: string, token: string): Promise<EventStream> {
    const stream = new EventStream();
    const response = await fetch(url, { headers: { "api-token": token }, signal: stream.#controller.signal });
    if (response.status !== 200) assert.fail(`stream ${url}: ${response.status} ${await response.text()}`);
    void stream.#read(response);
    return stream;
  }

  async #read(response: Response): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of response.body!) {
        buffered += decoder.decode(chunk, { stream: true });
        const blocks = buffered.split("\n\n");
        buffered = blocks.pop()!;
        for (const block of blocks) {
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) this.events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted by the test
    }
    this.ended = true;
  }

  close(): void {
    this.#controller.abort();
  }
}

describe("streaming routes under attack", { concurrency: 1 }, () => {
  let h: TestHerald;
  let app: { appId: string; token: string };
  const streams: EventStream[] = [];
  const open = async (path: string, token = app.token) => {
    const stream = await EventStream.open(`${h.url}${path}`, token);
    streams.push(stream);
    return stream;
  };
  const newSession = async (token = app.token) => {
    const created = await call(h.url, "POST", "/v1/listen", { token, body: {} });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as { id: string; endpoint: { id: string } };
  };
  const endSession = (id: string) => call(h.url, "DELETE", `/v1/listen/${id}`, { token: app.token });

  before(async () => {
    h = await startHerald({ listenGraceMs: 60_000 });
    app = await h.createApp();
  });
  after(async () => {
    for (const stream of streams) stream.close();
    await h.close();
  });

  it("an attempt report carries at most 100 headers and 16 KiB of them; a bigger one is a 400 naming headers", async () => {
    const session = await newSession();
    const stream = await open(`/v1/listen/${session.id}/stream`);
    const published = await h.herald.publish(app.appId, { category: "group_channel:message_send", payload: {} });
    const delivery = await eventually(() => stream.events.find((e) => e.event === "delivery")?.data, 15_000);
    const report = (headers: Record<string, string>) =>
      call(h.url, "POST", `/v1/listen/${session.id}/attempts/${delivery.attempt_id}`, {
        token: app.token,
        body: { status_code: 200, headers, body: "ok" },
      });
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`x-h${i}`, "v"]));
    const tooMany = await report(many);
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.error.parameter, "headers");
    // 50 headers of 400 bytes: under the count, over 16 KiB in total.
    const heavy = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`x-h${i}`, "v".repeat(400)]));
    const tooHeavy = await report(heavy);
    assert.equal(tooHeavy.status, 400);
    assert.equal(tooHeavy.body.error.parameter, "headers");
    assert.match(tooHeavy.body.error.message, /16384 bytes/);
    // The attempt still waits: an ordinary report settles it.
    const fine = await report({ "content-type": "text/plain", "x-n": "1".repeat(1000) });
    assert.equal(fine.status, 204);
    const logged = await eventually(async () => {
      const got = await call(h.url, "GET", `/v1/deliveries?event_id=${published}`, { token: app.token });
      return got.body.deliveries[0]?.attempt_log[0];
    });
    assert.equal(logged.status_code, 200);
    await endSession(session.id);
  });

  it("HEAD on a stream answers at once and takes no stream slot", async () => {
    const session = await newSession();
    const head = async (path: string) => {
      const started = Date.now();
      const response = await fetch(`${h.url}${path}`, {
        method: "HEAD",
        headers: { "api-token": app.token },
        signal: AbortSignal.timeout(5000),
      });
      const took = Date.now() - started;
      assert.ok(response.status === 404 || response.status === 405, `HEAD ${path}: ${response.status}`);
      assert.ok(took < 1000, `HEAD ${path} took ${took} ms`);
    };
    await head(`/v1/listen/${session.id}/stream`);
    // Ten HEADs: as many as the app's live stream cap.
    for (let i = 0; i < 10; i++) await head("/v1/live/deliveries");
    const live = await open("/v1/live/deliveries");
    await eventually(() => live.events.find((e) => e.event === "ready"));
    live.close();
    const listen = await open(`/v1/listen/${session.id}/stream`);
    await eventually(() => listen.events.find((e) => e.event === "ready"));
    listen.close();
    await endSession(session.id);
  });

  it("a revoked token's live and listen streams end within seconds", async () => {
    const secondary = await call(h.url, "POST", "/v1/tokens", { token: app.token, body: {} });
    assert.equal(secondary.status, 201);
    const session = await newSession(secondary.body.token);
    const live = await open("/v1/live/deliveries", secondary.body.token);
    const listen = await open(`/v1/listen/${session.id}/stream`, secondary.body.token);
    await eventually(() => live.events.find((e) => e.event === "ready"));
    await eventually(() => listen.events.find((e) => e.event === "ready"));
    // Streams opened with the master token are not touched.
    const kept = await open("/v1/live/deliveries");
    const revoked = await call(h.url, "DELETE", `/v1/tokens/${secondary.body.id}`, { token: app.token });
    assert.equal(revoked.status, 204);
    await eventually(() => (live.ended && listen.ended ? true : undefined), 15_000);
    assert.equal(kept.ended, false);
    kept.close();
    // The session outlives a revoked stream (another token may reconnect it) until it is ended.
    assert.equal((await endSession(session.id)).status, 204);
  });

  it("deleting the app ends its live and listen streams", async () => {
    const doomed = await h.createApp("doomed");
    const session = await newSession(doomed.token);
    const live = await open("/v1/live/deliveries", doomed.token);
    const listen = await open(`/v1/listen/${session.id}/stream`, doomed.token);
    await eventually(() => listen.events.find((e) => e.event === "ready"));
    const deleted = await call(h.url, "DELETE", `/v1/apps/${doomed.appId}`, { token: h.adminToken });
    assert.equal(deleted.status, 204);
    await eventually(() => (live.ended && listen.ended ? true : undefined), 15_000);
  });
});
