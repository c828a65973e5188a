// The embedded store's WAL: publishes are flushed to disk on the thread pool before they answer (one
// flush shared by every commit before it), and checkpoints run on a thread of their own, never in a
// commit on the event loop. SQLite only; the PostgreSQL pass skips this file.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { NewEvent, PublishBatch } from "../src/storage/records.js";
import { SqliteStore, type SqliteStoreOptions } from "../src/storage/sqlite/sqlite-store.js";
import { WalSync } from "../src/storage/sqlite/wal-sync.js";
import { createBareApp, masterToken } from "./helpers/store.js";

const skip = process.env.HERALD_TEST_STORE === "postgres" ? "what it tests is the SQLite store's own" : false;
const T = 1_767_225_600_000;
const dir = mkdtempSync(join(tmpdir(), "herald-wal-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(dir, `herald-${++files}.db`);

/** Flushes the test finishes by hand once `holding` (before, they finish at once), counted. */
function heldFlushes() {
  const waiting: (() => void)[] = [];
  return {
    holding: true,
    flush(): Promise<void> {
      if (!this.holding) return Promise.resolve();
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    get started() {
      return waiting.length + this.finished;
    },
    finished: 0,
    finishNext() {
      const next = waiting.shift();
      assert.ok(next, "no flush is running");
      this.finished++;
      next();
    },
  };
}

/** Whether a promise has settled, after the callbacks already due have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

async function openStore(options: Partial<SqliteStoreOptions> = {}) {
  const store = new SqliteStore({ path: freshPath(), synchronous: "full", ...options });
  await store.migrate();
  await createBareApp(store, "A", T);
  return store;
}

/** `count` events of about `bytes` each, in one batch. */
function batchOf(first: number, count: number, bytes = 200): PublishBatch {
  const events: NewEvent[] = Array.from({ length: count }, (_, i) => ({
    id: `evt_${first + i}`,
    appId: "A",
    type: "group_channel:message_send",
    payload: JSON.stringify({ n: first + i, text: "x".repeat(bytes) }),
    createdAt: T,
  }));
  return { appId: "A", events, deliveries: [] };
}

describe("WalSync", { skip, timeout: 60_000 }, () => {
  it("starts a new flush for a caller that arrives while one runs, shared by every caller until it starts", async () => {
    const path = freshPath();
    writeFileSync(`${path}-wal`, "");
    const flushes = heldFlushes();
    const wal = new WalSync(`${path}-wal`, () => flushes.flush());
    const first = wal.synced();
    assert.equal(flushes.started, 1);
    // These may have committed after the first flush began: it does not cover them.
    const second = wal.synced();
    const third = wal.synced();
    assert.equal(flushes.started, 1, "callers wait for the running flush to end before another starts");
    flushes.finishNext();
    assert.equal(await settled(first), true);
    assert.equal(await settled(second), false, "answered by a flush that began before it was asked for");
    assert.equal(flushes.started, 2, "one more flush, for the two callers together");
    flushes.finishNext();
    assert.equal(await settled(second), true);
    assert.equal(await settled(third), true);
    assert.equal(flushes.started, 2);
    await wal.close();
  });
});

describe("SQLite store, synchronous = full", { skip, timeout: 60_000 }, () => {
  it("answers a publish only once the WAL is flushed, one flush for the publishes committed together, and wakes workers at the commit", async () => {
    const flushes = heldFlushes();
    flushes.holding = false;
    const store = await openStore({ wal: { flush: () => flushes.flush() } });
    flushes.holding = true;
    const before = flushes.started;
    let committed = 0;
    const one = store.publish(batchOf(0, 2), () => committed++);
    const two = store.publish(batchOf(2, 2), () => committed++);
    assert.equal(await settled(one), false);
    assert.equal(committed, 2, "the rows are claimable (workers woken) before the flush ends");
    assert.equal(flushes.started, before + 1, "the two commits share a flush");
    assert.equal(await settled(two), false);
    flushes.finishNext();
    assert.equal(await one, true);
    assert.equal(await two, true);
    await store.close();
  });

  it("commits the small publishes queued beside big ones first, and at most about one big batch per transaction, a loop turn apart", async () => {
    const store = await openStore();
    const order: string[] = [];
    const commits = [
      store.publish(batchOf(0, 600, 20), () => order.push("big 1")),
      store.publish(batchOf(600, 600, 20), () => order.push("big 2")),
      // Scheduled at the first commit: runs before a later transaction only if the loop turns between them.
      store.publish(batchOf(1200, 2, 20), () => {
        order.push("small");
        setImmediate(() => order.push("loop turn"));
      }),
    ];
    assert.deepEqual(await Promise.all(commits), [true, true, true]);
    assert.deepEqual(order, ["small", "big 1", "loop turn", "big 2"]);
    await store.close();
  });

  it("holds a big publish back for one turn at most, however many small ones keep arriving, and lets small ones ride along", async () => {
    const store = await openStore();
    const order: string[] = [];
    let small = 0;
    // One small publish per turn of the event loop, for 20 turns, beside one publish of 1,200 rows.
    const smalls: Promise<boolean>[] = [];
    const big = store.publish(batchOf(0, 1200, 10), () => order.push("big"));
    await new Promise<void>((resolve) => {
      const next = () => {
        const label = `small ${small}`;
        smalls.push(store.publish(batchOf(2000 + 2 * small, 2, 10), () => order.push(label)));
        if (++small < 20) setImmediate(next);
        else resolve();
      };
      next();
    });
    assert.deepEqual(await Promise.all([big, ...smalls]), Array(21).fill(true));
    // Passed over at the first commit (small 0 went alone), it goes in the second, with small 1 beside it.
    assert.deepEqual(order.slice(0, 3), ["small 0", "small 1", "big"]);
    await store.close();
  });

  it("commits everything queued when closed, beyond one group commit's rows", async () => {
    const store = await openStore();
    const queued = [0, 1, 2].map((i) => store.publish(batchOf(i * 900, 900, 10)));
    await store.close();
    assert.deepEqual(await Promise.all(queued), [true, true, true]);
  });

  it("answers an idempotent replay only once the first request's commit is flushed", async () => {
    const flushes = heldFlushes();
    flushes.holding = false;
    const store = await openStore({ wal: { flush: () => flushes.flush() } });
    flushes.holding = true;
    const key = { scope: "S", key: "k1", requestSha256: "ab", response: '["evt_0"]', createdAt: T, expiredBefore: 0 };
    const first = store.publish({ ...batchOf(0, 1), idempotency: key });
    await new Promise((resolve) => setImmediate(resolve));
    const replay = store.findIdempotentResponse("A", "S", "k1", 0);
    assert.equal(await settled(replay), false, "a replay must not be answered before the first publish is on disk");
    flushes.finishNext();
    assert.equal(await first, true);
    // It asked while the first flush ran, so it waits for the next one: never answered early.
    flushes.finishNext();
    assert.deepEqual(await replay, { response: '["evt_0"]', requestSha256: "ab" });
    await store.close();
  });

  it("publishes while another process writes to the same file, none failing SQLITE_BUSY", async () => {
    const path = freshPath();
    const store = new SqliteStore({ path, synchronous: "normal" });
    await store.migrate();
    await createBareApp(store, "A", T);
    // Another process (a Herald of another role on the file) takes the write lock 1 ms in every 6.
    const writer = spawn(
      process.execPath,
      [
        "-e",
        `const db = new (require("better-sqlite3"))(process.argv[1]);
         db.pragma("busy_timeout = 5000");
         const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
         const end = Date.now() + 2500;
         process.stdout.write("ready");
         for (let i = 0; Date.now() < end; i++) {
           db.exec("BEGIN IMMEDIATE");
           db.prepare("INSERT INTO queue_sample_runs (sampled_at) VALUES (?)").run(i);
           sleep(1);
           db.exec("COMMIT");
           sleep(5);
         }`,
        path,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise((resolve) => writer.once("exit", resolve));
    await new Promise((resolve) => writer.stdout!.once("data", resolve));
    const failures: string[] = [];
    let published = 0;
    for (let n = 0; published + failures.length < 2000; n += 4) {
      const outcomes = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => store.publish(batchOf(n + i, 1))));
      for (const outcome of outcomes) {
        if (outcome.status === "fulfilled") published++;
        else failures.push((outcome.reason as { code?: string }).code ?? String(outcome.reason));
      }
      if (writer.exitCode !== null) break;
    }
    await exited;
    await store.close();
    assert.ok(published > 100, `only ${published} publishes while the other process wrote`);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${published + failures.length} publishes failed`);
  });

  it("closes once when closed twice at the same time", async () => {
    const store = await openStore();
    assert.equal(await store.publish(batchOf(0, 2)), true);
    await Promise.all([store.close(), store.close()]);
    await store.close();
  });

  it("refuses a write that starts once close has begun, and commits and flushes what was queued before", async () => {
    const store = await openStore();
    const queued = store.publish(batchOf(0, 2));
    const closing = store.close();
    await assert.rejects(store.publish(batchOf(2, 2)), /closing/);
    await assert.rejects(
      store.addApiToken({ ...masterToken("A", T), kind: "secondary", tokenHash: "late" }),
      /closing/,
    );
    assert.equal(await queued, true);
    await closing;
  });

  it("stays failed after a failed flush: later publishes are refused and ping fails until a restart", async () => {
    let calls = 0;
    const store = await openStore({
      wal: {
        // The first flush after set-up fails, as an fsync that got EIO; the next would "succeed".
        flush: async () => {
          if (++calls === 2) throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
        },
      },
    });
    await assert.rejects(store.publish(batchOf(0, 2)), /EIO/);
    await assert.rejects(store.publish(batchOf(2, 2)), /EIO/);
    // Refused before its transaction: a later event is not committed, so no worker could send it.
    assert.equal(await store.getEvent("A", "evt_2"), undefined);
    await assert.rejects(store.ping(), /EIO/);
    assert.equal(calls, 2, "no flush after the failed one may be trusted");
    await store.close();
  });

  it("flushes the WAL beside the real file when the database path is a symlink", async () => {
    const real = join(dir, "real");
    const linked = join(dir, "linked");
    mkdirSync(real);
    mkdirSync(linked);
    const path = join(linked, "herald.db");
    writeFileSync(join(real, "herald.db"), "");
    symlinkSync(join(real, "herald.db"), path);
    const flushed: number[] = [];
    const store = await openStore({
      path,
      wal: {
        flush: async (fd) => {
          flushed.push(fstatSync(fd).ino);
        },
      },
    });
    assert.equal(await store.publish(batchOf(0, 2)), true);
    assert.equal(flushed.at(-1), statSync(join(real, "herald.db-wal")).ino);
    await store.close();
  });

  it("does not flush when asked for synchronous = normal", async () => {
    const flushes = heldFlushes();
    const store = await openStore({ synchronous: "normal", wal: { flush: () => flushes.flush() } });
    assert.equal(await store.publish(batchOf(0, 2)), true);
    assert.equal(flushes.started, 0);
    await store.close();
  });
});

describe("SQLite store checkpoints", { skip, timeout: 60_000 }, () => {
  const databaseBytes = (store: { path: string }) => statSync(store.path).size;
  const until = async (condition: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return condition();
  };

  it("never in a commit: 8 MB published stay in the WAL until the checkpointer's turn", async () => {
    const path = freshPath();
    const store = await openStore({ path, synchronous: "normal", wal: { intervalMs: 60_000 } });
    const initial = databaseBytes({ path });
    for (let b = 0; b < 8; b++) await store.publish(batchOf(b * 1000, 1000, 1000));
    // SQLite's own checkpoint, in the commit that passes 1,000 pages (4 MB), would have copied them.
    assert.equal(databaseBytes({ path }), initial);
    assert.ok(statSync(`${path}-wal`).size > 8_000_000);
    await store.close();
  });

  it("on the thread: what is published reaches the database file without any further write", async () => {
    const path = freshPath();
    const store = await openStore({ path, synchronous: "normal", wal: { intervalMs: 50 } });
    for (let b = 0; b < 4; b++) await store.publish(batchOf(b * 1000, 1000, 1000));
    assert.ok(
      await until(() => databaseBytes({ path }) > 4_000_000, 10_000),
      `the database file holds ${databaseBytes({ path })} bytes`,
    );
    await store.close();
  });

  it("keeps the WAL bounded under writes that never pause, by starting it over past the limit", async () => {
    const path = freshPath();
    // A limit of 512 pages (2 MB); 40 MB are written in commits of 100 kB, back to back. Without the
    // limit the WAL grows to 68 MB; a loaded machine may delay the thread, hence the margin.
    const store = await openStore({ path, synchronous: "normal", wal: { intervalMs: 10, restartFrames: 512 } });
    let largest = 0;
    const stopAt = Date.now() + 30_000;
    for (let b = 0; b < 400 && Date.now() < stopAt; b++) {
      await store.publish(batchOf(b * 100, 100, 1000));
      largest = Math.max(largest, statSync(`${path}-wal`).size);
    }
    assert.ok(largest < 32_000_000, `the WAL grew to ${largest} bytes`);
    await store.close();
  });
});
