import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, configureChatWebhook, eventually, startWithReceiver, type TestHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

const CATEGORIES = ["group_channel:create", "group_channel:join", "user:block", "open_channel:enter", "message:report"];

describe("subscription filtering", () => {
  let h: TestHerald;
  let receiver: Receiver;
  let app: { appId: string; token: string };

  before(async () => ({ h, receiver, app } = await startWithReceiver()));
  after(() => Promise.all([h.close(), receiver.close()]));

  /**
   * Resolves once none of the app's deliveries is pending. Deliveries are committed with their
   * events before the 202, so from then on Herald has nothing more to send for that app.
   */
  const drained = (token: string) =>
    eventually(async () => {
      const { body } = await call(h.url, "GET", "/v1/deliveries?status=pending&limit=1", { token });
      return body.deliveries.length === 0 ? true : undefined;
    });

  /** Publishes one event of every test category and returns the categories the receiver got. */
  async function deliveredCategories(settings: Record<string, unknown>, expected: number): Promise<string[]> {
    await configureChatWebhook(h.url, app.token, { url: receiver.url, ...settings });
    const start = receiver.requests.length;
    const { status } = await call(h.url, "POST", "/v1/events/batch", {
      token: app.token,
      body: { events: CATEGORIES.map((category) => ({ category })) },
    });
    assert.equal(status, 202);
    await receiver.waitFor(start + expected);
    await drained(app.token); // every delivery of the batch has ended: nothing unwanted can still arrive
    return receiver.requests
      .slice(start)
      .map((r) => JSON.parse(r.raw.toString()).category as string)
      .sort();
  }

  it("delivers only the categories in enabled_events", async () => {
    const chosen = ["group_channel:join", "user:block"];
    assert.deepEqual(await deliveredCategories({ enabled_events: chosen }, 2), chosen);
  });

  it('delivers every category for ["*"]', async () => {
    assert.deepEqual(await deliveredCategories({ enabled_events: ["*"] }, 5), [...CATEGORIES].sort());
  });

  it("delivers nothing for [] or enabled: false, and still stores the events", async () => {
    const before = await h.counts();
    assert.deepEqual(await deliveredCategories({ enabled_events: [] }, 0), []);
    assert.deepEqual(await deliveredCategories({ enabled: false, enabled_events: ["*"] }, 0), []);
    const afterCounts = await h.counts();
    assert.equal(afterCounts.events, before.events + 10);
    assert.equal(afterCounts.deliveries, before.deliveries);
  });

  it("never sends one app's events to another app's webhook", async () => {
    const other = await h.createApp("other");
    const otherReceiver = await Receiver.start();
    try {
      await configureChatWebhook(h.url, other.token, { url: otherReceiver.url });
      await configureChatWebhook(h.url, app.token, { url: receiver.url, enabled: true, enabled_events: ["*"] });
      const start = receiver.requests.length;
      await call(h.url, "POST", "/v1/events", { token: other.token, body: { category: "user:block" } });
      await otherReceiver.waitFor(1);
      await Promise.all([drained(other.token), drained(app.token)]);
      assert.equal(receiver.requests.length, start);
      assert.equal(otherReceiver.json(0).app_id, other.appId);
    } finally {
      await otherReceiver.close();
    }
  });
});
