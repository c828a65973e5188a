import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, it } from "node:test";
import { call, eventually, testDatabase } from "./helpers/herald.js";
import { HeraldProcess, heraldCli } from "./helpers/process.js";
import { freePort, Receiver } from "./helpers/receiver.js";

const BIN = join(import.meta.dirname, "../bin/herald.js");

it("with two Herald processes, only the one holding a listen session sends for it", async () => {
  const database = testDatabase();
  after(() => database.drop());
  const receiver = await Receiver.start();
  after(() => receiver.close());
  const env = { HERALD_DATABASE_URL: database.url, HERALD_LOG_LEVEL: "warn", HERALD_POLL_INTERVAL_MS: "200" };
  const [holder, other] = await Promise.all([1, 2].map(async () => new HeraldProcess(env, await freePort())));
  after(() => Promise.all([holder!.stop(), other!.stop()]));
  await Promise.all([holder!.start(), other!.start()]);
  const { api_token: token } = JSON.parse(await heraldCli(["app", "create", "--name", "two", "--json"], env, holder));

  const listener = spawn(process.execPath, [BIN, "listen", "--json", "--forward-to", receiver.url], {
    env: { ...process.env, HERALD_URL: holder!.url, HERALD_API_TOKEN: token },
    stdio: ["ignore", "pipe", "inherit"],
  });
  after(() => listener.kill("SIGKILL"));
  let out = "";
  listener.stdout.on("data", (chunk: Buffer) => (out += chunk));
  const session = await eventually(() => (out.includes("\n") ? JSON.parse(out.split("\n")[0]!) : undefined), 15_000);

  // The other process does not hold the session: it neither streams it nor sends for it.
  const elsewhere = await call(other!.url, "GET", `/v1/listen/${session.session_id}/stream`, { token });
  assert.equal(elsewhere.status, 404);

  // Published through the other process, whose worker is woken first: every delivery still goes
  // through the holder's relay, once, with no refused attempt in between.
  const total = 100;
  for (let i = 0; i < total; i += 25) {
    const events = Array.from({ length: 25 }, (_, j) => ({
      category: "group_channel:message_send",
      payload: { n: i + j },
    }));
    assert.equal((await call(other!.url, "POST", "/v1/events/batch", { token, body: { events } })).status, 202);
  }
  await receiver.waitFor(total, 30_000);
  const listed = await eventually(async () => {
    const page = await call(holder!.url, "GET", `/v1/deliveries?endpoint_id=${session.endpoint_id}&limit=500`, {
      token,
    });
    const deliveries = page.body.deliveries as { status: string; attempts: number }[];
    return deliveries.length === total && deliveries.every((d) => d.status !== "pending") ? deliveries : undefined;
  });
  assert.deepEqual(
    listed.filter((d) => d.status !== "succeeded" || d.attempts !== 1),
    [],
    "each delivered once, on its first attempt",
  );
  assert.equal(receiver.requests.length, total);
  listener.kill("SIGINT");
});
