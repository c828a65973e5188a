import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EndpointDirectory } from "../src/apps/endpoint-directory.js";
import { OperationalEvents } from "../src/ingest/operational-events.js";
import { openStore } from "../src/storage/open-store.js";
import { capturedLogger } from "./helpers/capture.js";
import { call, eventually, sleep, startHerald, type TestHerald, testDatabase } from "./helpers/herald.js";
import { type Behaviour, Receiver } from "./helpers/receiver.js";
import { createBareApp, endpointRecord } from "./helpers/store.js";

type Json = Record<string, any>;

const OPERATIONAL = ["herald.delivery.failed", "herald.endpoint.disabled", "herald.endpoint.enabled"];

describe("operational events", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    h = await startHerald({ retryDelayScale: 0.0001, failedEventsPerMinute: 3, endpointBreakerFailures: 1000 });
  });
  after(async () => {
    await h.close();
    await Promise.all(receivers.map((r) => r.close()));
  });
  const receiver = async (behaviour: Behaviour = () => 200) => {
    const started = await Receiver.start(behaviour);
    receivers.push(started);
    return started;
  };
  const endpoint = async (token: string, body: Json) => {
    const created = await call(h.url, "POST", "/v1/endpoints", { token, body: { profile: "standard", ...body } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as Json;
  };
  const publish = async (token: string, count: number) => {
    const events = Array.from({ length: count }, (_, i) => ({ category: "user:block", blocker: { user_id: `u${i}` } }));
    assert.equal((await call(h.url, "POST", "/v1/events/batch", { token, body: { events } })).status, 202);
  };
  /** The bodies a receiver got, of one type, in whichever field its wire format names types. */
  const ofType = (r: Receiver, type: string) =>
    r.requests.map((_, i) => r.json(i) as Json).filter((body) => (body.type ?? body.category) === type);

  it("are filter types of every vocabulary, by exact name; unknown herald types are refused", async () => {
    const app = await h.createApp();
    const sendbird = await endpoint(app.token, { url: "http://127.0.0.1:9/x", filter: OPERATIONAL });
    assert.deepEqual(sendbird.filter, OPERATIONAL);
    const refused = await call(h.url, "POST", "/v1/endpoints", {
      token: app.token,
      body: { url: "http://127.0.0.1:9/x", filter: ["herald.endpoint.exploded"] },
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error.parameter, "filter[0]");
    const { body: catalog } = await call(h.url, "GET", "/v1/catalog");
    const herald = catalog.vocabularies.find((vocabulary: Json) => vocabulary.id === "herald");
    assert.deepEqual(
      herald.types.map((type: Json) => type.type),
      ["herald.endpoint.disabled", "herald.endpoint.enabled", "herald.delivery.failed"],
    );
    assert.ok(herald.types.every((type: Json) => type.description && type.sample.type === type.type));
  });

  it("herald.delivery.failed goes to subscribed endpoints in their own format, never to the failed one or to '*'", async () => {
    const dead = await receiver(() => 500);
    const standardWatcher = await receiver();
    const sendbirdWatcher = await receiver();
    const everything = await receiver();
    const app = await h.createApp();
    // Sendbird's three attempts: the delivery ends failed within a second.
    const failing = await endpoint(app.token, {
      url: dead.url,
      profile: "sendbird",
      filter: ["user:block", "herald.delivery.failed"],
    });
    await endpoint(app.token, { url: standardWatcher.url, filter: ["herald.delivery.failed"] });
    await endpoint(app.token, { url: sendbirdWatcher.url, profile: "sendbird", filter: ["herald.delivery.failed"] });
    await endpoint(app.token, { url: everything.url, filter: ["*"] });
    await publish(app.token, 1);
    await standardWatcher.waitFor(1, 15_000);
    await sendbirdWatcher.waitFor(1, 15_000);
    const [report] = ofType(standardWatcher, "herald.delivery.failed");
    assert.equal(report?.data.endpoint.id, failing.id);
    assert.equal(report?.data.delivery.event_type, "user:block");
    assert.equal(report?.data.delivery.attempts, 3);
    assert.equal(report?.data.delivery.last_status_code, 500);
    const [sendbirdReport] = ofType(sendbirdWatcher, "herald.delivery.failed");
    assert.equal(sendbirdReport?.category, "herald.delivery.failed");
    assert.equal(sendbirdReport?.endpoint.id, failing.id);
    await sleep(500);
    assert.equal(ofType(dead, "herald.delivery.failed").length, 0, "the failed endpoint was told about itself");
    assert.equal(dead.requests.length, 3);
    assert.equal(everything.requests.length, 1);
    assert.equal((everything.json(0) as Json).type, "user:block");
  });

  it("herald.delivery.failed is capped per app per minute", async () => {
    const dead = await receiver(() => 500);
    const watcher = await receiver();
    const app = await h.createApp();
    await endpoint(app.token, { url: dead.url, profile: "sendbird", filter: ["user:block"] });
    await endpoint(app.token, { url: watcher.url, filter: ["herald.delivery.failed"] });
    await publish(app.token, 10);
    await eventually(async () => {
      const { body } = await call(h.url, "GET", "/v1/deliveries?status=failed&limit=100", { token: app.token });
      return body.deliveries.length >= 10 ? true : undefined;
    }, 20_000);
    await sleep(1000);
    assert.equal(ofType(watcher, "herald.delivery.failed").length, 3);
  });

  it("herald.endpoint.disabled and herald.endpoint.enabled follow the endpoint's switch", async () => {
    const watcher = await receiver();
    const app = await h.createApp();
    await endpoint(app.token, { url: watcher.url, filter: ["herald.endpoint.disabled", "herald.endpoint.enabled"] });
    const other = await endpoint(app.token, { url: "http://127.0.0.1:9/x", filter: ["user:block"] });
    const patch = (enabled: boolean) =>
      call(h.url, "PATCH", `/v1/endpoints/${other.id}`, { token: app.token, body: { enabled } });
    assert.equal((await patch(false)).status, 200);
    await watcher.waitFor(1);
    assert.equal((await patch(true)).status, 200);
    await watcher.waitFor(2);
    const [disabled] = ofType(watcher, "herald.endpoint.disabled");
    const [enabled] = ofType(watcher, "herald.endpoint.enabled");
    assert.equal(disabled?.data.endpoint.id, other.id);
    assert.equal(enabled?.data.endpoint.id, other.id);
  });
});

describe("an operational event of an app deleted meanwhile", () => {
  it("is dropped, logged at debug and not as a failure", async () => {
    const database = testDatabase();
    const store = openStore(database.url, { sqliteSynchronous: "normal", databasePoolSize: 2 });
    try {
      await store.migrate();
      await createBareApp(store, "A", Date.now());
      const watcher = endpointRecord("A", "A-watch", { eventTypes: ["herald.endpoint.disabled"] });
      await store.saveEndpoint(watcher);
      // The directory still knows the app after the delete below, as any process's cache may.
      const directory = new EndpointDirectory(store, 60_000);
      const log = capturedLogger();
      const woken: string[][] = [];
      const events = new OperationalEvents(store, directory, 10, log.logger, (ids) => woken.push([...ids]));
      events.endpointDisabled(watcher, "first");
      await eventually(() => woken.length === 1 || undefined);
      assert.deepEqual(woken, [["A-watch"]]);
      assert.equal(await store.deleteApp("A"), true);
      events.endpointDisabled(watcher, "after the delete");
      await eventually(() => log.lines().find((line) => /app deleted/.test(line.msg)));
      assert.deepEqual(
        log.lines().filter((line) => line.level >= 40),
        [],
        "a deleted app's operational event was logged as a failure",
      );
      assert.equal(woken.length, 1);
    } finally {
      await store.close();
      await database.drop();
    }
  });
});
