// One running recovery per endpoint across Herald processes sharing a PostgreSQL database: the store
// decides, so a recover sent to another process than the one that started the first is refused too.
import assert from "node:assert/strict";
import { after, it } from "node:test";
import pg from "pg";
import { call, eventually, testDatabase } from "./helpers/herald.js";
import { HeraldProcess, heraldCli } from "./helpers/process.js";
import { freePort, refusingUrl } from "./helpers/receiver.js";

it("refuses a recovery on process B while process A's recovery of the endpoint runs; a finished one blocks nothing", async () => {
  const database = testDatabase();
  const env = { HERALD_DATABASE_URL: database.url, HERALD_LOG_LEVEL: "warn" };
  const [a, b] = await Promise.all([1, 2].map(async () => new HeraldProcess(env, await freePort())));
  // Hooks run in the order they are added: the processes stop before their schema is dropped.
  let locker: pg.Client | undefined;
  after(async () => {
    await Promise.all([a!.stop(), b!.stop(), locker?.end()]);
    await database.drop();
  });
  await Promise.all([a!.start(), b!.start()]);
  const { api_token: token } = JSON.parse(await heraldCli(["app", "create", "--name", "two", "--json"], env, a));
  const created = await call(a!.url, "POST", "/v1/endpoints", { token, body: { url: await refusingUrl() } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const endpointId = created.body.id as string;
  const recover = (on: HeraldProcess) =>
    call(on.url, "POST", `/v1/endpoints/${endpointId}/recover`, {
      token,
      body: { since: new Date(Date.now() - 60_000).toISOString() },
    });

  // A's recovery cannot finish its first batch while another connection holds this lock (reads go on),
  // so it is still running when B is asked; the lock goes well within the 5 s lock timeout.
  locker = new pg.Client({ connectionString: database.url });
  await locker.connect();
  await locker.query("BEGIN");
  await locker.query("LOCK TABLE deliveries IN EXCLUSIVE MODE");
  let first: { status: number; body: any };
  let onB: { status: number; body: any };
  let onA: { status: number; body: any };
  try {
    first = await recover(a!);
    onB = await recover(b!);
    onA = await recover(a!);
  } finally {
    await locker.query("ROLLBACK");
  }
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(onB.status, 409, JSON.stringify(onB.body));
  assert.equal(onB.body.error.code, "conflict");
  assert.match(onB.body.error.message, new RegExp(`Recovery "${first.body.id}" of this endpoint is still running`));
  assert.equal(onA.status, 409, "and on A itself");

  // A batch that hit the lock timeout on a loaded machine waits out its 30 s lease before another try.
  const finished = await eventually(async () => {
    const { body } = await call(b!.url, "GET", `/v1/recoveries/${first.body.id}`, { token });
    return body.status === "succeeded" ? body : undefined;
  }, 90_000);
  assert.equal(finished.recovered, 0);
  const next = await recover(b!);
  assert.equal(next.status, 202, JSON.stringify(next.body));
  assert.notEqual(next.body.id, first.body.id);
});
