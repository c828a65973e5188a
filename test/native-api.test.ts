import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, configureChatWebhook, eventually, startHerald, type TestHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

const CALLS_EVENT = { category: "direct_call:dial", call: { call_id: "c1" } };

describe("native API: endpoints, tokens, apps, principals and scopes", () => {
  let h: TestHerald;
  let receiver: Receiver;
  let app: { appId: string; token: string };
  let other: { appId: string; token: string };

  before(async () => {
    h = await startHerald({ maxApiTokens: 3 });
    receiver = await Receiver.start();
    app = await h.createApp("main");
    other = await h.createApp("other");
  });
  after(() => Promise.all([h.close(), receiver.close()]));

  const as = (token: string) => ({
    get: (path: string) => call(h.url, "GET", path, { token }),
    post: (path: string, body?: unknown) => call(h.url, "POST", path, { token, body }),
    patch: (path: string, body: unknown) => call(h.url, "PATCH", path, { token, body }),
    delete: (path: string) => call(h.url, "DELETE", path, { token }),
  });

  it("creates, reads, updates and deletes an endpoint; its secret is shown only at creation", async () => {
    const api = as(app.token);
    const created = await api.post("/v1/endpoints", {
      url: receiver.url,
      description: "billing",
      filter: ["group_channel:*", "user:block"],
      headers: { "X-Tenant": "acme" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.id, /^ep_/);
    assert.match(created.body.secret, /^whsec_/);
    assert.equal(created.body.profile, "standard");
    assert.equal(created.body.vocabulary, "sendbird");
    assert.deepEqual(created.body.headers, { "x-tenant": "acme" });
    const got = await api.get(`/v1/endpoints/${created.body.id}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.secret, undefined);
    assert.ok(!JSON.stringify(got.body).includes(created.body.secret.slice(6)), "the secret is never returned again");
    assert.equal(got.body.signing_keys.length, 1);
    const listed = await api.get("/v1/endpoints");
    assert.ok(!JSON.stringify(listed.body).includes(created.body.secret.slice(6)));
    assert.ok(listed.body.endpoints.some((e: { id: string }) => e.id === created.body.id));
    const patched = await api.patch(`/v1/endpoints/${created.body.id}`, { enabled: false, filter: [] });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.enabled, false);
    assert.deepEqual(patched.body.filter, ["*"], "an empty filter means every type");
    assert.equal(patched.body.description, "billing", "fields left out keep their values");
    assert.equal((await api.delete(`/v1/endpoints/${created.body.id}`)).status, 204);
    assert.equal((await api.get(`/v1/endpoints/${created.body.id}`)).status, 404);
  });

  it("refuses bad endpoint input with errors that name the field, changing nothing", async () => {
    const api = as(app.token);
    const before = await h.counts();
    const cases: [unknown, RegExp][] = [
      [{ url: "ftp://example.com/x" }, /url/],
      [{ url: "not a url" }, /url/],
      [{ url: receiver.url, profile: "carrier-pigeon" }, /profile/],
      [{ url: receiver.url, filter: ["group_chanel:*"] }, /filter\[0\]/],
      [{ url: receiver.url, filter: ["user:blok"] }, /user:block/],
      [{ url: receiver.url, headers: { "webhook-signature": "v1,forged" } }, /webhook-signature/],
      [{ url: receiver.url, headers: { "Bad Header": "x" } }, /header/],
      [{ url: receiver.url, headers: { "x-a": "line\r\nbreak" } }, /control/],
      [{ url: receiver.url, headers: { "x-u": "\u00e9\u2713" } }, /past U\+00FF/],
      [{ url: receiver.url, headers: { "X-A": "1", "x-a": "2" } }, /given twice: header names are case-insensitive/],
      [{ url: receiver.url, surprise: true }, /surprise/],
      [{ filter: ["*"] }, /url/],
      [{ url: receiver.url, enabled: "yes" }, /enabled/],
      [{ url: receiver.url, profile: "sendbird", ed25519: true }, /ed25519/],
      // A terminal escape (clear the screen) in text that `herald endpoint list` prints.
      [{ url: receiver.url, description: "ok\u001b[2Jgone" }, /"description" must not contain control characters/],
      [{ url: receiver.url, description: "c1\u009b2J" }, /"description" must not contain control characters/],
    ];
    for (const [body, pattern] of cases) {
      const { status, body: error } = await api.post("/v1/endpoints", body);
      assert.equal(status, 400, JSON.stringify(body));
      assert.match(error.error.message, pattern, JSON.stringify(error));
      assert.equal(typeof error.error.code, "string");
    }
    const unknownQuery = await api.get("/v1/deliveries?colour=blue");
    assert.equal(unknownQuery.status, 400);
    assert.match(unknownQuery.body.error.message, /colour/);
    assert.deepEqual(await h.counts(), before);
  });

  it("routes wildcard filters exactly: group_channel:* gets group channel events and nothing else", async () => {
    const own = await Receiver.start();
    try {
      const api = as(app.token);
      const created = await api.post("/v1/endpoints", { url: own.url, filter: ["group_channel:*"] });
      const categories = ["group_channel:create", "open_channel:create", "group_channel:join", "user:block"];
      const published = await api.post("/v1/events/batch", { events: categories.map((category) => ({ category })) });
      assert.equal(published.status, 202);
      await own.waitFor(2);
      // Everything for the batch has been committed: the deliveries list is complete now.
      const { body } = await api.get(`/v1/deliveries?endpoint_id=${created.body.id}`);
      assert.deepEqual(body.deliveries.map((d: { type: string }) => d.type).sort(), [
        "group_channel:create",
        "group_channel:join",
      ]);
      await api.delete(`/v1/endpoints/${created.body.id}`);
      assert.deepEqual(own.requests.map((r) => JSON.parse(r.raw.toString()).type).sort(), [
        "group_channel:create",
        "group_channel:join",
      ]);
    } finally {
      await own.close();
    }
  });

  it("shows an endpoint's extra header values to a token that may manage it, and only their names to a read-only one", async () => {
    const api = as(app.token);
    const created = await api.post("/v1/endpoints", {
      url: "http://127.0.0.1:9/headers",
      headers: { "x-tenant": "acme", authorization: "Bearer receiver-secret" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const reader = await api.post("/v1/tokens", { scopes: ["read"] });
    assert.equal(reader.status, 201, JSON.stringify(reader.body));
    const asReader = as(reader.body.token);
    try {
      const one = await asReader.get(`/v1/endpoints/${created.body.id}`);
      const listed = (await asReader.get("/v1/endpoints")).body.endpoints.find(
        (e: { id: string }) => e.id === created.body.id,
      );
      for (const shown of [one.body, listed]) {
        assert.deepEqual(shown.headers, { "x-tenant": "[redacted]", authorization: "[redacted]" });
      }
      assert.doesNotMatch(JSON.stringify([one.body, listed]), /receiver-secret/);
      assert.equal(
        (await api.get(`/v1/endpoints/${created.body.id}`)).body.headers.authorization,
        "Bearer receiver-secret",
      );
    } finally {
      await api.delete(`/v1/endpoints/${created.body.id}`);
    }
  });

  it("sends an endpoint's extra headers, never over its own", async () => {
    const own = await Receiver.start();
    try {
      const api = as(app.token);
      const created = await api.post("/v1/endpoints", {
        url: own.url,
        filter: ["user:unblock"],
        headers: { "x-tenant": "acme", authorization: "Bearer receiver-secret" },
      });
      await api.post("/v1/events", { category: "user:unblock" });
      await own.waitFor(1);
      const headers = own.requests[0]!.headers;
      assert.equal(headers["x-tenant"], "acme");
      assert.equal(headers.authorization, "Bearer receiver-secret");
      assert.equal(
        headers["webhook-id"],
        (await api.get(`/v1/deliveries?endpoint_id=${created.body.id}`)).body.deliveries[0].id,
      );
      await api.delete(`/v1/endpoints/${created.body.id}`);
    } finally {
      await own.close();
    }
  });

  it("shows the Sendbird Chat and Calls settings as endpoints, and changes made on either side in the other", async () => {
    await configureChatWebhook(h.url, app.token, { url: receiver.url, enabled_events: ["user:block"] });
    const api = as(app.token);
    const { body } = await api.get("/v1/endpoints");
    const chat = body.endpoints.find((e: { profile: string }) => e.profile === "sendbird");
    assert.ok(chat, JSON.stringify(body));
    assert.deepEqual(chat.filter, ["user:block"]);
    assert.equal(chat.url, receiver.url);
    const patched = await api.patch(`/v1/endpoints/${chat.id}`, { filter: ["user:block", "user:unblock"] });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const settings = await call(h.url, "GET", "/v3/applications/settings/webhook", { token: app.token });
    assert.deepEqual(settings.body.webhook.enabled_events, ["user:block", "user:unblock"]);
    const calls = await call(h.url, "PUT", `/v1/applications/${app.appId}/settings/webhook`, {
      token: app.token,
      body: { enabled: true, url: receiver.url, enabled_events: ["direct_call:dial"] },
    });
    assert.equal(calls.status, 200);
    const after = await api.get("/v1/endpoints");
    const callsEndpoint = after.body.endpoints.find((e: { profile: string }) => e.profile === "sendbird-calls");
    assert.deepEqual(callsEndpoint.filter, ["direct_call:dial"]);
    const rotate = await api.post(`/v1/endpoints/${chat.id}/secret/rotate`);
    assert.equal(rotate.status, 409, "Sendbird endpoints are signed with the master token");
  });

  it("answers 404 for another app's ids on every route, never 403", async () => {
    const mine = await as(app.token).post("/v1/endpoints", { url: receiver.url, filter: ["user:block"] });
    const event = await as(app.token).post("/v1/events", { category: "user:block" });
    const delivery = await eventually(async () => {
      const { body } = await as(app.token).get(`/v1/deliveries?event_id=${event.body.id}`);
      return body.deliveries[0];
    });
    const tokens = await as(app.token).get("/v1/tokens");
    const stranger = as(other.token);
    const attempts = [
      stranger.get(`/v1/endpoints/${mine.body.id}`),
      stranger.patch(`/v1/endpoints/${mine.body.id}`, { enabled: false }),
      stranger.delete(`/v1/endpoints/${mine.body.id}`),
      stranger.post(`/v1/endpoints/${mine.body.id}/secret/rotate`),
      stranger.get(`/v1/events/${event.body.id}`),
      stranger.get(`/v1/deliveries/${delivery.id}`),
      stranger.post(`/v1/deliveries/${delivery.id}/retry`),
      stranger.delete(`/v1/tokens/${tokens.body.tokens[0].id}`),
    ];
    for (const { status, body } of await Promise.all(attempts)) {
      assert.equal(status, 404, JSON.stringify(body));
      assert.equal(body.error.code, "not_found");
    }
    const lists = await Promise.all([
      stranger.get("/v1/endpoints"),
      stranger.get("/v1/events"),
      stranger.get(`/v1/deliveries?event_id=${event.body.id}`),
    ]);
    assert.ok(!lists.some(({ body }) => JSON.stringify(body).includes(mine.body.id)));
    assert.ok(!lists.some(({ body }) => JSON.stringify(body).includes(event.body.id)));
    // Untouched: still there, still enabled.
    const still = await as(app.token).get(`/v1/endpoints/${mine.body.id}`);
    assert.equal(still.body.enabled, true);
    assert.equal(still.body.signing_keys.length, 1);
  });

  it("gives a publish-only token 403 on every manage route, and lets it publish", async () => {
    const created = await as(app.token).post("/v1/tokens", { scopes: ["publish"] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const publisher = as(created.body.token);
    const endpoint = (await as(app.token).get("/v1/endpoints")).body.endpoints[0];
    const manage = [
      publisher.post("/v1/endpoints", { url: receiver.url }),
      publisher.patch(`/v1/endpoints/${endpoint.id}`, { url: "http://127.0.0.1:1/elsewhere" }),
      publisher.delete(`/v1/endpoints/${endpoint.id}`),
      publisher.post(`/v1/endpoints/${endpoint.id}/secret/rotate`),
      publisher.post("/v1/deliveries/whatever/retry"),
      publisher.post("/v1/tokens", {}),
      publisher.get("/v1/tokens"),
      publisher.post("/v1/tokens/master/rotate"),
      call(h.url, "PUT", "/v3/applications/settings/webhook", {
        token: created.body.token,
        body: { url: "http://127.0.0.1:1/elsewhere" },
      }),
      call(h.url, "PUT", `/v1/applications/${app.appId}/settings/webhook`, {
        token: created.body.token,
        body: { url: "http://127.0.0.1:1/elsewhere" },
      }),
    ];
    for (const { status, body } of await Promise.all(manage)) assert.equal(status, 403, JSON.stringify(body));
    for (const read of [publisher.get("/v1/endpoints"), publisher.get("/v1/deliveries")]) {
      assert.equal((await read).status, 403);
    }
    assert.equal((await publisher.post("/v1/events", { category: "user:block" })).status, 202);
    const unchanged = await as(app.token).get(`/v1/endpoints/${endpoint.id}`);
    assert.equal(unchanged.body.url, endpoint.url);
  });

  it("caps secondary tokens per app, and revokes them", async () => {
    const api = as(other.token);
    const made = [];
    for (let i = 0; i < 3; i++) made.push((await api.post("/v1/tokens", {})).body);
    const over = await api.post("/v1/tokens", {});
    assert.equal(over.status, 409);
    assert.match(over.body.error.message, /at most 3/);
    const sendbirdOver = await call(h.url, "POST", "/v3/applications/api_tokens", { token: other.token });
    assert.equal(sendbirdOver.status, 400);
    assert.equal((await api.delete(`/v1/tokens/${made[0].id}`)).status, 204);
    assert.equal((await call(h.url, "GET", "/v1/events", { token: made[0].token })).status, 401);
    assert.equal((await api.post("/v1/tokens", {})).status, 201);
  });

  it("authenticates before reading the body: no credentials is 401, whatever the body", async () => {
    const huge = "x".repeat(2 * 1024 * 1024);
    for (const rawBody of ["{not json", huge]) {
      const { status, body } = await call(h.url, "POST", "/v1/events", { rawBody, token: "wrong" });
      assert.equal(status, 401, JSON.stringify(body).slice(0, 200));
      const sendbird = await call(h.url, "PUT", "/v3/applications/settings/webhook", { rawBody });
      assert.equal(sendbird.status, 401);
      assert.equal(sendbird.body.code, 400401);
    }
  });

  it("rotates the master token: the new one signs at once, the old one authenticates until the overlap ends", async () => {
    const tenant = await h.createApp("rotating");
    const own = await Receiver.start();
    try {
      await configureChatWebhook(h.url, tenant.token, { url: own.url });
      // One delivery first, so the worker has the app (and its old token) cached when the rotation comes.
      await call(h.url, "POST", "/v1/events", { token: tenant.token, body: { category: "user:unblock" } });
      await own.waitFor(1);
      const rotated = await call(h.url, "POST", `/v1/apps/${tenant.appId}/rotate-token`, {
        headers: { authorization: `Bearer ${h.adminToken}` },
        body: { overlap_seconds: 1 },
      });
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const fresh = rotated.body.api_token as string;
      assert.notEqual(fresh, tenant.token);
      // The old token still publishes during the overlap; the webhook is signed with the new one.
      assert.equal((await call(h.url, "POST", "/v1/events", { token: tenant.token, body: CALLS_EVENT })).status, 202);
      assert.equal(
        (await call(h.url, "POST", "/v1/events", { token: tenant.token, body: { category: "user:block" } })).status,
        202,
      );
      await own.waitFor(2);
      const { createHmac } = await import("node:crypto");
      const request = own.requests[1]!;
      const expected = createHmac("sha256", fresh).update(request.raw).digest("hex");
      assert.equal(request.headers["x-sendbird-signature"], expected);
      await eventually(async () => {
        const { status } = await call(h.url, "GET", "/v1/events", { token: tenant.token });
        return status === 401 ? true : undefined;
      }, 5000);
      assert.equal((await call(h.url, "GET", "/v1/events", { token: fresh })).status, 200);
    } finally {
      await own.close();
    }
  });

  it("lets only the admin manage apps, and deletes an app with all its data", async () => {
    const admin = { authorization: `Bearer ${h.adminToken}` };
    assert.equal((await call(h.url, "GET", "/v1/apps", { token: app.token })).status, 403);
    assert.equal((await call(h.url, "GET", "/v1/apps", { headers: { authorization: "Bearer nope" } })).status, 401);
    const escaped = await call(h.url, "POST", "/v1/apps", { headers: admin, body: { name: "a\u001b]0;owned\u0007" } });
    assert.equal(escaped.status, 400);
    assert.equal(escaped.body.error.parameter, "name");
    assert.match(escaped.body.error.message, /must not contain control characters/);
    const created = await call(h.url, "POST", "/v1/apps", { headers: admin, body: { name: "doomed ✓ é" } });
    assert.equal(created.status, 201);
    const token = created.body.api_token as string;
    await call(h.url, "POST", "/v1/endpoints", { token, body: { url: receiver.url, filter: ["user:block"] } });
    await call(h.url, "POST", "/v1/events", { token, body: { category: "user:block" } });
    const listed = await call(h.url, "GET", "/v1/apps?limit=500", { headers: admin });
    assert.ok(listed.body.apps.some((a: { id: string }) => a.id === created.body.id));
    // The admin acts for an app with Herald-App-Id.
    const asAdmin = await call(h.url, "GET", "/v1/endpoints", {
      headers: { ...admin, "herald-app-id": created.body.id },
    });
    assert.equal(asAdmin.body.endpoints.length, 1);
    const before = await h.counts();
    assert.equal((await call(h.url, "DELETE", `/v1/apps/${created.body.id}`, { headers: admin })).status, 204);
    assert.equal((await call(h.url, "GET", `/v1/apps/${created.body.id}`, { headers: admin })).status, 404);
    assert.equal((await call(h.url, "GET", "/v1/events", { token })).status, 401);
    const afterCounts = await h.counts();
    assert.equal(afterCounts.endpoints, before.endpoints - 1);
    assert.equal(afterCounts.events, before.events - 1);
    // Other apps keep theirs.
    assert.equal((await call(h.url, "GET", "/v1/endpoints", { token: app.token })).status, 200);
    assert.ok((await as(app.token).get("/v1/endpoints")).body.endpoints.length > 0);
  });

  it("answers errors raised below the routes in the native format, as JSON", async () => {
    const { request } = await import("node:http");
    const raw = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; type: string; body: any }>((resolve, reject) => {
        const req = request(`${h.url}${path}`, { method: "GET", headers }, (res) => {
          let text = "";
          res.on("data", (chunk) => (text += chunk));
          res.on("end", () =>
            resolve({ status: res.statusCode!, type: String(res.headers["content-type"]), body: JSON.parse(text) }),
          );
        });
        req.on("error", reject);
        req.end();
      });
    const badEncoding = await raw("/v1/events/%E0%A4%A", { "api-token": app.token });
    assert.equal(badEncoding.status, 400);
    assert.equal(typeof badEncoding.body.error.message, "string");
    const longUrl = await raw(`/v1/events?type=${"x".repeat(20_000)}`, { "api-token": app.token });
    assert.equal(longUrl.status, 431);
    assert.match(longUrl.type, /application\/json/);
    assert.equal(longUrl.body.error.code, "headers_too_large");
    const bigHeaders = await raw("/v1/events", { "api-token": app.token, "x-filler": "y".repeat(20_000) });
    assert.equal(bigHeaders.status, 431);
    assert.equal(bigHeaders.body.error.code, "headers_too_large");
    const unknownRoute = await raw("/v1/nothing-here");
    assert.equal(unknownRoute.status, 404);
    assert.equal(unknownRoute.body.error.code, "not_found");
  });

  it("pages every list with cursors", async () => {
    const tenant = await h.createApp("paged");
    for (let i = 0; i < 5; i++) {
      await call(h.url, "POST", "/v1/endpoints", { token: tenant.token, body: { url: `${receiver.url}/${i}` } });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${cursor}` : "";
      const { body } = await call(h.url, "GET", `/v1/endpoints?limit=2${query}`, { token: tenant.token });
      seen.push(...body.endpoints.map((e: { id: string }) => e.id));
      cursor = body.next_cursor;
    } while (cursor);
    assert.equal(seen.length, 5);
    assert.equal(new Set(seen).size, 5);
    const bad = await call(h.url, "GET", "/v1/endpoints?cursor=garbage", { token: tenant.token });
    assert.equal(bad.status, 400);
  });
});
