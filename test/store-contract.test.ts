// The Store contract: every method of src/storage/store.ts, edge cases included, written once over a
// store factory. scripts/run-tests.js runs this file once per store (HERALD_TEST_STORE), and
// testDatabase() hands each test a fresh SQLite file or a fresh PostgreSQL schema. Times are explicit
// (`now` parameters), never slept for.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { MIGRATIONS } from "../src/storage/migrations.js";
import { openStore } from "../src/storage/open-store.js";
import type {
  ApiTokenRecord,
  App,
  AttemptRecord,
  DeliveryView,
  Endpoint,
  NewDelivery,
  NewEvent,
  SigningKey,
} from "../src/storage/records.js";
import type { Store } from "../src/storage/store.js";
import { TEST_STORE, type TestDatabase, testDatabase } from "./helpers/herald.js";
import { runSql } from "./helpers/sql.js";
import { endpointRecord as bareEndpoint } from "./helpers/store.js";

/** A store on a database of its own, plus what a test needs to look past the interface. */
interface StoreUnderTest {
  store: Store;
  /** A second store on the same database, as another process would open it (not yet migrated). */
  reopen(): Store;
  /** Rows of a table matching every column = value, straight from the database. */
  rowCount(table: string, where?: Record<string, string | string[]>): Promise<number>;
  /** Plain SQL on the database, past the store: `?` marks, numbered for PostgreSQL. */
  sql(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}
type StoreFactory = () => Promise<StoreUnderTest>;

const OPEN_OPTIONS = { sqliteSynchronous: "normal", databasePoolSize: 4 } as const;

/** Counts rows matching every column = value. */
async function countRows(database: TestDatabase, table: string, where: Record<string, string | string[]> = {}) {
  const conditions: string[] = [];
  const params: string[] = [];
  for (const [column, value] of Object.entries(where)) {
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0) return 0;
    params.push(...values);
    conditions.push(`${column} IN (${values.map(() => "?").join(", ")})`);
  }
  const filter = conditions.length ? ` WHERE ${conditions.join(" AND ")}` : "";
  const [row] = await runSql(database, `SELECT COUNT(*) AS n FROM ${table}${filter}`, params);
  return Number(row!.n);
}

const openTestStore: StoreFactory = async () => {
  const database = testDatabase();
  const opened: Store[] = [];
  const open = () => {
    const store = openStore(database.url, OPEN_OPTIONS);
    opened.push(store);
    return store;
  };
  const store = open();
  await store.migrate();
  return {
    store,
    reopen: open,
    rowCount: (table, where) => countRows(database, table, where),
    sql: (text, params) => runSql(database, text, params),
    async close() {
      for (const s of opened) await s.close();
      await database.drop();
    },
  };
};

// ---------------------------------------------------------------------------------------------------
// Fixtures: plain records with explicit ids and times.

const T = 1_700_000_000_000;

const appRecord = (id: string, createdAt = T): App => ({ id, name: `app ${id}`, signingKey: `sk-${id}`, createdAt });

const tokenRecord = (appId: string, tokenHash: string, overrides: Partial<ApiTokenRecord> = {}): ApiTokenRecord => ({
  tokenHash,
  appId,
  kind: "secondary",
  preview: `${tokenHash.slice(0, 4)}…`,
  scopes: ["publish", "read", "manage"],
  createdAt: T,
  expiresAt: null,
  ...overrides,
});

const masterOf = (appId: string, createdAt = T) => tokenRecord(appId, `master-${appId}`, { kind: "master", createdAt });

const endpointRecord = (appId: string, id: string, overrides: Partial<Endpoint> = {}): Endpoint =>
  bareEndpoint(appId, id, { createdAt: T, updatedAt: T, ...overrides });

const keyRecord = (appId: string, endpointId: string, id: string, overrides: Partial<SigningKey> = {}): SigningKey => ({
  id,
  appId,
  endpointId,
  kind: "hmac",
  secret: `whsec_${id}`,
  publicKey: null,
  createdAt: T,
  expiresAt: null,
  ...overrides,
});

const eventRecord = (appId: string, id: string, overrides: Partial<NewEvent> = {}): NewEvent => ({
  id,
  appId,
  type: "group_channel:message_send",
  payload: JSON.stringify({ id, text: "hello 👋" }),
  createdAt: T,
  ...overrides,
});

const deliveryRecord = (
  event: NewEvent,
  endpointId: string,
  id: string,
  overrides: Partial<NewDelivery> = {},
): NewDelivery => ({
  id,
  appId: event.appId,
  eventId: event.id,
  endpointId,
  body: `body of ${id} to ${endpointId}`,
  maxAttempts: 3,
  createdAt: event.createdAt,
  ...overrides,
});

const attemptRecord = (
  deliveryId: string,
  attempt: number,
  state: AttemptRecord["state"],
  overrides: Partial<AttemptRecord> = {},
): AttemptRecord => ({
  deliveryId,
  attempt,
  state,
  startedAt: T + attempt * 1000,
  durationMs: 12 + attempt,
  statusCode: state === "succeeded" ? 200 : 500,
  error: null,
  errorClass: state === "succeeded" ? null : "status",
  requestHeaders: { "content-type": "application/json", "x-webhook-attempt": String(attempt) },
  responseHeaders: { "content-type": "text/plain" },
  responseBody: state === "succeeded" ? null : `oops ${attempt}`,
  truncated: false,
  bodySha256: `${"ab".repeat(31)}${String(attempt).padStart(2, "0")}`,
  nextAttemptAt: state === "pending" ? T + attempt * 1000 + 250 : T + attempt * 1000,
  ...overrides,
});

const ids = (rows: { id: string }[]) => rows.map((row) => row.id);
const sortedIds = (rows: { id: string }[]) => ids(rows).sort();

// ---------------------------------------------------------------------------------------------------

