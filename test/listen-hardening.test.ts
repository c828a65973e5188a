import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, eventually, startHerald, TEST_STORE, type TestHerald } from "./helpers/herald.js";

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
    // Headers no HTTP answer could carry: a name that is not a token, a value with CR or LF, or NUL (the NUL guard).
    for (const [name, value] of [
      ["x\r\ny", "v"],
      ["x y", "v"],
      ["", "v"],
      ["x-ok", "a\r\nset-cookie: b"],
      ["x-ok", "a\nb"],
      ["x-ok", "a\u0000b"],
    ] as const) {
      const impossible = await report({ [name]: value });
      assert.equal(impossible.status, 400, `${JSON.stringify(name)}: ${JSON.stringify(value)}`);
      assert.equal(impossible.body.error.parameter, `headers.${name}`);
    }
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

  it("a reported redirect is one whatever the case of its Location header", async () => {
    const session = await newSession();
    const stream = await open(`/v1/listen/${session.id}/stream`);
    const published = await h.herald.publish(app.appId, { category: "group_channel:message_send", payload: {} });
    const delivery = await eventually(() => stream.events.find((e) => e.event === "delivery")?.data, 15_000);
    const reported = await call(h.url, "POST", `/v1/listen/${session.id}/attempts/${delivery.attempt_id}`, {
      token: app.token,
      body: { status_code: 302, headers: { Location: "https://elsewhere.test/" }, body: "" },
    });
    assert.equal(reported.status, 204, JSON.stringify(reported.body));
    const logged = await eventually(async () => {
      const got = await call(h.url, "GET", `/v1/deliveries?event_id=${published}`, { token: app.token });
      return got.body.deliveries[0]?.attempt_log[0];
    });
    assert.equal(logged.error_class, "redirect");
    assert.match(logged.error, /redirect to https:\/\/elsewhere\.test\/ not followed/);
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

  it("listen sessions: at most 10 per app and 100 per process, then 429 with Retry-After", async () => {
    const capped = await h.createApp("capped");
    const post = (token: string) =>
      fetch(`${h.url}/v1/listen`, {
        method: "POST",
        headers: { "api-token": token, "content-type": "application/json" },
        body: "{}",
      });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const created = await post(capped.token);
      assert.equal(created.status, 201);
      ids.push(((await created.json()) as { id: string }).id);
    }
    const refused = await post(capped.token);
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get("retry-after")) > 0);
    const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "rate_limited");
    assert.match(error.message, /10 listen sessions/);
    // Ending one frees its place.
    assert.equal((await call(h.url, "DELETE", `/v1/listen/${ids.pop()}`, { token: capped.token })).status, 204);
    const again = await post(capped.token);
    assert.equal(again.status, 201);
    ids.push(((await again.json()) as { id: string }).id);
    // Nine more apps of ten sessions: the process holds 100, and the next app is refused too.
    for (let n = 0; n < 9; n++) {
      const other = await h.createApp(`filler-${n}`);
      for (let i = 0; i < 10; i++) assert.equal((await post(other.token)).status, 201);
    }
    const late = await h.createApp("late");
    const full = await post(late.token);
    assert.equal(full.status, 429);
    assert.ok(Number(full.headers.get("retry-after")) > 0);
    assert.match(((await full.json()) as { error: { message: string } }).error.message, /on this server/);
  });

  it("a session whose endpoint could not be saved is closed: it does not count toward the app's 10", async () => {
    const local = await startHerald({ listenGraceMs: 60_000 });
    try {
      const owner = await local.createApp();
      const refuse =
        TEST_STORE === "postgres"
          ? "CREATE FUNCTION refuse_endpoint() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql; " +
            "CREATE TRIGGER refuse_endpoints BEFORE INSERT ON endpoints FOR EACH ROW EXECUTE FUNCTION refuse_endpoint()"
          : "CREATE TRIGGER refuse_endpoints BEFORE INSERT ON endpoints BEGIN SELECT RAISE(ABORT, 'refused by the test'); END";
      await local.database.exec(refuse);
      for (let i = 0; i < 10; i++) {
        const failed = await call(local.url, "POST", "/v1/listen", { token: owner.token, body: {} });
        assert.equal(failed.status, 500, JSON.stringify(failed.body));
      }
      await local.database.exec(`DROP TRIGGER refuse_endpoints${TEST_STORE === "postgres" ? " ON endpoints" : ""}`);
      const created = await call(local.url, "POST", "/v1/listen", { token: owner.token, body: {} });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    } finally {
      await local.close();
    }
  });

  it("a listen endpoint keeps its session's URL: changing it is a 409; other fields change, deleting is allowed", async () => {
    const local = await startHerald({ listenGraceMs: 800 });
    try {
      const owner = await local.createApp();
      const create = async () => {
        const created = await call(local.url, "POST", "/v1/listen", { token: owner.token, body: {} });
        assert.equal(created.status, 201);
        return { session: created.body.id as string, endpoint: created.body.endpoint.id as string };
      };
      const patch = (id: string, body: unknown) =>
        call(local.url, "PATCH", `/v1/endpoints/${id}`, { token: owner.token, body });
      const endpointOf = (id: string) => call(local.url, "GET", `/v1/endpoints/${id}`, { token: owner.token });

      const first = await create();
      const refused = await patch(first.endpoint, { url: "http://127.0.0.1:9/webhooks", description: "mine now" });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, "conflict");
      assert.equal(refused.body.error.parameter, "url");
      assert.match(refused.body.error.message, new RegExp(`listen session "${first.session}"`));
      assert.match(refused.body.error.message, new RegExp(`DELETE /v1/listen/${first.session}`));
      const unchanged = (await endpointOf(first.endpoint)).body;
      assert.equal(unchanged.url, `listen://${first.session}`);
      assert.equal(unchanged.description, "herald listen", "nothing of a refused change is kept");
      // The rest is an ordinary endpoint's.
      const described = await patch(first.endpoint, { description: "my listener", filter: ["user:block"] });
      assert.equal(described.status, 200, JSON.stringify(described.body));
      assert.equal(described.body.url, `listen://${first.session}`);
      // No stream connects: the session expires after the grace period and takes its endpoint along.
      await eventually(async () => ((await endpointOf(first.endpoint)).status === 404 ? true : undefined), 15_000);

      // Deleting the endpoint is allowed; ending the session afterwards still answers.
      const second = await create();
      assert.equal(
        (await call(local.url, "DELETE", `/v1/endpoints/${second.endpoint}`, { token: owner.token })).status,
        204,
      );
      assert.equal((await endpointOf(second.endpoint)).status, 404);
      assert.equal(
        (await call(local.url, "DELETE", `/v1/listen/${second.session}`, { token: owner.token })).status,
        204,
      );
    } finally {
      await local.close();
    }
  });
});
