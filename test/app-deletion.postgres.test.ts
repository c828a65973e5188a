// While an app is being deleted on PostgreSQL, writes that would add rows of it give up at once
// instead of queueing behind the delete (and holding pooled connections), and other apps go on.
// The delete is stood in for by a session holding the app's lock, as `deleteApp` takes it.
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import pg from "pg";
import { openStore } from "../src/storage/open-store.js";
import type { SyncCallRecord } from "../src/storage/records.js";
import type { Store } from "../src/storage/store.js";
import { call, sleep, startHerald, testDatabase } from "./helpers/herald.js";
import { createBareApp, endpointRecord, masterToken } from "./helpers/store.js";

const T = 1_700_000_000_000;
const database = testDatabase();
let store: Store;
let deleting: pg.Client;

before(async () => {
  store = openStore(database.url, { sqliteSynchronous: "normal", databasePoolSize: 4 });
  await store.migrate();
  for (const id of ["A", "B"]) {
    await createBareApp(store, id, T);
    await store.saveEndpoint(endpointRecord(id, `${id}-ep`));
  }
  deleting = new pg.Client({ connectionString: database.url });
  await deleting.connect();
  await deleting.query(APP_LOCK_AS_DELETE_TAKES_IT, ["A"]);
});

// As the store takes it, on the connection's own schema path (the test database's).
const APP_LOCK_AS_DELETE_TAKES_IT =
  "SELECT pg_advisory_lock(hashtext(COALESCE(current_schema(), current_setting('search_path')) || ':' || 'herald_app:' || $1))";

after(async () => {
  await deleting.end();
  await store.close();
  await database.drop();
});

const event = (appId: string, id: string) => ({
  id,
  appId,
  type: "group_channel:message_send",
  payload: "{}",
  createdAt: T,
});

const hookCall = (appId: string): SyncCallRecord => ({
  event: { ...event(appId, `call-${appId}`), type: "before_message_send" },
  delivery: {
    id: `call-${appId}-d`,
    appId,
    eventId: `call-${appId}`,
    endpointId: `${appId}-ep`,
    body: "{}",
    maxAttempts: 1,
    createdAt: T,
    state: "succeeded",
  },
  attempt: {
    attempt: 1,
    startedAt: T,
    durationMs: 3,
    statusCode: 200,
    error: null,
    errorClass: null,
    requestHeaders: {},
    responseHeaders: {},
    responseBody: "",
    truncated: false,
    bodySha256: "ab".repeat(32),
  },
});

const rows = async (sql: string, params: unknown[]) => {
  const { rows: found } = await deleting.query(sql, params);
  return found.map((row) => Object.values(row)[0]);
};

it("refuses a publish of the app at once (unavailable, nothing stored), while another app publishes", async () => {
  const started = performance.now();
  await assert.rejects(
    store.publish({ appId: "A", events: [event("A", "A-1")], deliveries: [] }),
    (error: { kind?: string }) => error.kind === "unavailable",
  );
  const waited = performance.now() - started;
  assert.ok(waited < 2000, `refused after ${waited.toFixed(0)} ms, not at once`);
  assert.equal(await store.publish({ appId: "B", events: [event("B", "B-1")], deliveries: [] }), true);
  assert.deepEqual(await rows("SELECT id FROM events ORDER BY id", []), ["B-1"]);
});

it("is not held up by an app of the same id being deleted on another schema of the database", async () => {
  const elsewhere = testDatabase();
  const other = new pg.Client({ connectionString: elsewhere.url });
  await other.connect();
  try {
    await other.query(APP_LOCK_AS_DELETE_TAKES_IT, ["B"]);
    assert.equal(await store.publish({ appId: "B", events: [event("B", "B-elsewhere")], deliveries: [] }), true);
  } finally {
    await other.end();
    await elsewhere.drop();
  }
});

it("logs another app's hook call and leaves out the call of the app being deleted", async () => {
  await store.logSyncCalls([hookCall("A"), hookCall("B")]);
  assert.deepEqual(await rows("SELECT id FROM deliveries ORDER BY id", []), ["call-B-d"]);
  assert.deepEqual(await rows("SELECT app_id FROM events WHERE type = $1", ["before_message_send"]), ["B"]);
});

it("keeps its pooled connection through refused publishes (a refusal is no broken connection)", async () => {
  const name = `herald_refusals_${process.pid}`;
  const single = openStore(`${database.url}&application_name=${name}`, {
    sqliteSynchronous: "normal",
    databasePoolSize: 1,
  });
  const backends = () => rows("SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid", [name]);
  try {
    assert.equal(await single.publish({ appId: "B", events: [event("B", "B-pool")], deliveries: [] }), true);
    const first = await backends();
    assert.equal(first.length, 1);
    for (let i = 0; i < 5; i++) {
      await assert.rejects(single.publish({ appId: "A", events: [event("A", `A-p${i}`)], deliveries: [] }));
      await assert.rejects(single.publish({ appId: "gone", events: [event("gone", `g-${i}`)], deliveries: [] }));
    }
    assert.equal(await single.publish({ appId: "B", events: [event("B", "B-pool-2")], deliveries: [] }), true);
    assert.deepEqual(await backends(), first, "the refusals replaced the pooled connection");
  } finally {
    await single.close();
  }
});

it("deletes an app while another write of it is under way, and that write's row goes with the app", async () => {
  await createBareApp(store, "C", T);
  // A token being added: its row is not committed yet, and it holds the app row's key-share lock.
  const writer = new pg.Client({ connectionString: database.url });
  await writer.connect();
  try {
    await writer.query("BEGIN");
    const late = { ...masterToken("C", T), tokenHash: "late-C", kind: "secondary" };
    await writer.query(
      `INSERT INTO api_tokens (token_hash, app_id, kind, preview, scopes, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [late.tokenHash, late.appId, late.kind, late.preview, JSON.stringify(late.scopes), late.createdAt, null],
    );
    const deleted = store.deleteApp("C");
    await sleep(300);
    await writer.query("COMMIT");
    assert.equal(await deleted, true);
  } finally {
    await writer.end();
  }
  assert.deepEqual(await rows("SELECT token_hash FROM api_tokens WHERE app_id = $1", ["C"]), []);
  assert.deepEqual(await rows("SELECT id FROM apps WHERE id = $1", ["C"]), []);
});

it("answers a write that finds its app deleted meanwhile with a 404 in the API's format, not a 500", async () => {
  const h = await startHerald();
  const deleter = new pg.Client({ connectionString: h.database.url });
  try {
    const app = await h.createApp();
    await deleter.connect();
    // A delete under way holds the app row; the token's insert waits for it, then finds the app gone.
    await deleter.query("BEGIN");
    await deleter.query("SELECT 1 FROM apps WHERE id = $1 FOR UPDATE", [app.appId]);
    const adding = call(h.url, "POST", "/v1/tokens", { token: app.token, body: { scopes: ["read"] } });
    await sleep(300);
    for (const table of ["api_tokens", "apps"]) {
      await deleter.query(`DELETE FROM ${table} WHERE ${table === "apps" ? "id" : "app_id"} = $1`, [app.appId]);
    }
    await deleter.query("COMMIT");
    const { status, body } = await adding;
    assert.equal(status, 404, JSON.stringify(body));
    assert.equal(body.error.code, "not_found");
  } finally {
    await deleter.end();
    await h.close();
  }
});
