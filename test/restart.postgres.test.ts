import assert from "node:assert/strict";
import { after, it } from "node:test";
import { call, configureChatWebhook, eventually } from "./helpers/herald.js";
import { PrivatePostgres } from "./helpers/private-postgres.js";
import { HeraldProcess, heraldCli } from "./helpers/process.js";
import { freePort, startArrivalsReceiver } from "./helpers/receiver.js";

it("answers 503 while PostgreSQL is down, reconnects by itself, and delivers everything acknowledged", async () => {
  const postgres = new PrivatePostgres(await freePort());
  after(() => postgres.destroy());
  postgres.start();
  const { receiver, arrivals: seen } = await startArrivalsReceiver(5);
  after(() => receiver.close());
  const env = {
    HERALD_DATABASE_URL: postgres.url,
    HERALD_LOG_LEVEL: "silent",
    HERALD_POLL_INTERVAL_MS: "200",
    HERALD_LEASE_MARGIN_MS: "1000",
  };
  const herald = new HeraldProcess(env, await freePort());
  after(() => herald.stop());
  await herald.start();
  const { api_token: token } = JSON.parse(
    await heraldCli(["app", "create", "--name", "restart", "--json"], env, herald),
  );
  await configureChatWebhook(herald.url, token, { url: receiver.url });

  const publish = (from: number, count: number) =>
    call(herald.url, "POST", "/v1/events/batch", {
      token,
      body: {
        events: Array.from({ length: count }, (_, i) => ({
          category: "user:block",
          payload: { message_id: from + i },
        })),
      },
    });
  assert.equal((await publish(0, 1000)).status, 202);
  await receiver.waitFor(100, 10_000);

  postgres.stop();
  const during = await publish(1000, 10);
  assert.equal(during.status, 503, JSON.stringify(during.body));
  assert.equal(during.body.error.code, "unavailable");
  const sendbirdDuring = await call(herald.url, "GET", "/v3/applications/settings/webhook", { token });
  assert.ok(sendbirdDuring.status >= 500 && sendbirdDuring.body.error === true, "Sendbird's format during the outage");

  postgres.start();
  // Herald was not restarted: it reconnects on its own and finishes what it acknowledged.
  await eventually(() => (seen.size >= 1000 ? true : undefined), 30_000);
  const after_ = await eventually(async () => {
    const response = await publish(2000, 10);
    return response.status === 202 ? response : undefined;
  }, 10_000);
  assert.equal(after_.body.ids.length, 10);
  await eventually(() => (seen.size >= 1010 ? true : undefined), 10_000);
  for (let i = 0; i < 1000; i++) assert.ok(seen.has(i), `acknowledged event ${i} was never delivered`);
  assert.ok(
    [...seen.values()].every((ids) => ids.size === 1),
    "an event arrived under two webhook ids",
  );
  assert.ok(![...seen.keys()].some((id) => id >= 1000 && id < 2000), "an event refused with 503 was delivered");
});
