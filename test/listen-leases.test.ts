import assert from "node:assert/strict";
import { after, it } from "node:test";
import { call, eventually, sleep, testDatabase } from "./helpers/herald.js";
import { HeraldProcess, heraldCli } from "./helpers/process.js";
import { freePort } from "./helpers/receiver.js";

/**
 * A listen session lives in one Herald process; its endpoint in the store. Killed with kill -9, the
 * process deletes nothing, so a lease on the endpoint decides: the next process removes it once the
 * lease runs out, while a session whose process is alive keeps its endpoint however long it runs.
 */

// Leases are renewed every 500 ms and last 2.5 s (grace + 3 renewals).
const GRACE_MS = 1000;

async function heraldWithApp() {
  const database = testDatabase();
  after(() => database.drop());
  const env = { HERALD_DATABASE_URL: database.url, HERALD_LOG_LEVEL: "warn", HERALD_LISTEN_GRACE_MS: String(GRACE_MS) };
  const herald = new HeraldProcess(env, await freePort());
  after(() => herald.stop());
  await herald.start();
  const app = JSON.parse(await heraldCli(["app", "create", "--name", "leases", "--json"], env, herald)) as {
    api_token: string;
  };
  return { herald, token: app.api_token };
}

/** Opens a session and connects to its stream, as `herald listen` does; the stream stays open until `close`. */
async function connectedSession(herald: HeraldProcess, token: string) {
  const { status, body } = await call(herald.url, "POST", "/v1/listen", { token, body: {} });
  assert.equal(status, 201, JSON.stringify(body));
  const abort = new AbortController();
  const stream = await fetch(`${herald.url}/v1/listen/${body.id}/stream`, {
    headers: { "api-token": token },
    signal: abort.signal,
  });
  assert.equal(stream.status, 200);
  return { endpointId: body.endpoint.id as string, close: () => abort.abort() };
}

const endpointStatus = async (herald: HeraldProcess, token: string, id: string) =>
  (await call(herald.url, "GET", `/v1/endpoints/${id}`, { token })).status;

it("removes a listen endpoint after kill -9 once its lease runs out, ending its pending deliveries", async () => {
  const { herald, token } = await heraldWithApp();
  const session = await connectedSession(herald, token);
  // A delivery waiting for the CLI, so the endpoint has work a dead session would hold forever.
  const published = await call(herald.url, "POST", "/v1/events", { token, body: { category: "user:block" } });
  assert.equal(published.status, 202);
  await herald.kill9();
  session.close();

  await herald.start();
  const removedAfter = Date.now();
  await eventually(async () => (await endpointStatus(herald, token, session.endpointId)) === 404 || undefined, 15_000);
  const deliveries = await call(herald.url, "GET", `/v1/deliveries?endpoint_id=${session.endpointId}`, { token });
  assert.equal(deliveries.status, 200);
  assert.ok(deliveries.body.deliveries.length >= 1, "the delivery stays in the log");
  for (const delivery of deliveries.body.deliveries) assert.equal(delivery.status, "failed");
  console.log(`listen leases: orphan removed ${Date.now() - removedAfter} ms after the restart`);
});

it("keeps the endpoint of a session whose process is alive, well past the lease", async () => {
  const { herald, token } = await heraldWithApp();
  const session = await connectedSession(herald, token);
  after(() => session.close());
  // Three leases long: only renewals keep it.
  await sleep(3 * (GRACE_MS + 3 * 500));
  assert.equal(await endpointStatus(herald, token, session.endpointId), 200);
});
