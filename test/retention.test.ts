// Retention: history older than HERALD_RETENTION_DAYS is pruned in the background, in batches, while
// deliveries flow; a pending delivery (and its event) is never deleted, whatever its age.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { newDeliveryId, newEventId } from "../src/core/ids.js";
import type { NewDelivery, NewEvent } from "../src/storage/records.js";
import { call, eventually, sleep, startHerald, type TestHerald } from "./helpers/herald.js";
import { Receiver, refusingUrl } from "./helpers/receiver.js";
import { runSql } from "./helpers/sql.js";

const DAY = 24 * 60 * 60 * 1000;
const OLD_DELIVERED = 1500;
const OLD_UNMATCHED = 700;
const OLD_HELD = 5;
const FRESH = 1000;

describe("retention: pruning old history while delivering", () => {
  let h: TestHerald;
  let receiver: Receiver;
  let app: { appId: string; token: string };

  /** One number (column `n`) from plain SQL on the test database, never through the store under test. */
  const scalar = async (sql: string, params: unknown[] = []) => Number((await runSql(h.database, sql, params))[0]!.n);

  before(async () => {
    h = await startHerald({ retentionDays: 30, retentionSweepMs: 100, autoDisableFailures: 0, autoDisableAfterMs: 0 });
    receiver = await Receiver.start();
    app = await h.createApp();
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  const endpoint = async (body: Record<string, unknown>) => {
    const { status, body: created } = await call(h.url, "POST", "/v1/endpoints", { token: app.token, body });
    assert.equal(status, 201, JSON.stringify(created));
    return created.id as string;
  };

  /** Writes events (with a delivery each to `endpointId`, if given) created `ageMs` ago, straight to the store. */
  async function seed(count: number, ageMs: number, endpointId?: string, maxAttempts = 3): Promise<string[]> {
    const createdAt = Date.now() - ageMs;
    const events: NewEvent[] = [];
    const deliveries: NewDelivery[] = [];
    for (let n = 0; n < count; n++) {
      const event = {
        id: newEventId(),
        appId: app.appId,
        type: "user:block",
        payload: '{"category":"user:block"}',
        createdAt,
      };
      events.push(event);
      if (endpointId) {
        deliveries.push({
          id: newDeliveryId(),
          appId: app.appId,
          eventId: event.id,
          endpointId,
          body: event.payload,
          maxAttempts,
          createdAt,
        });
      }
    }
    for (let start = 0; start < count; start += 500) {
      const slice = events.slice(start, start + 500);
      const ids = new Set(slice.map((e) => e.id));
      await h.herald.store.publish({
        appId: app.appId,
        events: slice,
        deliveries: deliveries.filter((d) => ids.has(d.eventId)),
      });
    }
    return deliveries.map((d) => d.id);
  }

  it("deletes old events, deliveries and attempts in batches, keeps pending ones, and fresh deliveries flow", async () => {
    const live = await endpoint({ url: receiver.url, profile: "sendbird" });
    // Refused, on the durable schedule: its deliveries stay pending (the next attempt is seconds away).
    const held = await endpoint({ url: await refusingUrl(), profile: "standard", retry_policy: "durable" });
    const cutoff = Date.now() - 30 * DAY;

    const heldIds = await seed(OLD_HELD, 40 * DAY, held, 12);
    await seed(OLD_UNMATCHED, 40 * DAY);
    // Pending when written and due at once: the worker delivers them, then the sweep may take them.
    const oldIds = await seed(OLD_DELIVERED, 40 * DAY, live);

    // Fresh events published over the API while the sweeps run.
    const freshPublished: string[] = [];
    for (let batch = 0; batch < FRESH / 100; batch++) {
      const events = Array.from({ length: 100 }, () => ({ category: "user:block" }));
      const { status, body } = await call(h.url, "POST", "/v1/events/batch", { token: app.token, body: { events } });
      assert.equal(status, 202, JSON.stringify(body));
      freshPublished.push(...body.ids);
      await sleep(20);
    }

    const oldRows = () => scalar("SELECT COUNT(*) AS n FROM deliveries WHERE created_at < ?", [cutoff]);
    await eventually(async () => ((await oldRows()) === OLD_HELD ? true : undefined), 60_000);
    await eventually(
      async () =>
        (await scalar("SELECT COUNT(*) AS n FROM events WHERE created_at < ?", [cutoff])) === OLD_HELD
          ? true
          : undefined,
      30_000,
    );

    // Every old delivery to the live endpoint was sent before it was pruned: none went while pending.
    const received = new Set(receiver.requests.map((r) => String(r.headers["x-webhook-id"])));
    assert.equal(oldIds.filter((id) => !received.has(id)).length, 0, "every old delivery was sent before pruning");
    // The held ones are still there, pending, with their events.
    for (const id of heldIds) {
      const { status, body } = await call(h.url, "GET", `/v1/deliveries/${id}`, { token: app.token });
      assert.equal(status, 200);
      assert.equal(body.status, "pending");
      assert.equal((await call(h.url, "GET", `/v1/events/${body.event_id}`, { token: app.token })).status, 200);
    }
    assert.equal(
      await scalar("SELECT COUNT(*) AS n FROM attempts WHERE delivery_id NOT IN (SELECT id FROM deliveries)"),
      0,
      "no attempt outlives its delivery",
    );
    assert.equal(
      await scalar("SELECT COUNT(*) AS n FROM delivery_bodies WHERE delivery_id NOT IN (SELECT id FROM deliveries)"),
      0,
      "no body outlives its delivery",
    );
    assert.equal(
      await scalar(
        `SELECT COUNT(*) AS n FROM delivery_bodies WHERE delivery_id IN (${heldIds.map(() => "?").join(", ")})`,
        heldIds,
      ),
      heldIds.length,
      "the held deliveries keep their bodies",
    );

    // Fresh deliveries all arrive, and stay in the log.
    await eventually(async () => {
      const { body } = await call(h.url, "GET", `/v1/deliveries?status=pending&endpoint_id=${live}`, {
        token: app.token,
      });
      return body.deliveries.length === 0 ? true : undefined;
    }, 30_000);
    const freshReceived = receiver.requests.length - OLD_DELIVERED;
    assert.ok(freshReceived >= FRESH, `fresh deliveries received: ${freshReceived}`);
    assert.equal(await scalar("SELECT COUNT(*) AS n FROM events WHERE created_at >= ?", [cutoff]), FRESH);
    assert.equal(
      await scalar("SELECT COUNT(*) AS n FROM deliveries WHERE created_at >= ? AND state = 'succeeded'", [cutoff]),
      FRESH,
    );
  });
});
