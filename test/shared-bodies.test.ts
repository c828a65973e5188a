// One event to many endpoints: deliveries whose bytes are the same keep one stored body (migration
// 15), and every receiver still gets exactly those bytes, signed for itself.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { call, startHerald, type TestHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";
import { runSql } from "./helpers/sql.js";

describe("an event fanned out to many endpoints", () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    h = await startHerald();
    for (let i = 0; i < 4; i++) receivers.push(await Receiver.start());
  });
  after(async () => {
    await h.close();
    for (const receiver of receivers) await receiver.close();
  });

  const bodiesOf = async (appId: string) =>
    Number(
      (
        await runSql(
          h.database,
          `SELECT COUNT(*) AS n FROM delivery_bodies
           WHERE delivery_id IN (SELECT id FROM deliveries WHERE app_id = ?)`,
          [appId],
        )
      )[0]!.n,
    );

  it("stores one body for the endpoints that get the same bytes, and delivers them to each", async () => {
    const app = await h.createApp();
    const endpoint = async (url: string, extra: Record<string, unknown> = {}) => {
      const created = await call(h.url, "POST", "/v1/endpoints", {
        token: app.token,
        body: { url, profile: "sendbird", filter: ["group_channel:message_send"], ...extra },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    };
    // Three Sendbird endpoints alike, and a fourth whose option changes the body (members included).
    for (const receiver of receivers.slice(0, 3)) await endpoint(receiver.url);
    await endpoint(receivers[3]!.url, { options: { include_members: true } });
    const published = await call(h.url, "POST", "/v1/events", {
      token: app.token,
      body: {
        category: "group_channel:message_send",
        payload: { message: "x".repeat(50_000), message_id: 7 },
        members: [{ user_id: "u1", nickname: "Ann" }],
      },
    });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    await Promise.all(receivers.map((receiver) => receiver.waitFor(1)));
    assert.equal(await bodiesOf(app.appId), 2, "one body for the three alike, one for the fourth");
    const bodies = receivers.map((receiver) => receiver.requests[0]!.raw.toString());
    assert.equal(bodies[0], bodies[1]);
    assert.equal(bodies[0], bodies[2]);
    assert.notEqual(bodies[0], bodies[3], "the fourth endpoint's option made its body differ");
    for (const receiver of receivers) {
      const { headers, raw } = receiver.requests[0]!;
      assert.equal(headers["x-sendbird-signature"], createHmac("sha256", app.token).update(raw).digest("hex"));
      assert.match(raw.toString(), /"message_id":7/);
    }
  });
});