export function storeContract(name: string, factory: StoreFactory): void {
  describe(`Store contract (${name})`, () => {
    let t: StoreUnderTest;
    let store: Store;
    beforeEach(async () => {
      t = await factory();
      store = t.store;
    });
    afterEach(async () => {
      await t.close();
    });

    /** How many tokens of this kind an app holds, expired ones included. */
    const tokensOf = async (appId: string, kind: "master" | "secondary") =>
      (await store.listApiTokens(appId, 0)).filter((token) => token.kind === kind).length;

    /** The stored response of an idempotency key in scope "S" (the scope most tests use). */
    const responseOf = async (appId: string, key: string, since: number, scope = "S") =>
      (await store.findIdempotentResponse(appId, scope, key, since))?.response;

    /** An app with its master token. */
    const createApp = async (id: string, createdAt = T) => {
      const app = appRecord(id, createdAt);
      await store.createApp(app, masterOf(id, createdAt));
      return app;
    };

    /** Publishes one event per id to every endpoint given; returns the deliveries' ids by event. */
    const publishEvents = async (
      appId: string,
      events: { id: string; type?: string; createdAt?: number }[],
      endpointIds: string[],
    ) => {
      const newEvents = events.map((e) =>
        eventRecord(appId, e.id, { createdAt: e.createdAt ?? T, ...(e.type ? { type: e.type } : {}) }),
      );
      const deliveries = newEvents.flatMap((e) => endpointIds.map((ep) => deliveryRecord(e, ep, `${e.id}-${ep}`)));
      assert.equal(await store.publish({ appId, events: newEvents, deliveries }), true);
      return deliveries;
    };

    describe("migrate", () => {
      it("is a no-op the second time, on the same store and on another one opened on the same database", async () => {
        await createApp("A");
        await store.migrate();
        const other = t.reopen();
        await other.migrate();
        await other.migrate();
        assert.equal(await t.rowCount("schema_migrations"), MIGRATIONS.length, "each step recorded once");
        assert.deepEqual(await other.getApp("A"), appRecord("A"), "data kept");
        await createApp("B");
        assert.deepEqual(ids(await other.listApps({ limit: 10 })), ["B", "A"]);
      });

      it("refuses a database a newer Herald migrated past the steps this one knows", async () => {
        const newer = MIGRATIONS.at(-1)!.version + 1;
        await t.sql("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from the future', ?)", [
          newer,
          T,
        ]);
        await assert.rejects(
          t.reopen().migrate(),
          new RegExp(
            `schema is at step ${newer}, applied by a newer Herald; this Herald knows steps up to ${newer - 1}`,
          ),
        );
      });
    });

    describe("apps", () => {
      it("creates an app with its master token, and gets it back", async () => {
        await createApp("A", T + 5);
        assert.deepEqual(await store.getApp("A"), appRecord("A", T + 5));
        assert.equal(await store.getApp("nope"), undefined);
        const found = await store.findToken("master-A", T);
        assert.deepEqual(found, { app: appRecord("A", T + 5), token: masterOf("A", T + 5) });
        assert.equal(await tokensOf("A", "master"), 1);
      });

      it("writes nothing when the app id is taken (app and token in one transaction)", async () => {
        await createApp("A");
        await assert.rejects(
          store.createApp(appRecord("A", T + 1), tokenRecord("A", "second-master", { kind: "master" })),
        );
        assert.deepEqual(await store.getApp("A"), appRecord("A"));
        assert.equal(await store.findToken("second-master", T), undefined);
        assert.equal(await tokensOf("A", "master"), 1);
      });

      it("lists apps newest first, paged by a (createdAt, id) cursor that is stable when createdAt ties", async () => {
        assert.deepEqual(await store.listApps({ limit: 10 }), []);
        await createApp("a1", T);
        await createApp("b2", T + 10);
        await createApp("c3", T + 10);
        await createApp("a3", T + 10);
        await createApp("z0", T + 20);
        await createApp("y0", T - 5);
        const all = ["z0", "c3", "b2", "a3", "a1", "y0"];
        assert.deepEqual(ids(await store.listApps({ limit: 100 })), all);
        const seen: string[] = [];
        let before: { createdAt: number; id: string } | undefined;
        for (let page = 0; page < 10; page++) {
          const rows = await store.listApps({ limit: 2, ...(before ? { before } : {}) });
          if (rows.length === 0) break;
          assert.ok(rows.length <= 2);
          seen.push(...ids(rows));
          const last = rows.at(-1)!;
          before = { createdAt: last.createdAt, id: last.id };
        }
        assert.deepEqual(seen, all, "pages of 2 cover every app once, in order");
        assert.deepEqual(ids(await store.listApps({ limit: 10, before: { createdAt: T + 10, id: "b2" } })), [
          "a3",
          "a1",
          "y0",
        ]);
        assert.deepEqual(await store.listApps({ limit: 10, before: { createdAt: T - 5, id: "y0" } }), []);
        assert.deepEqual(await store.listApps({ limit: 3 }), [
          appRecord("z0", T + 20),
          appRecord("c3", T + 10),
          appRecord("b2", T + 10),
        ]);
      });
    });

    describe("deleteApp", () => {
      /** An app with one of everything: tokens, endpoints, keys, events, deliveries, attempts, an idempotency key. */
      const populate = async (appId: string) => {
        await createApp(appId);
        await store.addApiToken(tokenRecord(appId, `secondary-${appId}`));
        const endpoints = [`${appId}-ep1`, `${appId}-ep2`];
        for (const id of endpoints) await store.saveEndpoint(endpointRecord(appId, id));
        await store.addSigningKeys(endpoints[0]!, [keyRecord(appId, endpoints[0]!, `${appId}-key1`)]);
        const event = eventRecord(appId, `${appId}-evt1`);
        const deliveries = endpoints.map((ep) => deliveryRecord(event, ep, `${event.id}-${ep}`));
        assert.equal(
          await store.publish({
            appId,
            events: [event],
            deliveries,
            idempotency: {
              scope: "S",
              requestSha256: "h",
              key: "same-key",
              response: `response ${appId}`,
              createdAt: T,
              expiredBefore: T - 1000,
            },
          }),
          true,
        );
        await store.claimDue(endpoints[0]!, 10, T, T + 1000);
        await store.recordAttempts([attemptRecord(deliveries[0]!.id, 1, "pending")]);
        return { endpoints, event, deliveryIds: ids(deliveries) };
      };

      const snapshot = async (appId: string, endpointIds: string[]) => ({
        app: await store.getApp(appId),
        tokens: await store.listApiTokens(appId, T),
        endpoints: await store.listEndpoints(appId),
        keys: await Promise.all(endpointIds.map((id) => store.listSigningKeys(id, T))),
        events: await store.listEvents(appId, { limit: 100 }),
        deliveries: await store.listDeliveries(appId, { limit: 100, withPayload: true }),
        idempotent: await responseOf(appId, "same-key", 0),
      });

      const tableCounts = async (appId: string, deliveryIds: string[]) => ({
        apps: await t.rowCount("apps", { id: appId }),
        api_tokens: await t.rowCount("api_tokens", { app_id: appId }),
        endpoints: await t.rowCount("endpoints", { app_id: appId }),
        signing_keys: await t.rowCount("signing_keys", { app_id: appId }),
        events: await t.rowCount("events", { app_id: appId }),
        deliveries: await t.rowCount("deliveries", { app_id: appId }),
        attempts: await t.rowCount("attempts", { delivery_id: deliveryIds }),
        delivery_bodies: await t.rowCount("delivery_bodies", { delivery_id: deliveryIds }),
        idempotency_keys: await t.rowCount("idempotency_keys", { app_id: appId }),
      });

      it("removes everything the app owns and nothing of another app", async () => {
        const a = await populate("A");
        const b = await populate("B");
        const bBefore = await snapshot("B", b.endpoints);
        const bCounts = await tableCounts("B", b.deliveryIds);
        assert.deepEqual(bCounts, {
          apps: 1,
          api_tokens: 2,
          endpoints: 2,
          signing_keys: 1,
          events: 1,
          deliveries: 2,
          attempts: 1,
          delivery_bodies: 2,
          idempotency_keys: 1,
        });
        assert.deepEqual(await tableCounts("A", a.deliveryIds), bCounts, "A was populated alike");

        assert.equal(await store.deleteApp("A"), true);

        assert.deepEqual(await tableCounts("A", a.deliveryIds), {
          apps: 0,
          api_tokens: 0,
          endpoints: 0,
          signing_keys: 0,
          events: 0,
          deliveries: 0,
          attempts: 0,
          delivery_bodies: 0,
          idempotency_keys: 0,
        });
        assert.equal(await store.getApp("A"), undefined);
        assert.equal(await store.findToken("master-A", T), undefined);
        assert.equal(await store.findToken("secondary-A", T), undefined);
        assert.equal(await store.getEndpoint("A-ep1"), undefined);
        assert.deepEqual(await store.listSigningKeys("A-ep1", T), []);
        assert.equal(await store.getEvent("A", a.event.id), undefined);
        assert.equal(await store.getDelivery("A", a.deliveryIds[0]!), undefined);
        assert.equal(await responseOf("A", "same-key", 0), undefined);
        assert.deepEqual(await store.claimDue("A-ep2", 10, T + 10_000, T + 20_000), []);
        const pending = (await store.endpointsWithPending()).map((e) => e.endpointId).sort();
        assert.deepEqual(pending, ["B-ep1", "B-ep2"]);

        assert.deepEqual(await snapshot("B", b.endpoints), bBefore, "B is untouched");
        assert.deepEqual(await tableCounts("B", b.deliveryIds), bCounts);

        assert.equal(await store.deleteApp("A"), false, "already gone");
        assert.equal(await store.deleteApp("nope"), false);
        // The id and the idempotency key are free again.
        await createApp("A");
        assert.equal(
          await store.publish({
            appId: "A",
            events: [eventRecord("A", "A-evt2")],
            deliveries: [],
            idempotency: {
              scope: "S",
              requestSha256: "h",
              key: "same-key",
              response: "again",
              createdAt: T,
              expiredBefore: T - 1000,
            },
          }),
          true,
        );
      });
    });

    describe("publishing and deleting an app", () => {
      const bigBatch = (appId: string, endpointIds: string[]) => {
        const events = Array.from({ length: 2000 }, (_, i) => eventRecord(appId, `${appId}-evt-${i}`));
        const deliveries = events.flatMap((e) => endpointIds.map((ep) => deliveryRecord(e, ep, `${e.id}-${ep}`)));
        return { appId, events, deliveries };
      };
      const leftOf = async (appId: string) => ({
        events: await t.rowCount("events", { app_id: appId }),
        deliveries: await t.rowCount("deliveries", { app_id: appId }),
        delivery_bodies: Number(
          (await t.sql("SELECT COUNT(*) AS n FROM delivery_bodies WHERE delivery_id LIKE ?", [`${appId}-evt-%`]))[0]!.n,
        ),
      });
      const nothing = { events: 0, deliveries: 0, delivery_bodies: 0 };

      it("refuses a publish for an app that no longer exists with not_found, and stores nothing", async () => {
        await createApp("A");
        await store.saveEndpoint(endpointRecord("A", "A-ep1"));
        assert.equal(await store.deleteApp("A"), true);
        await assert.rejects(store.publish(bigBatch("A", ["A-ep1"])), { kind: "not_found" });
        assert.deepEqual(await leftOf("A"), nothing);
      });

      it("leaves nothing of a publish under way when its app is deleted: it commits before the delete, or is refused", async () => {
        await createApp("A");
        await createApp("B");
        const endpoints = ["A-ep1", "A-ep2"];
        for (const id of endpoints) await store.saveEndpoint(endpointRecord("A", id));
        const publishing = store.publish(bigBatch("A", endpoints)).then(
          () => "committed",
          (error: { kind?: string }) => error.kind,
        );
        const deleted = await store.deleteApp("A");
        const outcome = await publishing;
        assert.equal(deleted, true);
        // Refused: not_found once the app is gone, or (PostgreSQL) unavailable while its delete runs.
        assert.ok(["committed", "not_found", "unavailable"].includes(outcome!), `the publish ended as ${outcome}`);
        assert.deepEqual(await leftOf("A"), nothing, `nothing left after a publish that ${outcome}`);
        await publishEvents("B", [{ id: "B-evt" }], []);
        assert.equal(await t.rowCount("events", { app_id: "B" }), 1, "another app publishes as before");
      });
    });

    describe("rotateMasterToken", () => {
      it("makes the new master token the signing key at once; the previous ones expire at the given time", async () => {
        await createApp("A");
        await createApp("B");
        await store.addApiToken(tokenRecord("A", "secondary-A", { createdAt: T + 1 }));
        const m2 = tokenRecord("A", "master-A-2", { kind: "master", createdAt: T + 100 });
        assert.equal(await store.rotateMasterToken("A", m2, "sk-A-2", T + 1000), true);

        assert.equal((await store.getApp("A"))?.signingKey, "sk-A-2");
        const old = await store.findToken("master-A", T + 999);
        assert.equal(old?.token.expiresAt, T + 1000, "the previous master token expires at the given time");
        assert.equal(old?.app.signingKey, "sk-A-2", "and it belongs to the app, which signs with the new key");
        assert.equal(await store.findToken("master-A", T + 1000), undefined, "expired at that very millisecond");
        assert.deepEqual(await store.findToken("master-A-2", T + 10_000_000), {
          app: { ...appRecord("A"), signingKey: "sk-A-2" },
          token: m2,
        });
        assert.equal((await store.findToken("secondary-A", T + 10_000_000))?.token.expiresAt, null);
        assert.deepEqual(
          (await store.listApiTokens("A", T + 999)).map((x) => x.tokenHash),
          ["master-A", "secondary-A", "master-A-2"],
        );
        assert.deepEqual(
          (await store.listApiTokens("A", T + 1000)).map((x) => x.tokenHash),
          ["secondary-A", "master-A-2"],
        );

        // A second rotation expires the current master, and never extends an earlier expiry.
        const m3 = tokenRecord("A", "master-A-3", { kind: "master", createdAt: T + 200 });
        assert.equal(await store.rotateMasterToken("A", m3, "sk-A-3", T + 5000), true);
        assert.equal((await store.findToken("master-A", T + 999))?.token.expiresAt, T + 1000);
        assert.equal(await store.findToken("master-A", T + 1000), undefined);
        assert.equal((await store.findToken("master-A-2", T + 4999))?.token.expiresAt, T + 5000);
        assert.equal(await store.findToken("master-A-2", T + 5000), undefined);
        assert.equal((await store.getApp("A"))?.signingKey, "sk-A-3");

        // Another app is untouched.
        assert.deepEqual(await store.getApp("B"), appRecord("B"));
        assert.deepEqual(await store.findToken("master-B", T + 10_000_000), {
          app: appRecord("B"),
          token: masterOf("B"),
        });
      });

      it("answers false for an unknown app and writes nothing", async () => {
        await createApp("A");
        const next = tokenRecord("nope", "master-nope", { kind: "master" });
        assert.equal(await store.rotateMasterToken("nope", next, "sk", T + 1000), false);
        assert.equal(await t.rowCount("api_tokens", { token_hash: "master-nope" }), 0);
        assert.equal((await store.findToken("master-A", T + 2000))?.token.expiresAt, null);
      });
    });

    describe("API tokens", () => {
      it("adds, finds, lists (unexpired, oldest first), counts and deletes tokens, per app", async () => {
        await createApp("A");
        await createApp("B");
        const readOnly = tokenRecord("A", "t-read", { scopes: ["read"], createdAt: T + 20, preview: "t-re…" });
        const publishOnly = tokenRecord("A", "t-publish", { scopes: ["publish"], createdAt: T + 10 });
        const expiring = tokenRecord("A", "t-expiring", { createdAt: T + 30, expiresAt: T + 100 });
        const ofB = tokenRecord("B", "t-b", { createdAt: T + 5 });
        for (const token of [readOnly, publishOnly, expiring, ofB]) await store.addApiToken(token);

        assert.deepEqual(await store.findToken("t-read", T), { app: appRecord("A"), token: readOnly });
        assert.deepEqual(await store.findToken("t-b", T), { app: appRecord("B"), token: ofB });
        assert.equal(await store.findToken("unknown", T), undefined);
        assert.deepEqual((await store.findToken("t-expiring", T + 99))?.token, expiring);
        assert.equal(await store.findToken("t-expiring", T + 100), undefined, "expired at expiresAt");

        assert.deepEqual(await store.listApiTokens("A", T + 99), [masterOf("A"), publishOnly, readOnly, expiring]);
        assert.deepEqual(await store.listApiTokens("A", T + 100), [masterOf("A"), publishOnly, readOnly]);
        assert.deepEqual(await store.listApiTokens("B", T), [masterOf("B"), ofB]);
        assert.deepEqual(await store.listApiTokens("nope", T), []);

        assert.equal(await tokensOf("A", "secondary"), 3);
        assert.equal(await tokensOf("A", "master"), 1);
        assert.equal(await tokensOf("B", "secondary"), 1);
        assert.equal(await tokensOf("nope", "secondary"), 0);

        assert.equal(await store.deleteApiToken("A", "master-A"), false, "a master token is never deleted");
        assert.ok(await store.findToken("master-A", T));
        assert.equal(await store.deleteApiToken("A", "t-b"), false, "another app's token is not deleted");
        assert.ok(await store.findToken("t-b", T));
        assert.equal(await store.deleteApiToken("B", "t-read"), false);
        assert.equal(await store.deleteApiToken("A", "unknown"), false);
        assert.equal(await store.deleteApiToken("A", "t-read"), true);
        assert.equal(await store.deleteApiToken("A", "t-read"), false, "already gone");
        assert.equal(await store.findToken("t-read", T), undefined);
        assert.equal(await tokensOf("A", "secondary"), 2);
        assert.equal(await tokensOf("B", "secondary"), 1);
      });

      it("refuses a token hash that exists already", async () => {
        await createApp("A");
        await createApp("B");
        await store.addApiToken(tokenRecord("A", "dup"));
        await assert.rejects(store.addApiToken(tokenRecord("B", "dup")));
        assert.equal((await store.findToken("dup", T))?.app.id, "A");
      });
    });

    describe("endpoints", () => {
      const full = endpointRecord("A", "ep-full", {
        vocabulary: "sendbird-calls",
        profile: "standard",
        url: "https://hooks.example.test/in?x=1&y=ü",
        description: "Ünïcødé 🚀 and \"quotes\" and 'apostrophes'",
        enabled: false,
        disabledReason: "410 Gone",
        retryPolicy: "durable",
        eventTypes: ["group_channel:*", "user:block", "direct_call:dial"],
        headers: { "X-Tenant": "acme", authorization: "Bearer abc", "x-emoji": "✓" },
        options: { include_members: true, include_unread_count: false, nested: { list: [1, "two", null] }, n: 1.5 },
        createdAt: T + 7,
        updatedAt: T + 8,
      });

      it("round-trips every field, lists an app's endpoints oldest first, and gets one by id", async () => {
        await createApp("A");
        await createApp("B");
        const later = endpointRecord("A", "ep-later", { createdAt: T + 50, updatedAt: T + 50 });
        const tieLow = endpointRecord("A", "ep-a", { createdAt: T + 7, updatedAt: T + 7, headers: { "x-a": "1" } });
        const ofB = endpointRecord("B", "ep-b");
        for (const endpoint of [later, full, tieLow, ofB]) await store.saveEndpoint(endpoint);
        assert.deepEqual(await store.getEndpoint("ep-full"), full);
        assert.deepEqual(await store.getEndpoint("ep-a"), tieLow);
        assert.equal(await store.getEndpoint("nope"), undefined);
        assert.deepEqual(await store.listEndpoints("A"), [tieLow, full, later]);
        assert.deepEqual(await store.listEndpoints("B"), [ofB]);
        assert.deepEqual(await store.listEndpoints("nope"), []);
      });

      it("disables an endpoint on Herald's account with a reason, which enabling it clears", async () => {
        await createApp("A");
        await store.saveEndpoint(endpointRecord("A", "ep-gone"));
        assert.equal(await store.disableEndpoint("ep-gone", "410 Gone", T + 9), true);
        assert.equal(await store.disableEndpoint("ep-gone", "again", T + 10), false, "already disabled");
        assert.equal(await store.disableEndpoint("nope", "410 Gone", T + 9), false);
        const disabled = await store.getEndpoint("ep-gone");
        assert.deepEqual(
          { enabled: disabled?.enabled, reason: disabled?.disabledReason, updatedAt: disabled?.updatedAt },
          { enabled: false, reason: "410 Gone", updatedAt: T + 9 },
        );
        await store.saveEndpoint({ ...disabled!, description: "kept disabled" });
        assert.equal((await store.getEndpoint("ep-gone"))?.disabledReason, "410 Gone", "a save that keeps it off");
        await store.saveEndpoint({ ...disabled!, enabled: true });
        assert.equal((await store.getEndpoint("ep-gone"))?.disabledReason, null, "enabled again: no reason");
      });

      it("keeps failure streaks, disables an endpoint past a limit saying why, and starts afresh when enabled", async () => {
        await createApp("A");
        await store.saveEndpoint(endpointRecord("A", "ep-1"));
        await store.saveEndpoint(endpointRecord("A", "ep-2"));
        const limits = { failingForMs: 1000, failedDeliveries: 3 };
        const fail = (endpointId: string, at: number, failedDeliveries = 0) => ({
          endpointId,
          succeeded: false,
          failingSince: at,
          failedDeliveries,
        });
        assert.deepEqual(
          await store.recordEndpointHealth([fail("ep-1", T, 1), fail("ep-2", T, 2)], T + 10, limits),
          [],
        );
        // A success ends ep-1's streak; what followed it in the batch starts the next one.
        const restart = { endpointId: "ep-1", succeeded: true, failingSince: T + 500, failedDeliveries: 1 };
        assert.deepEqual(await store.recordEndpointHealth([restart], T + 600, limits), []);
        const [gone, ...more] = await store.recordEndpointHealth(
          [fail("ep-2", T + 20, 1), fail("ep-1", T + 700, 1)],
          T + 700,
          limits,
        );
        assert.deepEqual(more, [], "ep-1 has 2 failed deliveries since its success");
        assert.equal(gone?.endpointId, "ep-2");
        assert.equal(gone?.appId, "A");
        assert.match(gone!.reason, /3 deliveries in a row failed/);
        const disabled = await store.getEndpoint("ep-2");
        assert.deepEqual([disabled?.enabled, disabled?.disabledReason], [false, gone!.reason]);
        // ep-1 has failed since T + 500, not T + 700 nor T.
        assert.deepEqual(await store.recordEndpointHealth([fail("ep-1", T + 1400)], T + 1499, limits), []);
        const [late] = await store.recordEndpointHealth([fail("ep-1", T + 1500)], T + 1500, limits);
        assert.equal(late?.endpointId, "ep-1");
        assert.match(late!.reason, /no attempt succeeded for 1 s/);
        assert.deepEqual(await store.recordEndpointHealth([fail("ep-1", T + 1600, 5)], T + 1600, limits), []);
        // Enabled again: a new streak.
        await store.saveEndpoint({ ...disabled!, enabled: true });
        assert.deepEqual(await store.recordEndpointHealth([fail("ep-2", T + 2000, 2)], T + 2000, limits), []);
        const [again] = await store.recordEndpointHealth([fail("ep-2", T + 2001, 1)], T + 2001, limits);
        assert.equal(again?.endpointId, "ep-2");
        // Limits of 0 are off.
        await store.saveEndpoint({ ...disabled!, enabled: true });
        const off = { failingForMs: 0, failedDeliveries: 0 };
        assert.deepEqual(await store.recordEndpointHealth([fail("ep-2", 0, 1000)], T + 9_999_999, off), []);
      });

      it("updates an endpoint in place, keeping its app and creation time", async () => {
        await createApp("A");
        await store.saveEndpoint(full);
        const updated: Endpoint = {
          ...full,
          url: "https://elsewhere.test/hook",
          description: "",
          enabled: true,
          disabledReason: null,
          retryPolicy: "profile",
          eventTypes: [],
          headers: {},
          options: { include_members: false },
          updatedAt: T + 500,
        };
        await store.saveEndpoint(updated);
        assert.deepEqual(await store.getEndpoint(full.id), updated);
        assert.deepEqual(await store.listEndpoints("A"), [updated]);
        await store.saveEndpoint({ ...updated, createdAt: T + 999 });
        assert.equal((await store.getEndpoint(full.id))?.createdAt, full.createdAt, "createdAt never changes");
      });

      it("never moves or changes another app's endpoint through an upsert with the same id", async () => {
        await createApp("A");
        await createApp("B");
        await store.saveEndpoint(full);
        await store.saveEndpoint({
          ...full,
          appId: "B",
          url: "https://attacker.test/steal",
          enabled: true,
          headers: { evil: "1" },
          eventTypes: ["*"],
          updatedAt: T + 1000,
        });
        assert.deepEqual(await store.getEndpoint(full.id), full);
        assert.deepEqual(await store.listEndpoints("A"), [full]);
        assert.deepEqual(await store.listEndpoints("B"), []);
      });
    });

    describe("deleteEndpoint", () => {
      it("deletes an app's endpoint with its keys; its pending deliveries end failed and stay in the log", async () => {
        await createApp("A");
        await createApp("B");
        await store.saveEndpoint(endpointRecord("A", "E1"));
        await store.saveEndpoint(endpointRecord("A", "E2"));
        await store.saveEndpoint(endpointRecord("B", "EB"));
        await store.addSigningKeys("E1", [keyRecord("A", "E1", "k1"), keyRecord("A", "E1", "k1b")]);
        await store.addSigningKeys("E2", [keyRecord("A", "E2", "k2")]);
        await store.addSigningKeys("EB", [keyRecord("B", "EB", "kb")]);
        await publishEvents(
          "A",
          [{ id: "e1" }, { id: "e2", createdAt: T + 1 }, { id: "e3", createdAt: T + 2 }],
          ["E1", "E2"],
        );
        await publishEvents("B", [{ id: "eb" }], ["EB"]);
        // e1→E1 succeeds, e2→E1 fails, e3→E1 stays pending (leased).
        await store.claimDue("E1", 10, T + 10, T + 5000);
        await store.recordAttempts([attemptRecord("e1-E1", 1, "succeeded"), attemptRecord("e2-E1", 1, "failed")]);
        const e2OnE2 = await store.getDelivery("A", "e2-E2");
        const ofB = await store.listDeliveries("B", { limit: 10 });

        assert.equal(await store.deleteEndpoint("B", "E1", T + 600), false, "not B's endpoint");
        assert.ok(await store.getEndpoint("E1"));
        assert.equal((await store.listSigningKeys("E1", T)).length, 2);
        assert.equal((await store.getDelivery("A", "e3-E1"))?.state, "pending");

        assert.equal(await store.deleteEndpoint("A", "E1", T + 600), true);
        assert.equal(await store.getEndpoint("E1"), undefined);
        assert.deepEqual(ids(await store.listEndpoints("A")), ["E2"]);
        assert.deepEqual(await store.listSigningKeys("E1", T), []);
        assert.equal(await t.rowCount("signing_keys", { endpoint_id: "E1" }), 0);
        assert.deepEqual(ids(await store.listSigningKeys("E2", T)), ["k2"]);
        assert.deepEqual(ids(await store.listSigningKeys("EB", T)), ["kb"]);

        const pendingBefore = await store.getDelivery("A", "e3-E1");
        assert.equal(pendingBefore?.state, "failed");
        assert.equal(pendingBefore?.updatedAt, T + 600);
        assert.equal(pendingBefore?.attempts, 0);
        assert.equal(pendingBefore?.nextAttemptAt, null);
        assert.equal(pendingBefore?.endedReason, "endpoint deleted");
        assert.equal((await store.getDelivery("A", "e1-E1"))?.state, "succeeded", "finished ones keep their state");
        const failed = await store.getDelivery("A", "e2-E1");
        assert.equal(failed?.state, "failed");
        assert.notEqual(failed?.updatedAt, T + 600, "a finished delivery is not rewritten");
        assert.deepEqual(await store.getDelivery("A", "e2-E2"), e2OnE2, "another endpoint's deliveries untouched");
        assert.deepEqual(await store.listDeliveries("B", { limit: 10 }), ofB);
        assert.deepEqual(
          ids(await store.listDeliveries("A", { limit: 10, endpointId: "E1" })).sort(),
          ["e1-E1", "e2-E1", "e3-E1"],
          "the log keeps them",
        );
        assert.deepEqual(await store.claimDue("E1", 10, T + 100_000, T + 200_000), []);
        assert.deepEqual((await store.endpointsWithPending()).map((e) => e.endpointId).sort(), ["E2", "EB"]);

        assert.equal(await store.deleteEndpoint("A", "E1", T + 700), false, "already gone");
        assert.equal(await store.deleteEndpoint("A", "nope", T + 700), false);
      });

      it("endOrphanedDeliveries ends what a race left pending for a deleted endpoint, and nothing else", async () => {
        await createApp("A");
        await store.saveEndpoint(endpointRecord("A", "E1"));
        await store.saveEndpoint(endpointRecord("A", "E2"));
        assert.equal(await store.deleteEndpoint("A", "E1", T + 10), true);
        // A publish that read the endpoint before its delete commits after it.
        await publishEvents("A", [{ id: "late" }], ["E1", "E2"]);
        assert.equal((await store.getDelivery("A", "late-E1"))?.state, "pending");
        assert.equal(await store.endOrphanedDeliveries("E2", "endpoint deleted", T + 20), 0, "E2 exists");
        assert.equal((await store.getDelivery("A", "late-E2"))?.state, "pending");
        assert.equal(await store.endOrphanedDeliveries("E1", "endpoint deleted", T + 20), 1);
        const ended = await store.getDelivery("A", "late-E1");
        assert.deepEqual([ended?.state, ended?.endedReason, ended?.updatedAt], ["failed", "endpoint deleted", T + 20]);
        assert.deepEqual(
          (await store.endpointsWithPending()).map((e) => e.endpointId),
          ["E2"],
        );
        assert.equal(await store.endOrphanedDeliveries("E1", "endpoint deleted", T + 30), 0, "once");
      });
    });

    describe("signing keys", () => {
      it("adds keys, lists those that sign at `now` newest first, and retires the active ones with retireAt", async () => {
        await createApp("A");
        await store.saveEndpoint(endpointRecord("A", "E"));
        await store.saveEndpoint(endpointRecord("A", "F"));
        assert.deepEqual(await store.listSigningKeys("E", T), []);
        const k1 = keyRecord("A", "E", "k1", { createdAt: T + 10 });
        const short = keyRecord("A", "E", "k0", { createdAt: T + 5, expiresAt: T + 500 });
        const onF = keyRecord("A", "F", "kf", { createdAt: T + 10 });
        await store.addSigningKeys("E", [k1, short]);
        await store.addSigningKeys("F", [onF]);
        assert.deepEqual(await store.listSigningKeys("E", T + 499), [k1, short]);
        assert.deepEqual(await store.listSigningKeys("E", T + 500), [k1], "expiresAt is exclusive");

        // A rotation: two new keys (an ed25519 pair and an hmac one created at the same time), the old ones retire at T+1000.
        const ed = keyRecord("A", "E", "k2-ed", {
          kind: "ed25519",
          secret: "whsk_secret",
          publicKey: "whpk_public",
          createdAt: T + 100,
        });
        const hmac = keyRecord("A", "E", "k2-hmac", { createdAt: T + 100 });
        await store.addSigningKeys("E", [ed, hmac], T + 1000);
        assert.deepEqual(await store.listSigningKeys("E", T + 499), [hmac, ed, { ...k1, expiresAt: T + 1000 }, short]);
        assert.deepEqual(await store.listSigningKeys("E", T + 999), [hmac, ed, { ...k1, expiresAt: T + 1000 }]);
        assert.deepEqual(await store.listSigningKeys("E", T + 1000), [hmac, ed]);
        assert.deepEqual(await store.listSigningKeys("F", T + 5000), [onF], "another endpoint's keys do not retire");

        // retireAt with no new keys only retires.
        await store.addSigningKeys("E", [], T + 2000);
        assert.deepEqual(await store.listSigningKeys("E", T + 1999), [
          { ...hmac, expiresAt: T + 2000 },
          { ...ed, expiresAt: T + 2000 },
        ]);
        assert.deepEqual(await store.listSigningKeys("E", T + 2000), []);
        assert.deepEqual(await store.listSigningKeys("nope", T), []);
      });
    });

    describe("createEndpoint", () => {
      it("saves a new endpoint and its first keys together", async () => {
        await createApp("A");
        const endpoint = endpointRecord("A", "E", { profile: "standard" });
        const keys = [keyRecord("A", "E", "k1"), keyRecord("A", "E", "k2", { kind: "ed25519", publicKey: "whpk_x" })];
        await store.createEndpoint(endpoint, keys);
        assert.deepEqual(await store.getEndpoint("E"), endpoint);
        assert.deepEqual(sortedIds(await store.listSigningKeys("E", T)), ["k1", "k2"]);
        // Without keys (a format signed with the app's token), it is a plain insert.
        await store.createEndpoint(endpointRecord("A", "F"), []);
        assert.ok(await store.getEndpoint("F"));
      });

      it("writes neither when the keys cannot be written, nor when the endpoint exists already", async () => {
        await createApp("A");
        await store.createEndpoint(endpointRecord("A", "E"), [keyRecord("A", "E", "taken")]);
        // A key id that exists already fails the keys' insert: the endpoint goes with it.
        await assert.rejects(store.createEndpoint(endpointRecord("A", "G"), [keyRecord("A", "G", "taken")]));
        assert.equal(await store.getEndpoint("G"), undefined, "no endpoint without its keys");
        assert.equal(await t.rowCount("signing_keys", { endpoint_id: "G" }), 0);
        // Two keys with one id in the same call: the same.
        const twice = [keyRecord("A", "H", "dup"), keyRecord("A", "H", "dup")];
        await assert.rejects(store.createEndpoint(endpointRecord("A", "H"), twice));
        assert.equal(await store.getEndpoint("H"), undefined);
        assert.equal(await t.rowCount("signing_keys", { id: "dup" }), 0);
        // An id that exists already is not overwritten (create is no upsert), and adds no key.
        await assert.rejects(
          store.createEndpoint(endpointRecord("A", "E", { url: "https://other.test/" }), [keyRecord("A", "E", "k9")]),
        );
        assert.equal((await store.getEndpoint("E"))?.url, "https://example.test/E");
        assert.deepEqual(ids(await store.listSigningKeys("E", T)), ["taken"]);
      });
    });

    describe("publish and idempotency", () => {
      it("writes events and deliveries, which read back as published", async () => {
        await createApp("A");
        await store.saveEndpoint(endpointRecord("A", "E"));
        await store.saveEndpoint(endpointRecord("A", "F"));
        const e1 = eventRecord("A", "e1", { createdAt: T + 1 });
        const e2 = eventRecord("A", "e2", { type: "user:block", payload: '{"a":"\\u00e9\\/"}', createdAt: T + 2 });
        const deliveries = [
          deliveryRecord(e1, "E", "d1", { maxAttempts: 8 }),
          deliveryRecord(e1, "F", "d2"),
          deliveryRecord(e2, "E", "d3", { body: "exact bytes \u{1F600} \\/" }),
        ];
        assert.equal(await store.publish({ appId: "A", events: [e1, e2], deliveries }), true);
        assert.deepEqual(await store.getEvent("A", "e1"), e1);
        assert.deepEqual(await store.getEvent("A", "e2"), e2);
        const expected = (d: NewDelivery, type: string): DeliveryView => ({
          id: d.id,
          appId: "A",
          eventId: d.eventId,
          endpointId: d.endpointId,
          type,
          state: "pending",
          attempts: 0,
          maxAttempts: d.maxAttempts,
          nextAttemptAt: d.createdAt,
          createdAt: d.createdAt,
          updatedAt: d.createdAt,
          manualRetries: 0,
          endedReason: null,
          attemptLog: [],
        });
        assert.deepEqual(await store.getDelivery("A", "d1"), expected(deliveries[0]!, e1.type));
        assert.deepEqual(await store.getDelivery("A", "d3"), expected(deliveries[2]!, e2.type));
        const claimed = await store.claimDue("E", 10, T + 10, T + 100);
        assert.deepEqual(
          claimed.sort((x, y) => x.id.localeCompare(y.id)),
          [
            {
              id: "d1",
              endpointId: "E",
              type: e1.type,
              body: deliveries[0]!.body,
              attempts: 0,
              maxAttempts: 8,
              firstAttemptAt: null,
            },
            {
              id: "d3",
              endpointId: "E",
              type: e2.type,
              body: deliveries[2]!.body,
              attempts: 0,
              maxAttempts: 3,
              firstAttemptAt: null,
            },
          ],
          "the body is kept byte for byte",
        );
        // Queue numbers: E's two are leased (until T + 100), F's is due since it was published.
        const stats = await store.queueStats();
        assert.deepEqual(stats.pendingByProfile, [{ profile: "sendbird", count: 3 }]);
        assert.equal(stats.oldestDueAt, T + 1);
        // Cancelled: ended failed with no attempt; a second cancel changes nothing.
        await store.cancelDeliveries(["d1"], "cancelled: test", T + 20);
        await store.cancelDeliveries(["d1"], "cancelled: again", T + 30);
        const cancelled = await store.getDelivery("A", "d1");
        assert.equal(cancelled?.state, "failed");
        assert.equal(cancelled?.attempts, 0);
        assert.equal(cancelled?.updatedAt, T + 20);
        assert.equal(cancelled?.endedReason, "cancelled: test", "the first reason stands");
        // A resend makes it pending again, and it no longer reads as cancelled.
        await store.retryDelivery("A", "d1", 3, T + 40, 10);
        assert.equal((await store.getDelivery("A", "d1"))?.endedReason, null);
        await store.cancelDeliveries(["d1"], "cancelled: test", T + 20);
        assert.deepEqual((await store.queueStats()).pendingByProfile, [{ profile: "sendbird", count: 2 }]);
        // An event with no deliveries (no endpoint subscribed) is still kept.
        assert.equal(await store.publish({ appId: "A", events: [eventRecord("A", "e3")], deliveries: [] }), true);
        assert.ok(await store.getEvent("A", "e3"));
      });

      it("writes events, deliveries and the idempotency key in one transaction", async () => {
        await createApp("A");
        await store.saveEndpoint(endpointRecord("A", "E"));
        await publishEvents("A", [{ id: "taken" }], ["E"]);
        const e = eventRecord("A", "fresh");
        await assert.rejects(
          store.publish({
            appId: "A",
            events: [e, eventRecord("A", "taken")],
            deliveries: [deliveryRecord(e, "E", "d-fresh")],
            idempotency: {
              scope: "S",
              requestSha256: "h",
              key: "k",
              response: "r",
              createdAt: T,
              expiredBefore: T - 1,
            },
          }),
          "an event id that exists already fails the whole publish",
        );
        assert.equal(await store.getEvent("A", "fresh"), undefined);
        assert.equal(await t.rowCount("deliveries", { id: "d-fresh" }), 0);
        assert.equal(await responseOf("A", "k", 0), undefined);
        // The same publish without the clash goes through, key and all.
        assert.equal(
          await store.publish({
            appId: "A",
            events: [e],
            deliveries: [deliveryRecord(e, "E", "d-fresh")],
            idempotency: {
              scope: "S",
              requestSha256: "h",
              key: "k",
              response: "r",
              createdAt: T,
              expiredBefore: T - 1,
            },
          }),
          true,
        );
        assert.equal(await responseOf("A", "k", 0), "r");
        assert.ok(await store.getDelivery("A", "d-fresh"));
      });

      it("publishes started together each keep their own outcome: one failing or replayed leaves the others whole", async () => {
        await createApp("A");
        await createApp("B");
        await store.saveEndpoint(endpointRecord("A", "E"));
        await store.saveEndpoint(endpointRecord("B", "EB"));
        await publishEvents("A", [{ id: "taken" }], ["E"]);
        const key = (response: string) => ({
          scope: "S",
          requestSha256: "h",
          key: "same",
          response,
          createdAt: T,
          expiredBefore: T - 1,
        });
        const single = (appId: string, id: string, endpointId: string, idempotency?: ReturnType<typeof key>) => {
          const event = eventRecord(appId, id);
          return { appId, events: [event], deliveries: [deliveryRecord(event, endpointId, `d-${id}`)], idempotency };
        };
        // Started in one turn of the event loop, as concurrent requests are: the SQLite store commits them together.
        const outcomes = await Promise.allSettled([
          store.publish(single("A", "a1", "E")),
          store.publish({
            ...single("A", "clash", "E"),
            events: [eventRecord("A", "clash"), eventRecord("A", "taken")],
          }),
          store.publish(single("B", "b1", "EB", key("first"))),
          store.publish(single("B", "b2", "EB", key("second"))),
          store.publish(single("A", "a2", "E")),
        ]);
        const settled = outcomes.map((outcome) => (outcome.status === "fulfilled" ? outcome.value : "rejected"));
        assert.deepEqual([settled[0], settled[1], settled[4]], [true, "rejected", true]);
        // One of the two publishes under one key wins (which one is the store's race), the other is told so.
        assert.deepEqual([settled[2], settled[3]].sort(), [false, true]);
        const [won, lost] = settled[2] === true ? ["b1", "b2"] : ["b2", "b1"];
        for (const [appId, id] of [
          ["A", "a1"],
          ["B", won],
          ["A", "a2"],
        ] as const) {
          assert.ok(await store.getEvent(appId, id), `${id} stored`);
          assert.ok(await store.getDelivery(appId, `d-${id}`), `d-${id} stored`);
        }
        for (const [appId, id] of [
          ["A", "clash"],
          ["B", lost],
        ] as const) {
          assert.equal(await store.getEvent(appId, id), undefined, `${id} not stored`);
          assert.equal(await t.rowCount("deliveries", { id: `d-${id}` }), 0);
        }
        assert.equal(await responseOf("B", "same", 0), won === "b1" ? "first" : "second");
      });

      it("returns false and writes nothing on an unexpired duplicate key; replaces an expired one; keys are per app", async () => {
        await createApp("A");
        await createApp("B");
        await store.saveEndpoint(endpointRecord("A", "E"));
        await store.saveEndpoint(endpointRecord("B", "EB"));
        const batch = (appId: string, n: number, createdAt: number, expiredBefore: number) => {
          const event = eventRecord(appId, `${appId}-e${n}`, { createdAt });
          return {
            appId,
            events: [event],
            deliveries: [deliveryRecord(event, appId === "A" ? "E" : "EB", `${appId}-d${n}`)],
            idempotency: {
              scope: "S",
              requestSha256: "h",
              key: "key-1",
              response: `response ${appId} ${n}`,
              createdAt,
              expiredBefore,
            },
          };
        };
        assert.equal(await store.publish(batch("A", 1, T, T - 86_400_000)), true);
        const counts = { events: await t.rowCount("events"), deliveries: await t.rowCount("deliveries") };

        // A retry within the key's lifetime, even at its very first millisecond (expiredBefore = createdAt).
        assert.equal(await store.publish(batch("A", 2, T + 1000, T - 85_400_000)), false);
        assert.equal(await store.publish(batch("A", 3, T + 2000, T)), false);
        assert.deepEqual(
          { events: await t.rowCount("events"), deliveries: await t.rowCount("deliveries") },
          counts,
          "nothing written",
        );
        assert.equal(await store.getEvent("A", "A-e2"), undefined);
        assert.equal(await responseOf("A", "key-1", 0), "response A 1", "the first response stays");

        // The same key in another app is another key.
        assert.equal(await store.publish(batch("B", 1, T + 500, T - 86_400_000)), true);
        assert.equal(await responseOf("B", "key-1", 0), "response B 1");

        // Once expired (created before expiredBefore), the key is replaced and the publish goes through.
        // expiredBefore is past B's key too: only A's own key may go.
        assert.equal(await store.publish(batch("A", 4, T + 90_000_000, T + 501)), true);
        assert.ok(await store.getEvent("A", "A-e4"));
        assert.ok(await store.getDelivery("A", "A-d4"));
        assert.equal(await responseOf("A", "key-1", 0), "response A 4");
        assert.equal(await responseOf("B", "key-1", 0), "response B 1", "B's key untouched");
        assert.equal(await t.rowCount("idempotency_keys"), 2);
      });

      it("finds a stored response only for that app and key, and only if it is not older than `since`", async () => {
        await createApp("A");
        await createApp("B");
        await store.publish({
          appId: "A",
          events: [eventRecord("A", "e1")],
          deliveries: [],
          idempotency: {
            scope: "S",
            requestSha256: "h",
            key: "k",
            response: '{"ids":["e1"]}',
            createdAt: T + 100,
            expiredBefore: 0,
          },
        });
        assert.equal(await responseOf("A", "k", T + 100), '{"ids":["e1"]}');
        assert.equal(await responseOf("A", "k", 0), '{"ids":["e1"]}');
        assert.equal(await responseOf("A", "k", T + 101), undefined);
        assert.equal(await responseOf("A", "K", 0), undefined, "keys are case-sensitive");
        assert.equal(await responseOf("A", "other", 0), undefined);
        assert.equal(await responseOf("B", "k", 0), undefined);
      });

      it("scopes keys per route besides the app, and keeps the first request's fingerprint", async () => {
        await createApp("A");
        const keyed = (scope: string, id: string, requestSha256: string) =>
          store.publish({
            appId: "A",
            events: [eventRecord("A", id)],
            deliveries: [],
            idempotency: { scope, key: "k", requestSha256, response: id, createdAt: T, expiredBefore: 0 },
          });
        assert.equal(await keyed("POST /v1/events", "e1", "sha-1"), true);
        assert.equal(await keyed("POST /v1/events/batch", "e2", "sha-2"), true, "another scope is another key");
        assert.equal(await keyed("POST /v1/events", "e3", "sha-3"), false, "the same scope and key: nothing written");
        assert.equal(await store.getEvent("A", "e3"), undefined);
        assert.deepEqual(await store.findIdempotentResponse("A", "POST /v1/events", "k", 0), {
          response: "e1",
          requestSha256: "sha-1",
        });
        assert.deepEqual(await store.findIdempotentResponse("A", "POST /v1/events/batch", "k", 0), {
          response: "e2",
          requestSha256: "sha-2",
        });
        assert.equal(await store.findIdempotentResponse("A", "other", "k", 0), undefined);
      });

      it("expires idempotency keys older than `before`, over all apps", async () => {
        await createApp("A");
        await createApp("B");
        const keyed = (appId: string, key: string, createdAt: number) =>
          store.publish({
            appId,
            events: [eventRecord(appId, `${appId}-${key}-${createdAt - T}`, { createdAt })],
            deliveries: [],
            idempotency: { scope: "S", requestSha256: "h", key, response: key, createdAt, expiredBefore: 0 },
          });
        await keyed("A", "old", T);
        await keyed("B", "old", T + 5);
        await keyed("A", "edge", T + 10);
        await keyed("B", "new", T + 20);
        assert.equal(await store.expireIdempotencyKeys(T + 10), 2);
        assert.equal(await responseOf("A", "old", 0), undefined);
        assert.equal(await responseOf("B", "old", 0), undefined);
        assert.equal(await responseOf("A", "edge", 0), "edge", "not older than `before`: kept");
        assert.equal(await responseOf("B", "new", 0), "new");
        assert.equal(await store.expireIdempotencyKeys(T + 10), 0);
        assert.ok(await store.getEvent("A", "A-old-0"), "the events stay");
        // An expired key is free again.
        assert.equal(await keyed("A", "old", T + 30), true);
      });
    });

    describe("shared bodies", () => {
      it("stores a body once for the deliveries that share it, and prunes it only when none is left", async () => {
        await createApp("A");
        for (const id of ["E1", "E2", "E3"]) await store.saveEndpoint(endpointRecord("A", id));
        const event = eventRecord("A", "fan");
        const owner = deliveryRecord(event, "E1", "fan-E1", { body: "the same bytes" });
        const deliveries = [
          owner,
          deliveryRecord(event, "E2", "fan-E2", { body: "the same bytes", bodyOf: owner.id }),
          deliveryRecord(event, "E3", "fan-E3", { body: "bytes of its own" }),
        ];
        assert.equal(await store.publish({ appId: "A", events: [event], deliveries }), true);
        assert.equal(await t.rowCount("delivery_bodies"), 2, "one body for the two that share it");
        for (const d of deliveries) {
          const [claimed] = await store.claimDue(d.endpointId, 10, T, T + 1000);
          assert.equal(claimed?.body, d.body, `${d.id} claims its bytes`);
        }
        // The owner and the one with its own body succeed and are pruned; the sharer is still retrying.
        await store.recordAttempts([attemptRecord("fan-E1", 1, "succeeded"), attemptRecord("fan-E3", 1, "succeeded")]);
        const pruned = await store.pruneApp("A", T + 1, 100);
        assert.equal(pruned.deliveries, 2);
        assert.equal(await t.rowCount("delivery_bodies"), 1, "the shared body stays while a delivery uses it");
        const [retried] = await store.claimDue("E2", 10, T + 5000, T + 6000);
        assert.equal(retried?.body, "the same bytes", "the sharer still sends the bytes after its owner went");
        await store.recordAttempts([attemptRecord("fan-E2", 1, "succeeded")]);
        await store.pruneApp("A", T + 1, 100);
        assert.equal(await t.rowCount("delivery_bodies"), 0, "the last user of the body takes it along");
      });

      it("deletes shared bodies with their app, also one whose holder was pruned before", async () => {
        await createApp("A");
        for (const id of ["E1", "E2", "E3"]) await store.saveEndpoint(endpointRecord("A", id));
        const publishShared = async (id: string) => {
          const event = eventRecord("A", id);
          const owner = deliveryRecord(event, "E1", `${id}-E1`);
          const sharer = deliveryRecord(event, "E2", `${id}-E2`, { body: owner.body, bodyOf: owner.id });
          await store.publish({ appId: "A", events: [event], deliveries: [owner, sharer] });
          return owner;
        };
        const pruned = await publishShared("fan");
        await publishShared("fan-2");
        await store.claimDue("E1", 10, T, T + 1000);
        await store.recordAttempts([attemptRecord(pruned.id, 1, "succeeded")]);
        assert.equal((await store.pruneApp("A", T + 1, 1)).deliveries, 1, "the holder of fan's body is pruned");
        assert.equal(await t.rowCount("delivery_bodies"), 2, "fan's body stays for its sharer");
        assert.equal(await store.deleteApp("A"), true);
        assert.equal(await t.rowCount("delivery_bodies"), 0);
      });
    });

    describe("claiming and leases", () => {
      /** Endpoint E: due at T, T+10, T+20, and T+1000; endpoint F: due at T. */
      const setUp = async () => {
        await createApp("A");
        await store.saveEndpoint(endpointRecord("A", "E"));
        await store.saveEndpoint(endpointRecord("A", "F"));
        await publishEvents(
          "A",
          [
            { id: "e1", createdAt: T + 10 },
            { id: "e0", createdAt: T },
            { id: "e2", createdAt: T + 20 },
            { id: "e3", createdAt: T + 1000 },
          ],
          ["E"],
        );
        await publishEvents("A", [{ id: "f0", createdAt: T }], ["F"]);
      };

      it("claims only that endpoint's deliveries due at `now`, earliest first, up to the limit", async () => {
        await setUp();
        assert.deepEqual(await store.claimDue("E", 10, T - 1, T + 5000), [], "nothing due yet");
        const first = await store.claimDue("E", 2, T + 100, T + 5000);
        assert.deepEqual(sortedIds(first), ["e0-E", "e1-E"], "the limit takes the earliest due");
        const second = await store.claimDue("E", 10, T + 100, T + 5000);
        assert.deepEqual(sortedIds(second), ["e2-E"], "then the rest that is due, never a leased one");
        assert.deepEqual(await store.claimDue("E", 10, T + 100, T + 5000), []);
        assert.deepEqual(sortedIds(await store.claimDue("F", 10, T + 100, T + 5000)), ["f0-F"]);
        assert.deepEqual(await store.claimDue("nope", 10, T + 100, T + 5000), []);
      });

      it("hands each claimed delivery its body, one kept in its own row (before migration 14) too", async () => {
        await setUp();
        await t.sql(
          `INSERT INTO deliveries (id, app_id, event_id, endpoint_id, type, row_body, state, attempts, max_attempts,
             next_attempt_at, created_at, updated_at) VALUES (?, 'A', 'e0', 'E', 'message', ?, 'pending', 0, 3, ?, ?, ?)`,
          ["old-E", "the body of a delivery written before", T, T, T],
        );
        const claimed = await store.claimDue("E", 10, T + 100, T + 5000);
        assert.deepEqual(Object.fromEntries(claimed.map((d) => [d.id, d.body])), {
          "e0-E": "body of e0-E to E",
          "e1-E": "body of e1-E to E",
          "e2-E": "body of e2-E to E",
          "old-E": "the body of a delivery written before",
        });
      });

      it("makes a Herald from before migration 14 fail on a delivery's body rather than send it empty", async () => {
        await setUp();
        // What such a Herald's claim read: the body from the delivery's row, which now holds none.
        await assert.rejects(
          t.sql("UPDATE deliveries SET next_attempt_at = ? WHERE endpoint_id = 'E' RETURNING id, body", [T + 5000]),
          /no such column|does not exist/,
        );
      });

      it("leases by moving the due time: a second claim gets nothing until the lease passes", async () => {
        await setUp();
        const claimed = await store.claimDue("E", 10, T + 100, T + 5000);
        assert.deepEqual(sortedIds(claimed), ["e0-E", "e1-E", "e2-E"]);
        assert.equal((await store.getDelivery("A", "e0-E"))?.nextAttemptAt, T + 5000);
        assert.equal((await store.getDelivery("A", "e0-E"))?.state, "pending");
        assert.deepEqual(sortedIds(await store.claimDue("E", 10, T + 1000, T + 6000)), ["e3-E"]);
        assert.deepEqual(await store.claimDue("E", 10, T + 4999, T + 9000), []);
        const again = await store.claimDue("E", 10, T + 5000, T + 9000);
        assert.deepEqual(sortedIds(again), ["e0-E", "e1-E", "e2-E"], "the same ids once the lease ran out");
        assert.ok(again.every((d) => d.attempts === 0 && d.maxAttempts === 3));
      });

      it("never claims a finished delivery, and reports attempts already made", async () => {
        await setUp();
        await store.claimDue("E", 10, T + 100, T + 5000);
        await store.recordAttempts([
          attemptRecord("e0-E", 1, "succeeded"),
          attemptRecord("e1-E", 1, "failed"),
          attemptRecord("e2-E", 1, "pending", { nextAttemptAt: T + 200 }),
        ]);
        const claimed = await store.claimDue("E", 10, T + 100_000, T + 200_000);
        assert.deepEqual(
          claimed.sort((x, y) => x.id.localeCompare(y.id)).map((d) => [d.id, d.attempts]),
          [
            ["e2-E", 1],
            ["e3-E", 0],
          ],
        );
      });

      it("releases leases of unattempted deliveries, so they are due at `now`", async () => {
        await setUp();
        await store.claimDue("E", 10, T + 100, T + 5000);
        await store.claimDue("F", 10, T + 100, T + 5000);
        await store.recordAttempts([attemptRecord("e2-E", 1, "succeeded")]);
        await store.releaseLeases(["e0-E", "e2-E", "f0-F", "nope"], T + 300);
        await store.releaseLeases([], T + 300);
        assert.equal((await store.getDelivery("A", "e0-E"))?.nextAttemptAt, T + 300);
        assert.equal((await store.getDelivery("A", "e1-E"))?.nextAttemptAt, T + 5000, "not released: still leased");
        const finished = await store.getDelivery("A", "e2-E");
        assert.equal(finished?.state, "succeeded", "a finished delivery stays finished");
        assert.deepEqual(sortedIds(await store.claimDue("E", 10, T + 300, T + 6000)), ["e0-E"]);
        assert.deepEqual(sortedIds(await store.claimDue("F", 10, T + 300, T + 6000)), ["f0-F"]);
      });

      it("reports the earliest pending due time per endpoint, over all apps", async () => {
        assert.deepEqual(await store.endpointsWithPending(), []);
        await setUp();
        await createApp("B");
        await store.saveEndpoint(endpointRecord("B", "G"));
        await publishEvents("B", [{ id: "g0", createdAt: T + 7 }], ["G"]);
        await store.saveEndpoint(endpointRecord("A", "H"));
        await publishEvents("A", [{ id: "h0", createdAt: T + 3 }], ["H"]);
        const byEndpoint = async () =>
          (await store.endpointsWithPending()).sort((x, y) => x.endpointId.localeCompare(y.endpointId));
        assert.deepEqual(await byEndpoint(), [
          { endpointId: "E", dueAt: T },
          { endpointId: "F", dueAt: T },
          { endpointId: "G", dueAt: T + 7 },
          { endpointId: "H", dueAt: T + 3 },
        ]);
        // Leased deliveries count at their lease's end; finished ones not at all.
        await store.claimDue("E", 1, T, T + 5000);
        await store.claimDue("H", 1, T + 3, T + 4000);
        await store.recordAttempts([attemptRecord("h0-H", 1, "succeeded")]);
        await store.claimDue("F", 1, T, T + 9000);
        assert.deepEqual(await byEndpoint(), [
          { endpointId: "E", dueAt: T + 10 },
          { endpointId: "F", dueAt: T + 9000 },
          { endpointId: "G", dueAt: T + 7 },
        ]);
      });
    });

    describe("API keys and app settings", () => {
      const key = (appId: string, apiKey: string, createdAt: number) => ({
        apiKey,
        appId,
        secret: `secret-of-${apiKey}`,
        createdAt,
      });

      it("lists an app's keys newest first, finds one with its app, and deletes only the app's own", async () => {
        const a = await createApp("A");
        await createApp("B");
        await store.addApiKey(key("A", "old", T));
        await store.addApiKey(key("A", "new", T + 5));
        await store.addApiKey(key("B", "other", T + 1));
        assert.deepEqual(await store.listApiKeys("A"), [key("A", "new", T + 5), key("A", "old", T)]);
        assert.deepEqual(await store.findApiKey("old"), { app: a, key: key("A", "old", T) });
        assert.equal(await store.findApiKey("missing"), undefined);
        assert.equal(await store.deleteApiKey("B", "old"), false, "another app's key is not deleted");
        assert.equal(await store.deleteApiKey("A", "old"), true);
        assert.equal(await store.findApiKey("old"), undefined);
        await assert.rejects(store.addApiKey(key("B", "new", T)), "a key names one app only");
      });

      it("keeps settings per app and namespace, overwriting as a whole", async () => {
        await createApp("A");
        await createApp("B");
        assert.equal(await store.getAppSettings("A", "stream"), undefined);
        await store.saveAppSettings("A", "stream", { enable_hook_payload_compression: true, n: 9007199254740991 }, T);
        await store.saveAppSettings("A", "other", { x: "y" }, T);
        await store.saveAppSettings("A", "stream", { enable_hook_payload_compression: false }, T + 1);
        assert.deepEqual(await store.getAppSettings("A", "stream"), { enable_hook_payload_compression: false });
        assert.deepEqual(await store.getAppSettings("A", "other"), { x: "y" });
        assert.equal(await store.getAppSettings("B", "stream"), undefined);
      });

      it("deletes keys and settings with their app", async () => {
        await createApp("A");
        await store.addApiKey(key("A", "k", T));
        await store.saveAppSettings("A", "stream", { a: 1 }, T);
        assert.equal(await store.deleteApp("A"), true);
        assert.equal(await store.findApiKey("k"), undefined);
        assert.equal(await store.getAppSettings("A", "stream"), undefined);
      });
    });

    describe("the first attempt's time and synchronous calls", () => {
      it("claims show when the first attempt started; later attempts keep it; a resend clears it", async () => {
        await createApp("A");
        await store.saveEndpoint(endpointRecord("A", "E"));
        await publishEvents("A", [{ id: "e1" }], ["E"]);
        assert.equal((await store.claimDue("E", 1, T, T + 10))[0]?.firstAttemptAt, null);
        await store.recordAttempts([attemptRecord("e1-E", 1, "pending", { startedAt: T + 7, nextAttemptAt: T })]);
        assert.equal((await store.claimDue("E", 1, T, T + 10))[0]?.firstAttemptAt, T + 7);
        await store.recordAttempts([attemptRecord("e1-E", 2, "pending", { startedAt: T + 50, nextAttemptAt: T })]);
        assert.equal((await store.claimDue("E", 1, T, T + 10))[0]?.firstAttemptAt, T + 7, "the first, not the latest");
        await store.recordAttempts([attemptRecord("e1-E", 3, "failed", { startedAt: T + 90 })]);
        await store.retryDelivery("A", "e1-E", 3, T + 100, 10);
        assert.equal(
          (await store.claimDue("E", 1, T + 100, T + 200))[0]?.firstAttemptAt,
          null,
          "a resend gets a new window",
        );
      });

      it("logs synchronous calls as an event with one finished delivery and its attempt, never claimed", async () => {
        await createApp("A");
        await store.saveEndpoint(endpointRecord("A", "H"));
        const event = eventRecord("A", "call-1", { type: "before_message_send" });
        const attempt = {
          attempt: 1,
          startedAt: T + 3,
          durationMs: 4,
          statusCode: null,
          error: "timeout after 1500 ms",
          responseBody: null,
          bodySha256: "ff".repeat(32),
          errorClass: "timeout" as const,
          requestHeaders: { "x-signature": "[redacted]" },
          responseHeaders: {},
          truncated: false,
        };
        await store.logSyncCalls([
          { event, delivery: { ...deliveryRecord(event, "H", "call-1-H"), maxAttempts: 1, state: "failed" }, attempt },
        ]);
        const logged = await store.getDelivery("A", "call-1-H");
        assert.deepEqual(
          [logged?.state, logged?.type, logged?.attempts, logged?.maxAttempts, logged?.attemptLog],
          ["failed", "before_message_send", 1, 1, [attempt]],
        );
        assert.deepEqual(await store.claimDue("H", 10, T + 10_000, T + 20_000), []);
        assert.equal((await store.getEvent("A", "call-1"))?.type, "before_message_send");
        // Resent by hand, it goes out with the body it was called with.
        assert.ok(await store.retryDelivery("A", "call-1-H", 1, T + 20_000, 10));
        const resent = await store.claimDue("H", 10, T + 20_000, T + 30_000);
        assert.deepEqual(
          resent.map((d) => [d.id, d.body]),
          [["call-1-H", "body of call-1-H to H"]],
        );
      });
    });

    describe("logSyncCalls and deleted apps", () => {
      it("does not log a call whose app was deleted while it ran, and logs the others", async () => {
        await createApp("A");
        await createApp("B");
        await store.saveEndpoint(endpointRecord("A", "HA"));
        await store.saveEndpoint(endpointRecord("B", "HB"));
        const call = (appId: string, endpointId: string) => {
          const event = eventRecord(appId, `call-${appId}`, { type: "before_message_send" });
          return {
            event,
            delivery: {
              ...deliveryRecord(event, endpointId, `call-${appId}-H`),
              maxAttempts: 1,
              state: "succeeded" as const,
            },
            attempt: attemptRecord(`call-${appId}-H`, 1, "succeeded"),
          };
        };
        assert.equal(await store.deleteApp("A"), true);
        await store.logSyncCalls([call("A", "HA"), call("B", "HB")]);
        assert.deepEqual(
          [await t.rowCount("events", { app_id: "A" }), await t.rowCount("deliveries", { app_id: "A" })],
          [0, 0],
          "nothing of the deleted app",
        );
        assert.equal((await store.getDelivery("B", "call-B-H"))?.state, "succeeded");
        assert.equal(await t.rowCount("attempts", { delivery_id: "call-B-H" }), 1);
      });
    });

    describe("recordAttempts", () => {
      const setUp = async () => {
        await createApp("A");
        await store.saveEndpoint(endpointRecord("A", "E"));
        await publishEvents("A", [{ id: "e1" }, { id: "e2" }, { id: "e3" }], ["E"]);
        await store.claimDue("E", 10, T, T + 5000);
      };
      const logOf = (a: AttemptRecord) => ({
        attempt: a.attempt,
        startedAt: a.startedAt,
        durationMs: a.durationMs,
        statusCode: a.statusCode,
        error: a.error,
        errorClass: a.errorClass,
        requestHeaders: a.requestHeaders,
        responseHeaders: a.responseHeaders,
        responseBody: a.responseBody,
        truncated: a.truncated,
        bodySha256: a.bodySha256,
      });

      it("moves a delivery through its states and keeps every attempt with its body digest and response", async () => {
        await setUp();
        const wallClock = Date.now();
        const first = attemptRecord("e1-E", 1, "pending", {
          statusCode: 503,
          responseHeaders: { "retry-after": "120", "x-note": "später ☹", "set-cookie": "a=1, b=2" },
          responseBody: '{"error":"unavailable ☹"}',
          truncated: true,
          nextAttemptAt: T + 2000,
        });
        const timeout = attemptRecord("e2-E", 1, "pending", {
          statusCode: null,
          error: "timeout after 5000 ms",
          errorClass: "timeout",
          responseHeaders: null,
          responseBody: null,
          bodySha256: null,
          nextAttemptAt: T + 2500,
        });
        await store.recordAttempts([first, timeout]);
        const afterFirst = await store.getDelivery("A", "e1-E");
        assert.equal(afterFirst?.state, "pending");
        assert.equal(afterFirst?.attempts, 1);
        assert.equal(afterFirst?.nextAttemptAt, T + 2000);
        assert.ok(afterFirst!.updatedAt >= wallClock - 1000, "updatedAt is the recording time");
        assert.deepEqual(afterFirst?.attemptLog, [logOf(first)]);
        assert.deepEqual((await store.getDelivery("A", "e2-E"))?.attemptLog, [logOf(timeout)]);

        const second = attemptRecord("e1-E", 2, "pending", { nextAttemptAt: T + 3000 });
        const third = attemptRecord("e1-E", 3, "succeeded", { statusCode: 204, responseBody: null });
        await store.recordAttempts([second]);
        await store.recordAttempts([third]);
        const done = await store.getDelivery("A", "e1-E");
        assert.equal(done?.state, "succeeded");
        assert.equal(done?.attempts, 3);
        assert.equal(done?.nextAttemptAt, null, "only a pending delivery has a next attempt");
        assert.deepEqual(done?.attemptLog, [logOf(first), logOf(second), logOf(third)]);

        const lastTry = attemptRecord("e2-E", 2, "failed", { statusCode: 400, responseBody: "bad request" });
        await store.recordAttempts([lastTry]);
        const dead = await store.getDelivery("A", "e2-E");
        assert.equal(dead?.state, "failed");
        assert.equal(dead?.attempts, 2);
        assert.equal(dead?.nextAttemptAt, null);
        assert.deepEqual(dead?.attemptLog, [logOf(timeout), logOf(lastTry)]);
      });

      it("ignores a duplicate or late attempt record, and one for an unknown delivery", async () => {
        await setUp();
        const first = attemptRecord("e1-E", 1, "pending", { nextAttemptAt: T + 2000 });
        await store.recordAttempts([first]);
        // The same attempt again (a worker whose lease ran out), now claiming success: ignored.
        await store.recordAttempts([attemptRecord("e1-E", 1, "succeeded", { durationMs: 999 })]);
        // An attempt number that skips ahead: ignored.
        await store.recordAttempts([attemptRecord("e1-E", 3, "succeeded")]);
        await store.recordAttempts([attemptRecord("nope", 1, "succeeded")]);
        await store.recordAttempts([]);
        const view = await store.getDelivery("A", "e1-E");
        assert.equal(view?.state, "pending");
        assert.equal(view?.attempts, 1);
        assert.equal(view?.nextAttemptAt, T + 2000);
        assert.deepEqual(view?.attemptLog, [logOf(first)]);

        const finalAttempt = attemptRecord("e1-E", 2, "succeeded");
        // In one batch: the real second attempt, a late first one, and another delivery's.
        await store.recordAttempts([
          finalAttempt,
          attemptRecord("e1-E", 1, "failed"),
          attemptRecord("e3-E", 1, "failed", { statusCode: 410 }),
        ]);
        const done = await store.getDelivery("A", "e1-E");
        assert.equal(done?.state, "succeeded");
        assert.deepEqual(done?.attemptLog, [logOf(first), logOf(finalAttempt)]);
        // A late copy of the last attempt cannot move a finished delivery back.
        await store.recordAttempts([attemptRecord("e1-E", 2, "pending", { nextAttemptAt: T + 9000 })]);
        assert.deepEqual(await store.getDelivery("A", "e1-E"), done);
        assert.equal((await store.getDelivery("A", "e3-E"))?.state, "failed");
        assert.equal(await t.rowCount("attempts"), 3);
      });
    });

    describe("the delivery log", () => {
      /**
       * App A: events x1 (T), y1 (T+10), x2 (T+10), to endpoints E and F; app B: one event to G.
       * x1→E succeeds, x1→F fails, the rest pending.
       */
      const setUp = async () => {
        await createApp("A");
        await createApp("B");
        await store.saveEndpoint(endpointRecord("A", "E"));
        await store.saveEndpoint(endpointRecord("A", "F"));
        await store.saveEndpoint(endpointRecord("B", "G"));
        await publishEvents(
          "A",
          [
            { id: "x1", type: "user:block", createdAt: T },
            { id: "y1", type: "user:unblock", createdAt: T + 10 },
            { id: "x2", type: "user:block", createdAt: T + 10 },
          ],
          ["E", "F"],
        );
        await publishEvents("B", [{ id: "b1", type: "user:block", createdAt: T + 20 }], ["G"]);
        await store.claimDue("E", 1, T, T + 5000);
        await store.claimDue("F", 1, T, T + 5000);
        await store.recordAttempts([attemptRecord("x1-E", 1, "succeeded"), attemptRecord("x1-F", 1, "failed")]);
      };
      // Newest first; ties on createdAt broken by id, descending.
      const allOfA = ["y1-F", "y1-E", "x2-F", "x2-E", "x1-F", "x1-E"];

      it("lists an app's deliveries newest first, with each filter and a stable cursor", async () => {
        await setUp();
        const list = async (query: Partial<Parameters<Store["listDeliveries"]>[1]>) =>
          ids(await store.listDeliveries("A", { limit: 100, ...query }));
        assert.deepEqual(await list({}), allOfA);
        assert.deepEqual(await list({ state: "pending" }), ["y1-F", "y1-E", "x2-F", "x2-E"]);
        assert.deepEqual(await list({ state: "succeeded" }), ["x1-E"]);
        assert.deepEqual(await list({ state: "failed" }), ["x1-F"]);
        assert.deepEqual(await list({ eventId: "x2" }), ["x2-F", "x2-E"]);
        assert.deepEqual(await list({ endpointId: "E" }), ["y1-E", "x2-E", "x1-E"]);
        assert.deepEqual(await list({ endpointId: "F", state: "failed" }), ["x1-F"]);
        assert.deepEqual(await list({ eventId: "x1", endpointId: "E", state: "succeeded" }), ["x1-E"]);
        assert.deepEqual(await list({ eventId: "x1", state: "pending" }), []);
        assert.deepEqual(await list({ eventId: "b1" }), [], "another app's event");
        assert.deepEqual(await list({ endpointId: "G" }), [], "another app's endpoint");
        assert.deepEqual(await list({ limit: 2 }), ["y1-F", "y1-E"]);
        assert.deepEqual(ids(await store.listDeliveries("B", { limit: 100 })), ["b1-G"]);
        assert.deepEqual(await store.listDeliveries("nope", { limit: 100 }), []);

        const seen: string[] = [];
        let before: { createdAt: number; id: string } | undefined;
        for (let page = 0; page < 10; page++) {
          const rows = await store.listDeliveries("A", {
            limit: page < 4 ? 1 + (page % 2) : 5,
            ...(before ? { before } : {}),
          });
          if (rows.length === 0) break;
          seen.push(...ids(rows));
          const last = rows.at(-1)!;
          before = { createdAt: last.createdAt, id: last.id };
        }
        assert.deepEqual(seen, allOfA, "pages cover every delivery once, in order, across equal createdAt");
        assert.deepEqual(await list({ before: { createdAt: T + 10, id: "x2-F" } }), ["x2-E", "x1-F", "x1-E"]);
        assert.deepEqual(await list({ before: { createdAt: T + 10, id: "x2-F" }, endpointId: "F" }), ["x1-F"]);
        assert.deepEqual(await list({ before: { createdAt: T, id: "x1-E" } }), []);
      });

      it("includes the event payload only when asked, and every attempt", async () => {
        await setUp();
        const [withPayload] = await store.listDeliveries("A", {
          limit: 1,
          eventId: "x1",
          endpointId: "F",
          withPayload: true,
        });
        const [without] = await store.listDeliveries("A", { limit: 1, eventId: "x1", endpointId: "F" });
        const event = await store.getEvent("A", "x1");
        assert.equal(withPayload?.payload, event?.payload);
        assert.ok(without && !("payload" in without), "no payload key without withPayload");
        const { payload: _, ...rest } = withPayload!;
        assert.deepEqual(rest, without);
        assert.equal(without.type, "user:block");
        assert.equal(without.attemptLog.length, 1);
        assert.equal(without.attemptLog[0]?.responseBody, "oops 1");
        assert.deepEqual(await store.getDelivery("A", "x1-F"), without, "getDelivery shows the same");
        const many = await store.listDeliveries("A", { limit: 100, withPayload: true });
        for (const d of many) assert.equal(d.payload, (await store.getEvent("A", d.eventId))?.payload);
      });

      it("lists deliveries' outcomes for the Overview: the log's order, cursor, state and window, attempts without bodies or headers", async () => {
        await setUp();
        await store.recordAttempts([
          attemptRecord("x2-E", 1, "pending", { responseBody: "x".repeat(20_000), nextAttemptAt: T }),
        ]);
        await store.recordAttempts([
          attemptRecord("x2-E", 2, "failed", { statusCode: null, error: "refused", errorClass: "refused" }),
        ]);
        const outcomes = async (query: Partial<Parameters<Store["listDeliveryOutcomes"]>[1]>) =>
          store.listDeliveryOutcomes("A", { limit: 100, ...query });
        const all = await outcomes({});
        assert.deepEqual(ids(all), allOfA, "the same order as listDeliveries");
        const views = await store.listDeliveries("A", { limit: 100 });
        for (const [index, view] of views.entries()) {
          const outcome = all[index]!;
          assert.deepEqual(outcome, {
            id: view.id,
            endpointId: view.endpointId,
            state: view.state,
            createdAt: view.createdAt,
            attempts: view.attemptLog.map((a) => ({
              startedAt: a.startedAt,
              durationMs: a.durationMs,
              statusCode: a.statusCode,
              error: a.error,
              errorClass: a.errorClass,
            })),
          });
        }
        const x2E = all.find((d) => d.id === "x2-E")!;
        assert.equal(x2E.state, "failed");
        assert.deepEqual(
          x2E.attempts.map((a) => [a.statusCode, a.errorClass, a.error]),
          [
            [500, "status", null],
            [null, "refused", "refused"],
          ],
          "in attempt order",
        );
        assert.ok(!JSON.stringify(all).includes("xxxx"), "no response body");
        assert.deepEqual(ids(await outcomes({ state: "pending" })), ["y1-F", "y1-E", "x2-F"]);
        assert.deepEqual(ids(await outcomes({ createdAfter: T + 10 })), ["y1-F", "y1-E", "x2-F", "x2-E"]);
        assert.deepEqual(ids(await outcomes({ limit: 2, before: { createdAt: T + 10, id: "x2-F" } })), [
          "x2-E",
          "x1-F",
        ]);
        assert.deepEqual(ids(await store.listDeliveryOutcomes("B", { limit: 100 })), ["b1-G"]);
        assert.deepEqual(await store.listDeliveryOutcomes("nope", { limit: 100 }), []);
      });

      it("gets one delivery of the app, never another app's", async () => {
        await setUp();
        assert.equal((await store.getDelivery("A", "x1-E"))?.state, "succeeded");
        assert.equal(await store.getDelivery("A", "b1-G"), undefined);
        assert.equal(await store.getDelivery("B", "x1-E"), undefined);
        assert.equal(await store.getDelivery("A", "nope"), undefined);
        assert.equal((await store.getDelivery("B", "b1-G"))?.appId, "B");
      });

      it("lists an app's events newest first, by type, with a stable cursor; never another app's", async () => {
        await setUp();
        const list = async (query: Partial<Parameters<Store["listEvents"]>[1]>) =>
          ids(await store.listEvents("A", { limit: 100, ...query }));
        assert.deepEqual(await list({}), ["y1", "x2", "x1"]);
        assert.deepEqual(await list({ type: "user:block" }), ["x2", "x1"]);
        assert.deepEqual(await list({ type: "user:unblock" }), ["y1"]);
        assert.deepEqual(await list({ type: "nope" }), []);
        assert.deepEqual(await list({ limit: 1 }), ["y1"]);
        assert.deepEqual(await list({ before: { createdAt: T + 10, id: "y1" } }), ["x2", "x1"]);
        assert.deepEqual(await list({ before: { createdAt: T + 10, id: "x2" } }), ["x1"]);
        assert.deepEqual(await list({ before: { createdAt: T + 10, id: "y1" }, type: "user:unblock" }), []);
        assert.deepEqual(await list({ before: { createdAt: T, id: "x1" } }), []);
        const pages: string[] = [];
        let before: { createdAt: number; id: string } | undefined;
        for (let page = 0; page < 10; page++) {
          const rows = await store.listEvents("A", { limit: 1, ...(before ? { before } : {}) });
          if (rows.length === 0) break;
          pages.push(...ids(rows));
          before = { createdAt: rows[0]!.createdAt, id: rows[0]!.id };
        }
        assert.deepEqual(pages, ["y1", "x2", "x1"]);
        assert.deepEqual(ids(await store.listEvents("B", { limit: 100 })), ["b1"]);

        assert.deepEqual(await store.getEvent("A", "x1"), eventRecord("A", "x1", { type: "user:block", createdAt: T }));
        assert.equal(await store.getEvent("A", "b1"), undefined);
        assert.equal(await store.getEvent("B", "x1"), undefined);
        assert.equal(await store.getEvent("A", "nope"), undefined);
      });
    });

    describe("queue samples", () => {
      /** A, with a busy endpoint (two pending from T and T + 500), and a drained one; B, with one pending. */
      const queues = async () => {
        await createApp("A");
        await createApp("B");
        for (const [app, ep] of [
          ["A", "A-busy"],
          ["A", "A-done"],
          ["B", "B-busy"],
        ] as const) {
          await store.saveEndpoint(endpointRecord(app, ep));
        }
        await publishEvents("A", [{ id: "a1" }, { id: "a2", createdAt: T + 500 }], ["A-busy"]);
        await publishEvents("A", [{ id: "a3" }], ["A-done"]);
        await publishEvents("B", [{ id: "b1", createdAt: T + 100 }], ["B-busy"]);
        await store.claimDue("A-done", 10, T, T + 1000);
        await store.recordAttempts([attemptRecord("a3-A-done", 1, "succeeded")]);
      };

      it("samples each endpoint's pending count and oldest delivery once per time, whichever process asks", async () => {
        await queues();
        assert.equal(await store.sampleQueue(T + 60_000), true);
        const other = t.reopen();
        await other.migrate();
        assert.equal(await other.sampleQueue(T + 60_000), false, "another process on the database: already taken");
        assert.equal(await t.rowCount("queue_sample_runs"), 1);
        assert.equal(await t.rowCount("queue_samples"), 2, "one per endpoint with pending deliveries");

        assert.deepEqual(await store.queueHistory("A", T), {
          runs: [T + 60_000],
          samples: [{ sampledAt: T + 60_000, endpointId: "A-busy", pending: 2, oldestCreatedAt: T }],
        });
        assert.deepEqual(await other.queueHistory("B", T), {
          runs: [T + 60_000],
          samples: [{ sampledAt: T + 60_000, endpointId: "B-busy", pending: 1, oldestCreatedAt: T + 100 }],
        });

        // A's queue drains: the next run has no sample of it, which reads as nothing pending.
        await store.claimDue("A-busy", 10, T + 61_000, T + 62_000);
        await store.recordAttempts([
          attemptRecord("a1-A-busy", 1, "succeeded"),
          attemptRecord("a2-A-busy", 1, "failed"),
        ]);
        assert.equal(await other.sampleQueue(T + 120_000), true);
        assert.deepEqual(await store.queueHistory("A", T + 60_001), { runs: [T + 120_000], samples: [] });
        assert.equal((await store.queueHistory("B", T + 60_001)).samples.length, 1);
        assert.deepEqual(await store.queueHistory("nope", T), { runs: [T + 60_000, T + 120_000], samples: [] });
      });

      it("prunes runs and samples taken before the cut-off, a batch at a time, oldest first", async () => {
        await queues();
        for (const at of [T + 1000, T + 2000, T + 3000, T + 4000]) assert.equal(await store.sampleQueue(at), true);
        assert.equal(await t.rowCount("queue_samples"), 8, "A-busy and B-busy each time");
        assert.deepEqual(await store.pruneQueueSamples(T + 3500, 2), { runs: 2, samples: 2 });
        assert.deepEqual(await store.pruneQueueSamples(T + 3500, 2), { runs: 1, samples: 2 });
        assert.deepEqual(await store.pruneQueueSamples(T + 3500, 2), { runs: 0, samples: 2 });
        assert.deepEqual(await store.pruneQueueSamples(T + 3500, 2), { runs: 0, samples: 0 });
        const left = await store.queueHistory("A", 0);
        assert.deepEqual(left.runs, [T + 4000]);
        assert.deepEqual(
          left.samples.map((s) => s.sampledAt),
          [T + 4000],
        );
        assert.equal(await t.rowCount("queue_samples"), 2);
      });

      it("deletes an app's samples with the app, and no other app's", async () => {
        await queues();
        await store.sampleQueue(T + 1000);
        assert.equal(await store.deleteApp("A"), true);
        assert.equal(await t.rowCount("queue_samples", { app_id: "A" }), 0);
        assert.equal(await t.rowCount("queue_samples", { app_id: "B" }), 1);
        assert.deepEqual((await store.queueHistory("B", 0)).runs, [T + 1000], "runs belong to no app");
      });
    });

    describe("retryDelivery", () => {
      it("makes only a finished delivery due now with a fresh attempt budget", async () => {
        await createApp("A");
        await createApp("B");
        await store.saveEndpoint(endpointRecord("A", "E"));
        await publishEvents("A", [{ id: "dead" }, { id: "ok" }, { id: "busy" }], ["E"]);
        await store.claimDue("E", 10, T, T + 50_000);
        const attempts = [1, 2, 3].map((n) => attemptRecord("dead-E", n, n < 3 ? "pending" : "failed"));
        for (const attempt of attempts) await store.recordAttempts([attempt]);
        await store.recordAttempts([attemptRecord("ok-E", 1, "succeeded")]);
        const dead = await store.getDelivery("A", "dead-E");
        assert.equal(dead?.state, "failed");
        assert.equal(dead?.attempts, 3);

        assert.equal(await store.retryDelivery("B", "dead-E", 3, T + 9000, 10), undefined, "another app's");
        assert.deepEqual(await store.getDelivery("A", "dead-E"), dead, "and unchanged");
        assert.equal(await store.retryDelivery("A", "nope", 3, T + 9000, 10), undefined);

        const retried = await store.retryDelivery("A", "dead-E", 3, T + 9000, 10);
        assert.deepEqual(retried, {
          ...dead!,
          state: "pending",
          maxAttempts: 6,
          nextAttemptAt: T + 9000,
          updatedAt: T + 9000,
          manualRetries: 1,
        });
        assert.equal(retried?.attemptLog.length, 3, "the log keeps the earlier attempts");
        assert.deepEqual(await store.claimDue("E", 10, T + 8999, T + 20_000), []);
        const claimed = await store.claimDue("E", 10, T + 9000, T + 20_000);
        assert.deepEqual(
          claimed.map((d) => [d.id, d.attempts, d.maxAttempts]),
          [["dead-E", 3, 6]],
        );
        await store.recordAttempts([attemptRecord("dead-E", 4, "succeeded")]);
        assert.equal((await store.getDelivery("A", "dead-E"))?.state, "succeeded");

        const sent = await store.retryDelivery("A", "ok-E", 3, T + 9500, 10);
        assert.equal(sent?.state, "pending", "a delivered one can be sent again too");
        assert.equal(sent?.maxAttempts, 4);
        assert.equal(sent?.nextAttemptAt, T + 9500);

        const busy = await store.getDelivery("A", "busy-E");
        assert.equal(busy?.nextAttemptAt, T + 50_000, "leased");
        assert.equal(
          await store.retryDelivery("A", "busy-E", 3, T + 100, 10),
          undefined,
          "a pending one is left alone",
        );
        assert.deepEqual(await store.getDelivery("A", "busy-E"), busy);
      });

      it("refuses past the manual resend cap, and once the endpoint is deleted, changing nothing", async () => {
        await createApp("A");
        await store.saveEndpoint(endpointRecord("A", "E"));
        await publishEvents("A", [{ id: "one" }, { id: "two" }], ["E"]);
        await store.claimDue("E", 10, T, T + 50_000);
        await store.recordAttempts([attemptRecord("one-E", 1, "failed"), attemptRecord("two-E", 1, "failed")]);
        assert.equal((await store.retryDelivery("A", "one-E", 3, T + 100, 1))?.manualRetries, 1);
        await store.claimDue("E", 10, T + 100, T + 50_000);
        await store.recordAttempts([attemptRecord("one-E", 2, "failed")]);
        const capped = await store.getDelivery("A", "one-E");
        assert.equal(
          await store.retryDelivery("A", "one-E", 3, T + 200, 1),
          undefined,
          "resent once, the most allowed",
        );
        assert.deepEqual(await store.getDelivery("A", "one-E"), capped);

        const failed = await store.getDelivery("A", "two-E");
        assert.equal(await store.deleteEndpoint("A", "E", T + 300), true);
        assert.equal(await store.retryDelivery("A", "two-E", 3, T + 400, 10), undefined, "its endpoint is gone");
        assert.deepEqual(await store.getDelivery("A", "two-E"), failed, "still failed: nothing would send it");
      });
    });
  });
}

storeContract(TEST_STORE, openTestStore);
