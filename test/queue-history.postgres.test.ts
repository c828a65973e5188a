// Two Herald processes on one PostgreSQL database sample the queue at the same rounded times, and the
// database keeps one sample per time: the first process's run takes the key, the other writes nothing.
import assert from "node:assert/strict";
import { after, it } from "node:test";
import pg from "pg";
import { call, configureChatWebhook, sleep, testDatabase } from "./helpers/herald.js";
import { HeraldProcess, heraldCli } from "./helpers/process.js";
import { freePort, Receiver } from "./helpers/receiver.js";

const SAMPLE_MS = 200;

it("two processes sampling one database write one sample per period", async () => {
  const database = testDatabase();
  after(() => database.drop());
  // Holds every request: the deliveries stay pending (in flight) while the processes sample.
  const receiver = await Receiver.start(() => "hang");
  after(() => receiver.close());
  const env = {
    HERALD_DATABASE_URL: database.url,
    HERALD_LOG_LEVEL: "warn",
    HERALD_QUEUE_SAMPLE_MS: String(SAMPLE_MS),
  };
  const processes = await Promise.all([1, 2].map(async () => new HeraldProcess(env, await freePort())));
  after(() => Promise.all(processes.map((p) => p.stop())));
  await Promise.all(processes.map((p) => p.start()));
  const { api_token: token } = JSON.parse(
    await heraldCli(["app", "create", "--name", "sampled", "--json"], env, processes[0]),
  );
  await configureChatWebhook(processes[0]!.url, token, { url: receiver.url });
  for (const via of processes) {
    assert.equal((await call(via.url, "POST", "/v1/events", { token, body: { category: "user:block" } })).status, 202);
  }
  await receiver.waitFor(2, 10_000);

  const from = Date.now();
  await sleep(15 * SAMPLE_MS);
  const until = Date.now();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  after(() => client.end());
  const runs = (
    await client.query("SELECT sampled_at FROM queue_sample_runs WHERE sampled_at >= $1 AND sampled_at < $2", [
      from,
      until,
    ])
  ).rows.map((row) => Number(row.sampled_at));
  const periods = Math.ceil((until - from) / SAMPLE_MS);
  assert.ok(runs.length >= periods / 3, `${runs.length} runs in ${periods} periods: both processes stalled?`);
  assert.ok(runs.length <= periods, `${runs.length} runs in ${periods} periods: a process sampled on its own`);
  assert.deepEqual(
    runs.filter((at) => at % SAMPLE_MS !== 0),
    [],
    "every run at a multiple of the period",
  );
  const samples = await client.query(
    `SELECT sampled_at, COUNT(*)::int AS n, SUM(pending)::int AS pending FROM queue_samples
     WHERE sampled_at >= $1 AND sampled_at < $2 GROUP BY sampled_at`,
    [from, until],
  );
  assert.equal(samples.rows.length, runs.length, "each run sampled the endpoint");
  for (const row of samples.rows) assert.deepEqual([row.n, row.pending], [1, 2], `at ${row.sampled_at}`);
});
