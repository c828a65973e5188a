import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sleep, startHerald, type TestHerald } from "./helpers/herald.js";

describe("publishing over HTTP takes turns between apps", () => {
  let h: TestHerald;
  before(async () => {
    h = await startHerald();
  });
  after(() => h.close());

  it("one app's pile of big batches does not hold another app's single event", async () => {
    const flooder = await h.createApp("flooder");
    const quiet = await h.createApp("quiet");
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
