import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, configureChatWebhook, eventually, startHerald, type TestHerald } from "./helpers/herald.js";
import { type Behaviour, Receiver, refusingUrl } from "./helpers/receiver.js";

describe("retries: three attempts, one webhook id, then a dead letter", { concurrency: true }, () => {
  let h: TestHerald;
  const receivers: Receiver[] = [];
  before(async () => {
    h = await startHerald();
  });
  after(async () => {
    await h.close();
    await Promise.all(receivers.map((r) => r.close()));
  });

  /** Publishes one event to a fresh app whose webhook behaves as given, and waits until it has failed. */
  async function failOnce(target: Behaviour | "refused", timeoutMs = 25_000) {
    const app = await h.createApp();
    let receiver: Receiver | undefined;
    let url: string;
    if (target === "refused") {
      url = await refusingUrl();
    } else {
      receiver = await Receiver.start(target);
      receivers.push(receiver);
      url = receiver.url;
    }
    await configureChatWebhook(h.url, app.token, { url });
    const started = Date.now();
    await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } });
    const failed = await eventually(async () => {
      const { body } = await call(h.url, "GET", "/v1/deliveries?status=failed", { token: app.token });
      return body.deliveries[0];
    }, timeoutMs);
    return { app, receiver, failed, elapsedMs: Date.now() - started };
  }

  function assertThreeAttemptsOneId(receiver: Receiver, deliveryId: string) {
    assert.equal(receiver.requests.length, 3);
    assert.deepEqual(
      receiver.requests.map((r) => r.headers["x-webhook-id"]),
      [deliveryId, deliveryId, deliveryId],
    );
    assert.deepEqual(
      receiver.requests.map((r) => r.headers["x-webhook-attempt"]),
      ["1", "2", "3"],
    );
    assert.equal(new Set(receiver.requests.map((r) => r.raw.toString())).size, 1, "every attempt sends the same bytes");
  }

  for (const status of [500, 400]) {
    it(`retries a receiver answering ${status}, records each attempt, and can send it again`, async () => {
      const { app, receiver, failed } = await failOnce(() => status);
      assertThreeAttemptsOneId(receiver!, failed.id);
      assert.equal(failed.status, "failed");
      assert.deepEqual(
        failed.attempt_log.map((a: { status_code: number }) => a.status_code),
        [status, status, status],
      );
      assert.equal(failed.attempt_log[0].response_body, `status ${status}`);
      assert.ok(failed.attempt_log.every((a: { duration_ms: number }) => a.duration_ms >= 0));

      receiver!.setBehaviour(() => 200);
      const retried = await call(h.url, "POST", `/v1/deliveries/${failed.id}/retry`, { token: app.token });
      assert.equal(retried.status, 202);
      await receiver!.waitFor(4);
      assert.equal(receiver!.requests[3]!.headers["x-webhook-id"], failed.id);
      assert.equal(receiver!.requests[3]!.headers["x-webhook-attempt"], "4");
      const done = await eventually(async () => {
        const { body } = await call(h.url, "GET", `/v1/deliveries/${failed.id}`, { token: app.token });
        return body.status === "succeeded" ? body : undefined;
      });
      assert.equal(done.attempts, 4);
      const again = await call(h.url, "POST", `/v1/deliveries/${failed.id}/retry`, { token: app.token });
      assert.equal(again.status, 202, "a delivered one can be sent again too");
    });
  }

  it("gives a receiver that hangs 5 s per attempt, three times within about 15 s", async () => {
    const { receiver, failed, elapsedMs } = await failOnce(() => "hang");
    assertThreeAttemptsOneId(receiver!, failed.id);
    for (const attempt of failed.attempt_log) {
      assert.equal(attempt.status_code, null);
      assert.match(attempt.error, /timeout after 5000 ms/);
      assert.ok(attempt.duration_ms >= 4900 && attempt.duration_ms < 6500, `attempt took ${attempt.duration_ms} ms`);
    }
    assert.ok(elapsedMs >= 15_000 && elapsedMs < 19_000, `three attempts took ${elapsedMs} ms`);
  });

  it("retries refused connections three times", async () => {
    const { failed } = await failOnce("refused");
    assert.equal(failed.attempts, 3);
    assert.deepEqual(
      failed.attempt_log.map((a: { error: string }) => a.error),
      ["connection refused", "connection refused", "connection refused"],
    );
  });

  it("times Calls attempts out at 1 s", async () => {
    const app = await h.createApp();
    const receiver = await Receiver.start(() => "hang");
    receivers.push(receiver);
    await call(h.url, "PUT", `/v1/applications/${app.appId}/settings/webhook`, {
      token: app.token,
      body: { enabled: true, url: receiver.url, enabled_events: ["*"] },
    });
    await h.herald.publish(app.appId, { category: "room:participant_enter" });
    const failed = await eventually(async () => {
      const { body } = await call(h.url, "GET", "/v1/deliveries?status=failed", { token: app.token });
      return body.deliveries[0];
    });
    assertThreeAttemptsOneId(receiver, failed.id);
    for (const attempt of failed.attempt_log) {
      assert.match(attempt.error, /timeout after 1000 ms/);
      assert.ok(attempt.duration_ms >= 950 && attempt.duration_ms < 1800, `attempt took ${attempt.duration_ms} ms`);
    }
  });

  it("ends on any 2xx at the first attempt", async () => {
    const app = await h.createApp();
    const receiver = await Receiver.start(() => 204);
    receivers.push(receiver);
    await configureChatWebhook(h.url, app.token, { url: receiver.url });
    await call(h.url, "POST", "/v1/events", { token: app.token, body: { category: "user:block" } });
    const done = await eventually(async () => {
      const { body } = await call(h.url, "GET", "/v1/deliveries?status=succeeded", { token: app.token });
      return body.deliveries[0];
    });
    assert.equal(done.attempts, 1);
    assert.equal(receiver.requests.length, 1);
  });
});
