// Recovery jobs in the store, as two processes see them: one lease at a time (taken over when it runs
// out), batches that walk the window once (a delivery that fails again is not recovered twice), and
// the window's bounds. Two stores on one database stand for two processes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openStore } from "../src/storage/open-store.js";
import type { Recovery } from "../src/storage/records.js";
import type { Store } from "../src/storage/store.js";
import { TEST_STORE, type TestDatabase, testDatabase } from "./helpers/herald.js";
import { databaseAtStep } from "./helpers/schema.js";
import { createBareApp, endpointRecord } from "./helpers/store.js";

const T = 1_700_000_000_000;
const OPEN = { sqliteSynchronous: "normal", databasePoolSize: 2 } as const;

describe(`recovery jobs in the store (${TEST_STORE})`, () => {
  let database: TestDatabase;
  let one: Store;
  let two: Store;
  before(async () => {
    database = testDatabase();
    one = openStore(database.url, OPEN);
    await one.migrate();
    two = openStore(database.url, OPEN);
    await two.migrate();
    await createBareApp(one, "A", T);
    for (const id of ["E", "F", "G"]) await one.saveEndpoint(endpointRecord("A", id, { createdAt: T, updatedAt: T }));
    // 12 deliveries of endpoint E at T+0 … T+11, all failed after one attempt; one of endpoint F.
    const events = Array.from({ length: 13 }, (_, i) => ({
      id: `e${i}`,
      appId: "A",
      type: "user:block",
      payload: "{}",
      createdAt: T + i,
    }));
    const deliveries = events.map((e, i) => ({
      id: `d${String(i).padStart(2, "0")}`,
      appId: "A",
      eventId: e.id,
      endpointId: i === 12 ? "F" : "E",
      body: "{}",
      maxAttempts: 1,
      createdAt: e.createdAt,
    }));
    await one.publish({ appId: "A", events, deliveries });
    for (const endpoint of ["E", "F"]) {
      const claimed = await one.claimDue(endpoint, 100, T + 100, T + 200);
      await one.recordAttempts(
        claimed.map((d) => ({
          deliveryId: d.id,
          attempt: 1,
          startedAt: T + 100,
          durationMs: 1,
          statusCode: 500,
          error: "status 500",
          errorClass: "status",
          requestHeaders: {},
          responseHeaders: {},
          responseBody: null,
          truncated: false,
          bodySha256: null,
          state: "failed",
          nextAttemptAt: T + 101,
        })),
      );
    }
  });
  after(async () => {
    await one.close();
    await two.close();
    await database.drop();
  });

  const job = (id: string, since: number, until: number): Recovery => ({
    id,
    appId: "A",
    endpointId: "E",
    since,
    until,
    status: "running",
    recovered: 0,
    skipped: 0,
    total: null,
    error: null,
    createdAt: T + 1000,
    finishedAt: null,
  });

  it("leases a job to one process at a time, and lets another take it over when the lease runs out", async () => {
    await one.createRecovery(job("r1", T + 2, T + 9));
    const [a, b] = await Promise.all([one.leaseRecovery(T + 2000, T + 5000), two.leaseRecovery(T + 2000, T + 5000)]);
    assert.equal([a, b].filter(Boolean).length, 1, "exactly one of two processes gets it");
    assert.equal((a ?? b)?.id, "r1");
    assert.equal(await two.leaseRecovery(T + 4999, T + 9000), undefined, "still leased");
    assert.equal((await two.leaseRecovery(T + 5000, T + 9000))?.id, "r1", "taken over once the lease is out");
  });

  it("recovers the window's failed deliveries in batches, oldest first, each once", async () => {
    // Window T+2 … T+9 (both inclusive): d02 … d09, eight deliveries of E (d12 is F's).
    const first = await two.stepRecovery("r1", {
      limit: 3,
      extraAttempts: 3,
      maxManualRetries: 10,
      now: T + 3000,
      leaseUntil: T + 9000,
    });
    assert.deepEqual([first?.status, first?.recovered, first?.total], ["running", 3, 8]);
    const pending = async () =>
      (await one.listDeliveries("A", { limit: 100, state: "pending" })).map((d) => d.id).sort();
    assert.deepEqual(await pending(), ["d02", "d03", "d04"]);
    const d02 = await one.getDelivery("A", "d02");
    assert.deepEqual([d02?.maxAttempts, d02?.nextAttemptAt], [4, T + 3000], "a fresh budget, due now");
    assert.equal(d02?.manualRetries, 1, "a recovery counts as a manual resend");

    // d02 fails again before the job is done: the job has passed it and leaves it failed.
    const [again] = await one.claimDue("E", 1, T + 3000, T + 3500);
    assert.equal(again?.id, "d02");
    await one.recordAttempts([
      {
        deliveryId: "d02",
        attempt: 2,
        startedAt: T + 3001,
        durationMs: 1,
        statusCode: 500,
        error: "status 500",
        errorClass: "status",
        requestHeaders: {},
        responseHeaders: {},
        responseBody: null,
        truncated: false,
        bodySha256: null,
        state: "failed",
        nextAttemptAt: T + 3002,
      },
    ]);
    const second = await one.stepRecovery("r1", {
      limit: 3,
      extraAttempts: 3,
      maxManualRetries: 10,
      now: T + 4000,
      leaseUntil: T + 9000,
    });
    assert.deepEqual([second?.status, second?.recovered], ["running", 6]);
    const last = await two.stepRecovery("r1", {
      limit: 3,
      extraAttempts: 3,
      maxManualRetries: 10,
      now: T + 5000,
      leaseUntil: T + 9000,
    });
    assert.deepEqual([last?.status, last?.recovered, last?.total], ["succeeded", 8, 8]);
    assert.equal(last?.finishedAt, T + 5000);
    assert.deepEqual(await pending(), ["d03", "d04", "d05", "d06", "d07", "d08", "d09"]);
    assert.equal((await one.getDelivery("A", "d02"))?.state, "failed", "recovered once, not again");
    assert.equal((await one.getDelivery("A", "d12"))?.state, "failed", "another endpoint's is left alone");
    assert.equal((await one.getDelivery("A", "d10"))?.state, "failed", "after the window");
    assert.equal((await one.getDelivery("A", "d01"))?.state, "failed", "before the window");
    assert.equal(await one.leaseRecovery(T + 99_999, T + 100_000), undefined, "a finished job is not leased");
    assert.equal(await two.getRecovery("B", "r1"), undefined, "another app's");
  });

  it("stops a job whose endpoint was deleted, making nothing pending that no one would send", async () => {
    // G's one failed delivery, then G deleted while its recovery runs.
    const event = { id: "g0", appId: "A", type: "user:block", payload: "{}", createdAt: T };
    await one.publish({
      appId: "A",
      events: [event],
      deliveries: [{ id: "dg0", appId: "A", eventId: "g0", endpointId: "G", body: "{}", maxAttempts: 1, createdAt: T }],
    });
    await one.cancelDeliveries(["dg0"], "cancelled: test", T + 1);
    await one.createRecovery({ ...job("rg", T, T + 1), endpointId: "G" });
    assert.equal(await two.deleteEndpoint("A", "G", T + 2), true);
    const stepped = await two.stepRecovery("rg", {
      limit: 10,
      extraAttempts: 3,
      maxManualRetries: 10,
      now: T + 3,
      leaseUntil: T + 9000,
    });
    assert.deepEqual(
      [stepped?.status, stepped?.error, stepped?.recovered, stepped?.finishedAt],
      ["failed", "The endpoint has been deleted.", 0, T + 3],
    );
    assert.equal((await one.getDelivery("A", "dg0"))?.state, "failed", "not made pending");
  });

  it("ends a job as failed, saying why", async () => {
    await one.createRecovery(job("r2", T, T + 1));
    await two.failRecovery("r2", "The endpoint has been deleted.", T + 7000);
    const failed = await one.getRecovery("A", "r2");
    assert.deepEqual(
      [failed?.status, failed?.error, failed?.finishedAt],
      ["failed", "The endpoint has been deleted.", T + 7000],
    );
  });

  it("skips, and counts, deliveries resent by hand as often as allowed; re-queues the others, counting one resend", async () => {
    // Left failed by the first job: d00, d01, d10, d11 (never resent) and d02 (recovered once, failed again).
    const before = await one.getDelivery("A", "d00");
    assert.equal(before?.manualRetries, 0);
    await one.createRecovery(job("r3", T, T + 11));
    const step = { limit: 10, extraAttempts: 3, maxManualRetries: 1, now: T + 8000, leaseUntil: T + 9000 };
    const done = await two.stepRecovery("r3", step);
    assert.deepEqual(
      [done?.status, done?.recovered, done?.skipped, done?.total],
      ["succeeded", 4, 1, 5],
      "d02 is at the cap of 1",
    );
    const d02 = await one.getDelivery("A", "d02");
    assert.deepEqual([d02?.state, d02?.manualRetries], ["failed", 1], "skipped: left as it was");
    for (const id of ["d00", "d01", "d10", "d11"]) {
      const recovered = await one.getDelivery("A", id);
      assert.deepEqual([recovered?.state, recovered?.manualRetries], ["pending", 1], id);
    }
    assert.equal((await one.getRecovery("A", "r3"))?.skipped, 1, "kept with the job");
  });

  it("keeps one running recovery per endpoint, whichever process starts it; a finished one blocks nothing", async () => {
    const [a, b] = await Promise.all([
      one.createRecovery(job("r4", T, T + 11)),
      two.createRecovery(job("r5", T, T + 11)),
    ]);
    assert.equal(a.id, b.id, "both processes are answered with the same running recovery");
    assert.ok(["r4", "r5"].includes(a.id));
    assert.equal(await one.getRecovery("A", a.id === "r4" ? "r5" : "r4"), undefined, "the other is not written");
    assert.equal((await one.createRecovery(job("r6", T, T + 1))).id, a.id, "another window of the endpoint too");
    assert.equal((await two.createRecovery({ ...job("r7", T, T + 11), endpointId: "F" })).id, "r7", "another endpoint");
    // Its lease out (its process died): still running, another process takes it over, so still one.
    const leased = [
      await one.leaseRecovery(T + 100_000, T + 200_000),
      await one.leaseRecovery(T + 100_000, T + 200_000),
    ];
    assert.deepEqual(leased.map((r) => r?.id).sort(), [a.id, "r7"].sort());
    assert.equal((await two.createRecovery(job("r8", T, T + 11))).id, a.id);
    await one.failRecovery(a.id, "stopped", T + 9000);
    assert.equal((await two.createRecovery(job("r9", T, T + 11))).id, "r9", "once it has finished, a new one starts");
  });
});

