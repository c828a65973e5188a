import assert from "node:assert/strict";
import { after, it } from "node:test";
import { call, configureChatWebhook, eventually, sleep, testDatabase } from "./helpers/herald.js";
import { HeraldProcess, heraldCli } from "./helpers/process.js";
import { freePort, startArrivalsReceiver } from "./helpers/receiver.js";

const EVENTS = 5000;
const BATCH = 500;

it("delivers every acknowledged event after kill -9 mid-delivery; duplicates only repeat a webhook id", async () => {
  const database = testDatabase();
  after(() => database.drop());
  const env = {
    HERALD_DATABASE_URL: database.url,
    HERALD_LOG_LEVEL: "warn",
    // Shorter leases than the default so the test waits less for attempts the crash cut off.
    HERALD_LEASE_MARGIN_MS: "1000",
    HERALD_POLL_INTERVAL_MS: "200",
  };
  // Attempts stay in flight 3 ms, so the kill lands mid-delivery.
  const { receiver, arrivals } = await startArrivalsReceiver(3);
  after(() => receiver.close());
  const port = await freePort();
  const herald = new HeraldProcess(env, port);
  after(() => herald.stop());

  await herald.start();
  const created = JSON.parse(await heraldCli(["app", "create", "--name", "crash", "--json"], env, herald)) as {
    id: string;
    api_token: string;
  };
  assert.match(created.id, /^[0-9A-F-]{36}$/);
  assert.match(created.api_token, /^[0-9a-f]{40}$/);
  await configureChatWebhook(herald.url, created.api_token, { url: receiver.url });

  for (let start = 0; start < EVENTS; start += BATCH) {
    const events = Array.from({ length: BATCH }, (_, i) => ({
      category: "group_channel:message_send",
      payload: { message_id: start + i, message: `message ${start + i} ✓` },
      channel: { channel_url: "crash", is_super: false },
    }));
    const { status } = await call(herald.url, "POST", "/v1/events/batch", {
      token: created.api_token,
      body: { events },
    });
    assert.equal(status, 202);
  }
  await receiver.waitFor(1000, 30_000);
  await herald.kill9();
  const beforeRestart = arrivals.size;
  assert.ok(beforeRestart < EVENTS, `the kill came after everything was delivered (${beforeRestart})`);

  await herald.start();
  const deadline = Date.now() + 60_000;
  while (arrivals.size < EVENTS && Date.now() < deadline) await sleep(100);

  // Attempts the crash cut off stay leased until their lease runs out, then go again under the same id.
  await eventually(async () => {
    const { body } = await call(herald.url, "GET", "/v1/deliveries?status=pending&limit=1", {
      token: created.api_token,
    });
    return body.deliveries.length === 0 ? true : undefined;
  }, 30_000);

  const missing = Array.from({ length: EVENTS }, (_, i) => i).filter((i) => !arrivals.has(i));
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} events never arrived`);
  const splitIds = [...arrivals].filter(([, ids]) => ids.size > 1);
  assert.deepEqual(splitIds.slice(0, 5), [], "an event arrived under two different webhook ids");
  const duplicates = receiver.requests.length - EVENTS;
  console.log(`crash test: ${beforeRestart} delivered before kill -9, ${duplicates} duplicate arrivals (same ids)`);
  const failed = await call(herald.url, "GET", "/v1/deliveries?status=failed", { token: created.api_token });
  assert.equal(failed.body.deliveries.length, 0);
});

it("hands back unstarted work on SIGTERM, so a restart delivers everything without waiting for leases", async () => {
  const database = testDatabase();
  after(() => database.drop());
  const env = { HERALD_DATABASE_URL: database.url, HERALD_LOG_LEVEL: "warn" };
  const { receiver, arrivals: seen } = await startArrivalsReceiver(5);
  after(() => receiver.close());
  const herald = new HeraldProcess(env, await freePort());
  after(() => herald.stop());
  await herald.start();
  const { api_token: token } = JSON.parse(await heraldCli(["app", "create", "--name", "term", "--json"], env, herald));
  await configureChatWebhook(herald.url, token, { url: receiver.url });
  const events = Array.from({ length: 1000 }, (_, i) => ({ category: "user:block", payload: { message_id: i } }));
  assert.equal((await call(herald.url, "POST", "/v1/events/batch", { token, body: { events } })).status, 202);
  await receiver.waitFor(100);
  await herald.stop();
  assert.ok(seen.size < 1000, "stopped before everything was delivered");
  await herald.start();
  // Timed from when it answers: start-up on a loaded machine is not what this measures.
  const restarted = Date.now();
  while (seen.size < 1000 && Date.now() - restarted < 30_000) await sleep(50);
  assert.equal(seen.size, 1000);
  // The default lease is the 5 s timeout twice plus a 10 s margin (20 s); work still leased would
  // wait for it. Handed-back work is due at once: the rest of the 1,000 take a few seconds at most.
  assert.ok(Date.now() - restarted < 12_000, `took ${Date.now() - restarted} ms after restart`);
});
