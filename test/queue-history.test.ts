// The queue's history on the Overview: Herald samples each endpoint's pending deliveries every
// HERALD_QUEUE_SAMPLE_MS, and GET /v1/stats folds the samples into each endpoint's series (the largest
// depth and oldest age per bucket; 0 where samples were taken and nothing was pending, null where none was).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { STATS_CACHE_MS } from "../src/api/stats-routes.js";
import { call, eventually, sleep, startHerald, type TestHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

const SAMPLE_MS = 200;

describe("queue history in GET /v1/stats", () => {
  let h: TestHerald;
  let held: Receiver;
  let healthy: Receiver;
  let release: () => void = () => {};
  const released = new Promise<number>((resolve) => {
    release = () => resolve(200);
  });

  before(async () => {
    h = await startHerald({ queueSampleMs: SAMPLE_MS });
    // Holds every request until released (well within the 15 s attempt timeout): the deliveries stay pending.
    held = await Receiver.start(() => released);
    healthy = await Receiver.start();
  });
  after(async () => {
    release();
    await h.close();
    await held.close();
    await healthy.close();
  });

  const createEndpoint = async (token: string, url: string) => {
    const { status, body } = await call(h.url, "POST", "/v1/endpoints", {
      token,
      body: { url, filter: ["group_channel:*"] },
    });
    assert.equal(status, 201, JSON.stringify(body));
    return body.id as string;
  };
  const publish = async (token: string, count: number) => {
    for (let n = 0; n < count; n++) {
      const { status } = await call(h.url, "POST", "/v1/events", {
        token,
        body: {
          category: "group_channel:message_send",
          sender: { user_id: "Jeff", nickname: "Jeff", profile_url: "", metadata: {} },
          type: "MESG",
          payload: { message_id: n, message: `m${n}`, created_at: 1732350000123 },
          channel: { channel_url: "sendbird_group_channel_1", name: "Trip", is_super: false },
        },
      });
      assert.equal(status, 202);
    }
  };
  /** One endpoint's stats; every window of an app is folded from one read of the log, kept `STATS_CACHE_MS`. */
  const statsOf = async (token: string, endpointId: string, hours: number) => {
    const { status, body } = await call(h.url, "GET", `/v1/stats?hours=${hours}`, { token });
    assert.equal(status, 200, JSON.stringify(body));
    return body.endpoints.find((e: any) => e.endpoint_id === endpointId);
  };

  it("shows the pending count and a growing oldest age, 0 after the queue drains, and only the app's own", async () => {
    const busy = await h.createApp("busy");
    const quiet = await h.createApp("quiet");
    const busyEndpoint = await createEndpoint(busy.token, held.url);
    const quietEndpoint = await createEndpoint(quiet.token, healthy.url);
    await publish(busy.token, 3);
    await held.waitFor(3, 10_000);
    // Past the next two sample times: both apps' queues as they are now have been sampled.
    await sleep(3 * SAMPLE_MS);

    const first = await statsOf(busy.token, busyEndpoint, 1);
    assert.equal(first.queue_depth, 3, "three pending now");
    assert.equal(first.series.length, 36);
    const last = first.series.at(-1);
    assert.equal(last.queue_depth, 3, "the last bucket's sampled depth matches the pending count");
    assert.ok(last.oldest_pending_age_ms > 0, `oldest pending age ${last.oldest_pending_age_ms}`);
    assert.equal(first.series[0].queue_depth, null, "no sample an hour ago: Herald was not running");
    assert.equal(first.series[0].oldest_pending_age_ms, null);

    // Past the cached read, and two more samples.
    await sleep(STATS_CACHE_MS + 2 * SAMPLE_MS);
    const later = (await statsOf(busy.token, busyEndpoint, 2)).series.at(-1);
    assert.equal(later.queue_depth, 3);
    assert.ok(
      later.oldest_pending_age_ms >= last.oldest_pending_age_ms + SAMPLE_MS,
      `the oldest pending age grows: ${last.oldest_pending_age_ms} then ${later.oldest_pending_age_ms} ms`,
    );

    // The other app, which published nothing: samples were taken and its endpoint had nothing pending (0),
    // and it never sees the busy app's samples.
    const quietStats = await statsOf(quiet.token, quietEndpoint, 1);
    assert.deepEqual([quietStats.series.at(-1).queue_depth, quietStats.series.at(-1).oldest_pending_age_ms], [0, 0]);
    assert.ok(quietStats.series.every((b: any) => b.queue_depth === null || b.queue_depth === 0));
    const quietHistory = await h.herald.store.queueHistory(quiet.appId, 0);
    assert.deepEqual(quietHistory.samples, [], "no sample of another app's endpoint");

    // The receiver recovers, the queue drains, and later samples show nothing pending.
    release();
    await eventually(async () => {
      const { body } = await call(h.url, "GET", "/v1/deliveries?status=pending", { token: busy.token });
      return body.deliveries.length === 0 ? true : undefined;
    });
    const drained = Date.now();
    const afterDrain = await eventually(async () => {
      const history = await h.herald.store.queueHistory(busy.appId, drained);
      return history.runs.length >= 2 ? history : undefined;
    });
    assert.deepEqual(afterDrain.samples, [], "runs after the drain have no sample: 0 pending");
    const before = await h.herald.store.queueHistory(busy.appId, 0);
    assert.ok(before.samples.every((s) => s.endpointId === busyEndpoint && s.pending <= 3));
    assert.ok(before.samples.some((s) => s.pending === 3));
  });
});

describe("queue sampling and roles", () => {
  it("an --role api process takes no samples: the processes that deliver do", async () => {
    const api = await startHerald({ role: "api", queueSampleMs: SAMPLE_MS });
    try {
      await sleep(4 * SAMPLE_MS);
      assert.deepEqual(await api.herald.store.queueHistory("any", 0), { runs: [], samples: [] });
    } finally {
      await api.close();
    }
  });
});