describe(`upgrading to one running recovery per endpoint (${TEST_STORE})`, () => {
  it("keeps the oldest of recoveries of one endpoint running side by side, and ends the others as failed", async () => {
    // A database as version 10 left it, where two processes each started a recovery of endpoint E.
    const database = await databaseAtStep(
      10,
      `INSERT INTO apps (id, name, signing_key, created_at) VALUES ('A', 'a', 'k', ${T});
      INSERT INTO recoveries (id, app_id, endpoint_id, since, until, status, created_at, finished_at) VALUES
        ('older', 'A', 'E', ${T}, ${T + 1}, 'running', ${T + 10}, NULL),
        ('newer', 'A', 'E', ${T}, ${T + 1}, 'running', ${T + 20}, NULL),
        ('done', 'A', 'E', ${T}, ${T + 1}, 'succeeded', ${T}, ${T + 5}),
        ('other', 'A', 'F', ${T}, ${T + 1}, 'running', ${T + 30}, NULL)`,
      T,
    );
    after(() => database.drop());
    const store = openStore(database.url, OPEN);
    after(() => store.close());
    const before = Date.now();
    await store.migrate();
    const get = (id: string) => store.getRecovery("A", id);
    assert.deepEqual([(await get("older"))?.status, (await get("older"))?.skipped], ["running", 0]);
    const newer = await get("newer");
    assert.equal(newer?.status, "failed");
    assert.match(newer?.error ?? "", /Another recovery of this endpoint was running/);
    assert.ok((newer?.finishedAt ?? 0) >= before - 1000, "finished when the upgrade ran");
    assert.equal((await get("done"))?.status, "succeeded");
    assert.equal((await get("other"))?.status, "running", "another endpoint's is left alone");
  });
});
