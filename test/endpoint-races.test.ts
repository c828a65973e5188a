// Requests that race on one endpoint. Nothing waits for ever for an endpoint that no longer exists:
// resends and recoveries that race its deletion, and rows another process committed for it after the
// delete, all end failed ("endpoint deleted"). Concurrent changes all count, and none brings a
// deleted endpoint back.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openStore } from "../src/storage/open-store.js";
import {
  call,
  eventually,
  QUICK_DEAD_LETTERS,
  sleep,
  startHerald,
  TEST_STORE,
  type TestHerald,
  testDatabase,
} from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

describe("deliveries of a deleted endpoint", () => {
  let h: TestHerald;
  let receiver: Receiver;
  let app: { appId: string; token: string };
  let status = 200;
  before(async () => {
    // Dead letters are the point here: no breaker may hold the failing deliveries back as pending.
    h = await startHerald(QUICK_DEAD_LETTERS);
    receiver = await Receiver.start(() => status);
    app = await h.createApp();
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  const newEndpoint = async () => {
    const created = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: receiver.url, profile: "sendbird", filter: ["user:block"] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id as string;
  };
  const deliveriesOf = async (endpointId: string) => {
    const { body } = await call(h.url, "GET", `/v1/deliveries?endpoint_id=${endpointId}&limit=500`, {
      token: app.token,
    });
    return body.deliveries as { id: string; status: string; ended_reason: string | null }[];
  };
  const publish = (count: number) =>
    call(h.url, "POST", "/v1/events/batch", {
      token: app.token,
      body: { events: Array.from({ length: count }, (_, n) => ({ category: "user:block", n })) },
    });
  /** Until none of the endpoint's deliveries is pending; then each ended one says why. */
  const nonePending = (endpointId: string) =>
    eventually(async () => {
      const deliveries = await deliveriesOf(endpointId);
      return deliveries.some((d) => d.status === "pending") ? undefined : deliveries;
    }, 15_000);

  it("an attempt in flight when its endpoint is deleted ends the delivery as it ends: a success counts, a failure stays ended", async () => {
    const slow = (status: number) => Receiver.start(() => sleep(1500).then(() => status));
    const [answering, failing] = await Promise.all([slow(200), slow(500)]);
    try {
      const endpoints: string[] = [];
      for (const target of [answering, failing]) {
        const created = await call(h.url, "POST", "/v1/endpoints", {
          token: app.token,
          body: { url: target.url, profile: "sendbird", filter: ["user:block"] },
        });
        endpoints.push(created.body.id);
      }
      assert.equal((await publish(1)).status, 202);
      await Promise.all([answering.waitFor(1, 10_000), failing.waitFor(1, 10_000)]);
      for (const id of endpoints) {
        assert.equal((await call(h.url, "DELETE", `/v1/endpoints/${id}`, { token: app.token })).status, 204);
      }
      for (const id of endpoints) {
        assert.deepEqual(
          (await deliveriesOf(id)).map((d) => [d.status, d.ended_reason]),
          [["failed", "endpoint deleted"]],
        );
      }
      type Row = { status: string; ended_reason: string | null; attempts: number };
      const ended = (id: string) =>
        eventually(async () => {
          const [delivery] = (await deliveriesOf(id)) as unknown as Row[];
          return delivery && delivery.attempts === 1 ? delivery : undefined;
        });
      const [succeeded, failed] = await Promise.all(endpoints.map(ended));
      assert.deepEqual([succeeded!.status, succeeded!.ended_reason], ["succeeded", null]);
      assert.deepEqual([failed!.status, failed!.ended_reason], ["failed", "endpoint deleted"]);
      await sleep(1000);
      assert.deepEqual(
        (await deliveriesOf(endpoints[1]!)).map((d) => d.status),
        ["failed"],
        "a failed attempt brought the delivery back to pending",
      );
    } finally {
      await Promise.all([answering.close(), failing.close()]);
    }
  });

  it("resends racing the endpoint's delete: each is refused or ended, none left pending", async () => {
    status = 200;
    const endpointId = await newEndpoint();
    assert.equal((await publish(30)).status, 202);
    const sent = await eventually(async () => {
      const deliveries = await deliveriesOf(endpointId);
      return deliveries.length === 30 && deliveries.every((d) => d.status === "succeeded") ? deliveries : undefined;
    }, 15_000);
    const answers = await Promise.all([
      ...sent.map((d) => call(h.url, "POST", `/v1/deliveries/${d.id}/retry`, { token: app.token })),
      call(h.url, "DELETE", `/v1/endpoints/${endpointId}`, { token: app.token }),
    ]);
    assert.equal(answers.at(-1)!.status, 204);
    for (const answer of answers.slice(0, -1)) {
      assert.ok([202, 409].includes(answer.status), `${answer.status} ${JSON.stringify(answer.body)}`);
    }
    const after = await nonePending(endpointId);
    assert.equal(after.length, 30);
    const resent = after.filter((d) => d.status !== "succeeded");
    for (const delivery of resent) assert.equal(delivery.ended_reason, "endpoint deleted");
    // Once the endpoint is gone, a resend is a 409 that changes nothing.
    const late = await call(h.url, "POST", `/v1/deliveries/${sent[0]!.id}/retry`, { token: app.token });
    assert.equal(late.status, 409);
    assert.match(late.body.error.message, /endpoint has been deleted/);
  });

  it("a recovery racing the endpoint's delete stops, and leaves nothing pending", async () => {
    status = 503;
    const endpointId = await newEndpoint();
    for (let batch = 0; batch < 3; batch++) assert.equal((await publish(300)).status, 202);
    await eventually(async () => {
      const { body } = await call(h.url, "GET", `/v1/deliveries?endpoint_id=${endpointId}&status=failed&limit=500`, {
        token: app.token,
      });
      // 500 listed (one page): most of the 900 have failed; the rest follow while the recovery runs.
      return body.deliveries.length === 500 ? true : undefined;
    }, 30_000);
    status = 200;
    const since = new Date(Date.now() - 60_000).toISOString();
    const started = await call(h.url, "POST", `/v1/endpoints/${endpointId}/recover`, {
      token: app.token,
      body: { since },
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal((await call(h.url, "DELETE", `/v1/endpoints/${endpointId}`, { token: app.token })).status, 204);
    const job = await eventually(async () => {
      const { body } = await call(h.url, "GET", `/v1/recoveries/${started.body.id}`, { token: app.token });
      return body.status === "running" ? undefined : body;
    }, 15_000);
    assert.ok(["failed", "succeeded"].includes(job.status), JSON.stringify(job));
    if (job.status === "failed") assert.equal(job.error, "The endpoint has been deleted.");
    await nonePending(endpointId);
  });

  it("two PATCHes at once both count; a PATCH racing the DELETE never brings the endpoint back", async () => {
    for (let round = 0; round < 10; round++) {
      const endpointId = await newEndpoint();
      const patch = (body: unknown) => call(h.url, "PATCH", `/v1/endpoints/${endpointId}`, { token: app.token, body });
      const [disabled, described] = await Promise.all([
        patch({ enabled: false }),
        patch({ description: `round ${round}` }),
      ]);
      assert.deepEqual([disabled.status, described.status], [200, 200]);
      const { body } = await call(h.url, "GET", `/v1/endpoints/${endpointId}`, { token: app.token });
      assert.deepEqual([body.enabled, body.description], [false, `round ${round}`], "neither change lost");

      const [patched, deleted] = await Promise.all([
        patch({ description: "after" }),
        call(h.url, "DELETE", `/v1/endpoints/${endpointId}`, { token: app.token }),
      ]);
      assert.equal(deleted.status, 204);
      assert.ok([200, 404].includes(patched.status), JSON.stringify(patched.body));
      assert.equal((await call(h.url, "GET", `/v1/endpoints/${endpointId}`, { token: app.token })).status, 404);
    }
  });

  it("two Sendbird settings updates at once both count", async () => {
    for (let round = 0; round < 10; round++) {
      const put = (body: unknown) =>
        call(h.url, "PUT", "/v3/applications/settings/webhook", { headers: { "api-token": app.token }, body });
      const members = round % 2 === 0;
      const answers = await Promise.all([
        put({ enabled: true, url: receiver.url, include_members: members }),
        put({ enabled_events: round % 2 === 0 ? ["group_channel:join"] : ["group_channel:leave"] }),
      ]);
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200],
      );
      const { body } = await call(h.url, "GET", "/v3/applications/settings/webhook", {
        headers: { "api-token": app.token },
      });
      assert.equal(body.webhook.include_members, members, JSON.stringify(body));
      assert.deepEqual(body.webhook.enabled_events, round % 2 === 0 ? ["group_channel:join"] : ["group_channel:leave"]);
    }
  });

  it("pending rows committed for it after its delete (another process's publish) are ended by the worker", async () => {
    status = 200;
    const endpointId = await newEndpoint();
    assert.equal((await call(h.url, "DELETE", `/v1/endpoints/${endpointId}`, { token: app.token })).status, 204);
    // Another process that read the endpoint before the delete commits its publish after it.
    const other = openStore(h.database.url, { sqliteSynchronous: "normal", databasePoolSize: 1 });
    await other.migrate();
    try {
      const now = Date.now();
      await other.publish({
        appId: app.appId,
        events: [{ id: "evt_late", appId: app.appId, type: "user:block", payload: "{}", createdAt: now }],
        deliveries: [
          {
            id: "dlv_late",
            appId: app.appId,
            eventId: "evt_late",
            endpointId,
            body: "{}",
            maxAttempts: 3,
            createdAt: now,
          },
        ],
      });
    } finally {
      await other.close();
    }
    const [late] = await nonePending(endpointId);
    assert.deepEqual([late?.id, late?.status, late?.ended_reason], ["dlv_late", "failed", "endpoint deleted"]);
    assert.equal(receiver.requests.filter((r) => r.raw.toString() === "{}").length, 0, "never sent");
  });
});

describe("credential caps under concurrency", () => {
  let h: TestHerald;
  before(async () => {
    h = await startHerald({ maxApiTokens: 5 });
  });
  after(() => h.close());

  it("40 API keys and 40 tokens asked for at once: exactly the cap is made, each key newer than the last", async () => {
    const app = await h.createApp();
    const post = (path: string, body?: unknown) => call(h.url, "POST", path, { token: app.token, body });
    const answers = await Promise.all([
      ...Array.from({ length: 40 }, () => post("/v1/keys")),
      ...Array.from({ length: 40 }, () => post("/v1/tokens", { scopes: ["read"] })),
    ]);
    const made = (from: number) => answers.slice(from, from + 40).filter((a) => a.status === 201).length;
    for (const answer of answers) assert.ok([201, 409].includes(answer.status), JSON.stringify(answer.body));
    assert.deepEqual([made(0), made(40)], [5, 5]);
    const keys = (await call(h.url, "GET", "/v1/keys", { token: app.token })).body.keys as { created_at: string }[];
    assert.equal(keys.length, 5);
    assert.equal(new Set(keys.map((k) => k.created_at)).size, 5, "no two keys of one time: the newest is one key");
    const tokens = (await call(h.url, "GET", "/v1/tokens", { token: app.token })).body.tokens as { kind: string }[];
    assert.equal(tokens.filter((t) => t.kind === "secondary").length, 5);
  });
});

describe("exclusively, across processes", {
  skip: TEST_STORE !== "postgres" && "one process serves a SQLite file's API",
}, () => {
  it("two stores on one database (two processes) never run work of one key at once", async () => {
    const database = testDatabase();
    const open = () => openStore(database.url, { sqliteSynchronous: "normal", databasePoolSize: 2 });
    const [one, two] = [open(), open()];
    try {
      await one.migrate();
      await two.migrate();
      let inside = 0;
      let most = 0;
      const work = async () => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((resolve) => setTimeout(resolve, 60));
        inside--;
      };
      await Promise.all(Array.from({ length: 8 }, (_, n) => (n % 2 ? one : two).exclusively("k", work)));
      assert.equal(most, 1);
      // Other keys do not wait for each other.
      await Promise.all(["a", "b"].map((key, n) => (n ? one : two).exclusively(key, work)));
      assert.equal(most, 2);
    } finally {
      await one.close();
      await two.close();
      await database.drop();
    }
  });
});
