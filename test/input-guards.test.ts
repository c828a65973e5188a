import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { capturedLogger, rawGet } from "./helpers/capture.js";
import { call, startHerald, type TestHerald } from "./helpers/herald.js";

/**
 * What an attacker probe found answered with a 500 (PostgreSQL refuses NUL in text), a pattern as
 * an error message, an unknown parameter accepted, or a path echoed whole: each now a clear 4xx.
 */

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("bad input found by the attacker probe", () => {
  let h: TestHerald;
  let app: { appId: string; token: string };
  let endpointId: string;
  const log = capturedLogger("info");
  const errorLines = () => log.lines().filter((line) => line.level >= 50);

  before(async () => {
    h = await startHerald({ logger: log.logger });
    app = await h.createApp();
    const created = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: "http://127.0.0.1:9/hook" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    endpointId = created.body.id;
  });
  after(() => h.close());

  it("NUL in a path id, a query filter or a body string is a 400 naming it, with no error in the log", async () => {
    const probes: { method: string; path: string; body?: unknown; admin?: boolean; parameter: string }[] = [
      { method: "GET", path: "/v1/deliveries?type=%00", parameter: "type" },
      { method: "GET", path: "/v1/deliveries?endpoint_id=%00", parameter: "endpoint_id" },
      { method: "GET", path: "/v1/deliveries?event_id=a%00b", parameter: "event_id" },
      { method: "GET", path: "/v1/events?type=%00", parameter: "type" },
      { method: "GET", path: "/v1/deliveries/%00", parameter: "id" },
      { method: "POST", path: "/v1/deliveries/%00/retry", parameter: "id" },
      { method: "GET", path: "/v1/events/%00", parameter: "id" },
      { method: "GET", path: "/v1/endpoints/%00", parameter: "id" },
      { method: "PATCH", path: "/v1/endpoints/%00", body: {}, parameter: "id" },
      { method: "DELETE", path: "/v1/endpoints/%00", parameter: "id" },
      { method: "POST", path: "/v1/endpoints/%00/recover", body: { since: "2026-01-01T00:00:00Z" }, parameter: "id" },
      { method: "POST", path: "/v1/endpoints/%00/secret/rotate", body: {}, parameter: "id" },
      { method: "GET", path: "/v1/recoveries/%00", parameter: "id" },
      { method: "DELETE", path: "/v1/keys/%00", parameter: "key" },
      { method: "GET", path: "/v1/apps/%00", admin: true, parameter: "id" },
      { method: "GET", path: "/v1/apps/%00/keys", admin: true, parameter: "id" },
      { method: "PATCH", path: "/v1/endpoints/{id}", body: { description: "a\u0000b" }, parameter: "description" },
      {
        method: "PATCH",
        path: "/v1/endpoints/{id}",
        body: { filter: ["user:block", "x\u0000"] },
        parameter: "filter[1]",
      },
      { method: "POST", path: "/v1/listen", body: { description: "a\u0000b" }, parameter: "description" },
    ];
    for (const probe of probes) {
      const path = probe.path.replace("{id}", endpointId);
      const answer = await call(h.url, probe.method, path, {
        token: probe.admin ? h.adminToken : app.token,
        body: probe.body,
      });
      const what = `${probe.method} ${path} ${JSON.stringify(probe.body) ?? ""}`;
      assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.code, "invalid_value", what);
      assert.equal(answer.body.error.parameter, probe.parameter, what);
      assert.match(answer.body.error.message, /NUL/, what);
    }
    assert.deepEqual(errorLines(), []);
    // The endpoint was not changed by the refused PATCHes.
    const endpoint = await call(h.url, "GET", `/v1/endpoints/${endpointId}`, { token: app.token });
    assert.ok(!endpoint.body.description.includes("\u0000"));
  });

  it("the Sendbird routes refuse NUL in their own error format", async () => {
    const chat = await call(h.url, "DELETE", "/v3/applications/api_tokens/%00", { token: app.token });
    assert.equal(chat.status, 400, JSON.stringify(chat.body));
    assert.equal(chat.body.error, true);
    assert.match(chat.body.message, /"token" must not contain NUL/);
    const calls = await call(h.url, "GET", "/v1/applications/%00/settings/webhook", { token: app.token });
    assert.equal(calls.status, 400, JSON.stringify(calls.body));
    assert.equal(calls.body.error, true);
    assert.match(calls.body.message, /"application_id" must not contain NUL/);
    // A path no route takes is named as the path, not by the router's wildcard.
    const unrouted = await call(h.url, "GET", "/v3/applications/api_tokens/%00", { token: app.token });
    assert.equal(unrouted.status, 400, JSON.stringify(unrouted.body));
    assert.match(JSON.stringify(unrouted.body), /\\"path\\" must not contain NUL/);
    assert.deepEqual(errorLines(), []);
  });

  it("Stream's routes refuse NUL in their own error format, before the api_key is looked up", async () => {
    for (const path of ["/app?api_key=%00", "/chat/api/hook/events?api_key=a%00b"]) {
      const answer = await fetch(`${h.url}${path}`, { headers: { authorization: "a.b.c", "stream-auth-type": "jwt" } });
      const body = (await answer.json()) as { code: number; message: string; StatusCode: number };
      assert.equal(answer.status, 400, `${path}: ${JSON.stringify(body)}`);
      assert.equal(body.StatusCode, 400);
      assert.equal(body.code, 4);
      assert.match(body.message, /"api_key" must not contain NUL/);
    }
    assert.deepEqual(errorLines(), []);
  });

  it("an event's payload keeps its NUL characters: it is the customer's content, stored as JSON text", async () => {
    const published = await call(h.url, "POST", "/v1/events", {
      token: app.token,
      body: { category: "user:block", note: "a\u0000b" },
    });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    const event = await call(h.url, "GET", `/v1/events/${published.body.id}`, { token: app.token });
    assert.equal(event.status, 200);
    assert.equal(event.body.payload.note, "a\u0000b");
  });

  it("settings take whole numbers written 1e3 or 1000.0; payloads keep them as written", async () => {
    const patch = (rawBody: string) =>
      call(h.url, "PATCH", `/v1/endpoints/${endpointId}`, { token: app.token, rawBody });
    const whole = await patch('{"rate_limit": 1e3, "max_concurrency": 4.0}');
    assert.equal(whole.status, 200, JSON.stringify(whole.body));
    assert.deepEqual([whole.body.rate_limit, whole.body.max_concurrency], [1000, 4]);
    for (const rawBody of ['{"rate_limit": 1.5}', '{"rate_limit": 1.0000000000000001}', '{"rate_limit": 1e400}']) {
      const refused = await patch(rawBody);
      assert.equal(refused.status, 400, rawBody);
      assert.equal(refused.body.error.parameter, "rate_limit", rawBody);
    }
    const published = await call(h.url, "POST", "/v1/events", {
      token: app.token,
      rawBody: '{"category": "user:block", "n": 1e3, "m": 1000.0}',
    });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    const stored = await fetch(`${h.url}/v1/events/${published.body.id}`, { headers: { "api-token": app.token } });
    assert.match(await stored.text(), /"n":1e3,"m":1000\.0/);
  });

  it("a crafted cursor is a 400 naming cursor on every listing", async () => {
    const crafted = [
      [1e20, "x"],
      [1.5, "x"],
      [-5, "x"],
      ["9223372036854775807", "x"],
      [1796131457013, "\u0000"],
    ];
    // JSON.stringify writes -1e400 as null; the text is what an attacker sends.
    const encoded = [
      Buffer.from('[-1e400,"x"]').toString("base64url"),
      Buffer.from('[9223372036854775807,"x"]').toString("base64url"),
      ...crafted.map(cursorOf),
    ];
    for (const listing of ["/v1/deliveries", "/v1/events", "/v1/endpoints"]) {
      for (const cursor of encoded) {
        const answer = await call(h.url, "GET", `${listing}?cursor=${cursor}`, { token: app.token });
        const what = `${listing} ${Buffer.from(cursor, "base64url").toString()}`;
        assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.error.parameter, "cursor", what);
      }
    }
    assert.deepEqual(errorLines(), []);
    // A cursor Herald wrote still pages.
    const first = await call(h.url, "GET", "/v1/events?limit=1", { token: app.token });
    assert.equal(first.status, 200);
  });

  it("a limit or hours that is not plain digits says what it must be, not a pattern", async () => {
    for (const limit of ["-1", "1e2", "50.0", "0", "501", "abc"]) {
      const answer = await call(h.url, "GET", `/v1/deliveries?limit=${limit}`, { token: app.token });
      assert.equal(answer.status, 400, limit);
      assert.equal(answer.body.error.message, '"limit" must be an integer from 1 to 500.', limit);
    }
    for (const hours of ["1.5", "-1", "0", "25"]) {
      const answer = await call(h.url, "GET", `/v1/stats?hours=${hours}`, { token: app.token });
      assert.equal(answer.status, 400, hours);
      assert.equal(answer.body.error.message, '"hours" must be an integer from 1 to 24.', hours);
    }
    assert.equal((await call(h.url, "GET", "/v1/deliveries?limit=500", { token: app.token })).status, 200);
  });

  it("routes without query parameters refuse unknown ones by name", async () => {
    for (const path of ["/v1/session?x=1", "/v1/live/deliveries?foo=1", "/v1/catalog?vocabulary=sendbird"]) {
      // Bounded: a stream that was accepted would never end.
      const answer = await fetch(`${h.url}${path}`, {
        headers: { "api-token": app.token },
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(answer.status, 400, path);
      const body = (await answer.json()) as { error: { message: string } };
      assert.match(body.error.message, /Unknown query parameter/, path);
    }
  });

  it("a missing dashboard file: one wording, and a long path is not echoed whole", async () => {
    for (const path of ["/dashboard/assets/nope.js", `/dashboard/assets/${"a".repeat(8000)}.js`]) {
      const answer = await rawGet(h.url, path);
      assert.equal(answer.status, 404, path.slice(0, 60));
      assert.equal(JSON.parse(answer.body.toString()).error.message, "No such dashboard file.");
    }
    const unknown = await rawGet(h.url, `/${"b".repeat(8000)}`);
    assert.equal(unknown.status, 404);
    const message: string = JSON.parse(unknown.body.toString()).error.message;
    assert.ok(message.length < 300, `a ${message.length}-character message`);
    assert.match(message, /^No route GET \/b+…\.$/);
  });

  it("dashboard assets are sent gzipped or in brotli to clients that accept it, the same bytes once decoded", async () => {
    const page = (await rawGet(h.url, "/dashboard/")).body.toString();
    const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(page)?.[1];
    assert.ok(script, "index.html names its script");
    const plain = await rawGet(h.url, script);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers["content-encoding"], undefined);
    const gzipped = await rawGet(h.url, script, { "accept-encoding": "gzip" });
    assert.equal(gzipped.status, 200);
    assert.equal(gzipped.headers["content-encoding"], "gzip");
    assert.ok(gzipped.body.length < plain.body.length / 2, `${gzipped.body.length} of ${plain.body.length} bytes`);
    assert.deepEqual(gunzipSync(gzipped.body), plain.body);
    const brotli = await rawGet(h.url, script, { "accept-encoding": "br, gzip" });
    assert.equal(brotli.headers["content-encoding"], "br");
    // The compressed copies are not files of their own: asked for by name, they are not found.
    for (const copy of [`${script}.br`, `${script}.gz`, "/dashboard/index.html.br"]) {
      assert.equal((await rawGet(h.url, copy, { "accept-encoding": "br" })).status, 404, copy);
    }
  });
});

describe("HERALD_ALLOW_NETWORKS", () => {
  const warnings = async (allowNetworks: string[]) => {
    const log = capturedLogger("info");
    const h = await startHerald({ logger: log.logger, allowNetworks });
    await h.close();
    return log.lines().filter((line) => line.level === 40 && /HERALD_ALLOW_NETWORKS/.test(line.msg));
  };

  it("warns at start when it opens a whole address family or a public range, naming them", async () => {
    const [warning] = await warnings(["0.0.0.0/0", "127.0.0.0/8", "::/0", "8.8.8.0/24", "10.0.0.0/7"]);
    assert.ok(warning, "no warning");
    assert.deepEqual(warning.allowNetworks, ["0.0.0.0/0", "::/0", "8.8.8.0/24", "10.0.0.0/7"]);
  });

  it("stays quiet for private ranges, loopback and host names", async () => {
    assert.deepEqual(await warnings(["127.0.0.0/8", "::1", "10.0.0.0/8", "fd00::/8", "hooks.internal"]), []);
  });
});
