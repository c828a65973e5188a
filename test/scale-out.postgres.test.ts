import assert from "node:assert/strict";
import { after, it } from "node:test";
import pg from "pg";
import { MIGRATIONS } from "../src/storage/migrations.js";
import { call, configureChatWebhook, eventually, testDatabase } from "./helpers/herald.js";
import { HeraldProcess, heraldCli } from "./helpers/process.js";
import { freePort, Receiver, startArrivalsReceiver } from "./helpers/receiver.js";

/** Waits until every process answers with the app's webhook pointing at `url`, read through its endpoint cache. */
const allSeeWebhook = (processes: HeraldProcess[], token: string, url: string) =>
  eventually(async () => {
    const seen = await Promise.all(
      processes.map(async (p) => (await call(p.url, "GET", "/v3/applications/settings/webhook", { token })).body),
    );
    return seen.every((body) => body.webhook?.enabled === true && body.webhook.url === url) ? true : undefined;
  });

it("wakes a worker in another process with NOTIFY, not at its next poll", async () => {
  const database = testDatabase();
  after(() => database.drop());
  const receiver = await Receiver.start();
  after(() => receiver.close());
  const env = { HERALD_DATABASE_URL: database.url, HERALD_LOG_LEVEL: "warn" };
  const api = new HeraldProcess({ ...env, HERALD_ROLE: "api" }, await freePort());
  const worker = new HeraldProcess(
    { ...env, HERALD_ROLE: "worker", HERALD_POLL_INTERVAL_MS: "60000" },
    await freePort(),
  );
  after(() => Promise.all([api.stop(), worker.stop()]));
  await api.start();
  await worker.start();
  const { api_token: token } = JSON.parse(await heraldCli(["app", "create", "--name", "notify", "--json"], env, api));
  // No wait needed here: the worker answered /healthz only after it started LISTENing (and ran its
  // start-up poll, before this app existed), so only a NOTIFY can wake it within the 60 s poll.
  await configureChatWebhook(api.url, token, { url: receiver.url });

  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    assert.equal((await call(api.url, "POST", "/v1/events", { token, body: { category: "user:block" } })).status, 202);
    await receiver.waitFor(i + 1, 2000);
    const latency = Date.now() - started;
    assert.ok(latency < 1000, `delivered ${latency} ms after publish, with the worker polling every 60 s`);
  }
});

it("shares 20,000 events among three processes: each delivered once, attempts equal deliveries", async () => {
  const database = testDatabase();
  after(() => database.drop());
  const { receiver, arrivals } = await startArrivalsReceiver();
  after(() => receiver.close());
  const env = { HERALD_DATABASE_URL: database.url, HERALD_LOG_LEVEL: "warn", HERALD_POLL_INTERVAL_MS: "200" };
  const processes = await Promise.all([1, 2, 3].map(async () => new HeraldProcess(env, await freePort())));
  after(() => Promise.all(processes.map((p) => p.stop())));
  await Promise.all(processes.map((p) => p.start()));
  const { api_token: token } = JSON.parse(
    await heraldCli(["app", "create", "--name", "three", "--json"], env, processes[0]),
  );
  await configureChatWebhook(processes[0]!.url, token, { url: receiver.url });
  await allSeeWebhook(processes, token, receiver.url);

  const total = 20_000;
  const batch = 500;
  await Promise.all(
    Array.from({ length: total / batch }, async (_, b) => {
      const events = Array.from({ length: batch }, (_, i) => ({
        category: "user:block",
        payload: { message_id: b * batch + i },
      }));
      const via = processes[b % processes.length]!;
      assert.equal((await call(via.url, "POST", "/v1/events/batch", { token, body: { events } })).status, 202);
    }),
  );
  await receiver.waitFor(total, 90_000);
  await eventually(async () => {
    const { body } = await call(processes[1]!.url, "GET", "/v1/deliveries?status=pending&limit=1", { token });
    return body.deliveries.length === 0 ? true : undefined;
  }, 30_000);

  assert.equal(arrivals.size, total);
  assert.equal(receiver.requests.length, total, "no delivery was sent twice");
  assert.ok([...arrivals.values()].every((ids) => ids.size === 1));
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const attempts = Number((await client.query("SELECT COUNT(*) AS n FROM attempts")).rows[0].n);
    assert.equal(attempts, total, "one logged attempt per delivery, no phantom retries");
  } finally {
    await client.end();
  }
});

it("migrates once when three processes start together, and survives kill -9 of one mid-run", async () => {
  const database = testDatabase();
  after(() => database.drop());
  // Attempts stay in flight 2 ms, so the kill lands mid-delivery.
  const { receiver, arrivals } = await startArrivalsReceiver(2);
  after(() => receiver.close());
  const env = {
    HERALD_DATABASE_URL: database.url,
    HERALD_LOG_LEVEL: "warn",
    HERALD_POLL_INTERVAL_MS: "200",
    HERALD_LEASE_MARGIN_MS: "1000",
  };
  const processes = await Promise.all([1, 2, 3].map(async () => new HeraldProcess(env, await freePort())));
  after(() => Promise.all(processes.map((p) => p.stop())));
  // All three migrate an empty schema at the same moment; the advisory lock lets one do it.
  await Promise.all(processes.map((p) => p.start()));
  const { api_token: token } = JSON.parse(
    await heraldCli(["app", "create", "--name", "kill", "--json"], env, processes[0]),
  );
  await configureChatWebhook(processes[0]!.url, token, { url: receiver.url });
  await allSeeWebhook(processes, token, receiver.url);

  const total = 6000;
  for (let b = 0; b < total / 500; b++) {
    const events = Array.from({ length: 500 }, (_, i) => ({
      category: "user:block",
      payload: { message_id: b * 500 + i },
    }));
    assert.equal(
      (await call(processes[b % 3]!.url, "POST", "/v1/events/batch", { token, body: { events } })).status,
      202,
    );
  }
  await receiver.waitFor(1500, 30_000);
  await processes[2]!.kill9();
  await eventually(async () => {
    const { body } = await call(processes[0]!.url, "GET", "/v1/deliveries?status=pending&limit=1", { token });
    return body.deliveries.length === 0 && arrivals.size === total ? true : undefined;
  }, 60_000);

  assert.ok(
    [...arrivals.values()].every((ids) => ids.size === 1),
    "an event arrived under two webhook ids",
  );
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const applied = (await client.query("SELECT version FROM schema_migrations ORDER BY version")).rows;
    assert.deepEqual(
      applied.map((row) => row.version),
      MIGRATIONS.map((migration) => migration.version),
      "each migration applied once",
    );
  } finally {
    await client.end();
  }
});
