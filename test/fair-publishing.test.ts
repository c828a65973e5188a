import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sleep, testDatabase } from "./helpers/herald.js";
import { HeraldProcess, heraldCli } from "./helpers/process.js";
import { freePort } from "./helpers/receiver.js";

describe("publishing over HTTP takes turns between apps", () => {
  // Herald in a process of its own, as in production: a client sharing its event loop would wait
  // for Herald's work before it could even send the quiet app's event.
  let h: HeraldProcess;
  const database = testDatabase();
  before(async () => {
    h = new HeraldProcess({ HERALD_DATABASE_URL: database.url, HERALD_LOG_LEVEL: "warn" }, await freePort());
    await h.start();
  });
  after(async () => {
    await h.stop();
    await database.drop();
  });
  const createApp = async (name: string) => {
    const created = JSON.parse(await heraldCli(["app", "create", "--name", name, "--json"], h.env, h));
    return { token: created.api_token as string };
  };

  it("one app's pile of big batches does not hold another app's single event", async () => {
    const flooder = await createApp("flooder");
    const quiet = await createApp("quiet");
    const batch = JSON.stringify({
      events: Array.from({ length: 1000 }, (_, i) => ({
        category: "user:block",
        payload: { i, pad: "x".repeat(200) },
      })),
    });
    const finished: string[] = [];
    const publish = (token: string, body: string, path: string, label: string) =>
      fetch(`${h.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "api-token": token },
        body,
      }).then((response) => {
        assert.equal(response.status, 202);
        finished.push(label);
      });
    const flood = Array.from({ length: 12 }, (_, i) => publish(flooder.token, batch, "/v1/events/batch", `a${i}`));
    await sleep(5);
    await publish(quiet.token, JSON.stringify({ category: "user:block" }), "/v1/events", "b");
    await Promise.all(flood);
    const position = finished.indexOf("b");
    // A few batches are under way when b arrives; it must not wait for the rest (about position 3 here).
    assert.ok(position <= 6, `the quiet app's event finished ${position + 1}th of 13: ${finished.join(" ")}`);
  });
});
