// The delivery log over HTTP: filters by type and time window with the existing ones, combined and
// paged; bad times named in a 400; dead letters as status=failed; manual resends refused while pending
// and capped per delivery.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, eventually, sleep, startHerald, type TestHerald } from "./helpers/herald.js";
import { Receiver, refusingUrl } from "./helpers/receiver.js";

const MAX_MANUAL_RETRIES = 2;

describe("the delivery log: filters, dead letters, resends", () => {
  let h: TestHerald;
  let receiver: Receiver;
  let app: { appId: string; token: string };
  let live: string;
  let dead: string;
  /** Publishing times: batch one before `middle`, batch two at or after it. */
  let middle: string;
  const ids = (deliveries: { id: string }[]) => deliveries.map((d) => d.id);
  const list = async (query: string) => {
    const { status, body } = await call(h.url, "GET", `/v1/deliveries?limit=500&${query}`, { token: app.token });
    assert.equal(status, 200, JSON.stringify(body));
    return body.deliveries as { id: string; type: string; endpoint_id: string; status: string; created_at: string }[];
  };

  before(async () => {
    // Dead letters are the point here: no breaker may hold the failing deliveries back as pending.
    h = await startHerald({
      retryDelayScale: 0.01,
      maxManualRetries: MAX_MANUAL_RETRIES,
      autoDisableFailures: 0,
      endpointBreakerFailures: 1_000_000,
    });
    receiver = await Receiver.start();
    app = await h.createApp();
    const create = async (url: string) => {
      const { status, body } = await call(h.url, "POST", "/v1/endpoints", {
        token: app.token,
        body: { url, profile: "sendbird" },
      });
      assert.equal(status, 201, JSON.stringify(body));
      return body.id as string;
    };
    live = await create(receiver.url);
    dead = await create(await refusingUrl());
    const publish = (category: string) =>
      call(h.url, "POST", "/v1/events", { token: app.token, body: { category } }).then((r) => {
        assert.equal(r.status, 202, JSON.stringify(r.body));
      });
    await publish("user:block");
    await publish("user:unblock");
    await sleep(30);
    middle = new Date().toISOString();
    await sleep(30);
    await publish("user:block");
    await publish("user:block");
    // Every delivery ends: succeeded on the live endpoint, failed (three refused attempts) on the dead one.
    await eventually(async () => ((await list("status=pending")).length === 0 ? true : undefined), 20_000);
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  it("filters by type and window, combined with endpoint and status, newest first", async () => {
    const all = await list("");
    assert.equal(all.length, 8);
    const sorted = [...all].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
    assert.deepEqual(
      all.map((d) => d.created_at),
      sorted.map((d) => d.created_at),
    );
    const blocks = await list("type=user:block");
    assert.equal(blocks.length, 6);
    assert.ok(blocks.every((d) => d.type === "user:block"));
    assert.equal((await list("type=user:unblock")).length, 2);
    assert.equal((await list("type=user:nothing")).length, 0);

    const later = await list(`created_after=${middle}`);
    assert.equal(later.length, 4);
    assert.ok(later.every((d) => d.created_at >= middle));
    const earlier = await list(`created_before=${middle}`);
    assert.equal(earlier.length, 4);
    assert.ok(earlier.every((d) => d.created_at < middle));
    assert.deepEqual(ids([...later, ...earlier]), ids(all), "the window splits the log in two");

    const deadLetters = await list("status=failed");
    assert.equal(deadLetters.length, 4, "every delivery to the dead endpoint is a dead letter");
    assert.ok(deadLetters.every((d) => d.endpoint_id === dead));
    const combined = await list(`type=user:block&endpoint_id=${dead}&status=failed&created_after=${middle}`);
    assert.equal(combined.length, 2);
    assert.ok(combined.every((d) => d.endpoint_id === dead && d.type === "user:block" && d.created_at >= middle));
    assert.deepEqual(ids(await list(`type=user:block&endpoint_id=${live}&status=failed`)), []);
    assert.equal((await list(`type=user:unblock&status=succeeded`)).length, 1);

    // Pages of one, by type alone (a merge over endpoints and states), cover the same deliveries in order.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/v1/deliveries?type=user:block&limit=1${cursor ? `&cursor=${cursor}` : ""}`;
      const { body } = await call(h.url, "GET", query, { token: app.token });
      paged.push(...ids(body.deliveries));
      cursor = body.next_cursor;
    } while (cursor && paged.length < 20);
    assert.deepEqual(paged, ids(blocks));
  });

  it("filters events by type and window too", async () => {
    const events = async (query: string) =>
      (await call(h.url, "GET", `/v1/events?${query}`, { token: app.token })).body.events as { type: string }[];
    assert.equal((await events("")).length, 4);
    assert.equal((await events("type=user:block")).length, 3);
    assert.equal((await events(`created_after=${middle}`)).length, 2);
    assert.equal((await events(`created_before=${middle}&type=user:unblock`)).length, 1);
    assert.equal((await events(`created_after=${middle}&type=user:unblock`)).length, 0);
  });

  it("takes a leap day that exists and an offset", async () => {
    for (const query of ["created_after=2024-02-29T23:59:59.999Z", "created_before=2026-12-01T10:00:00%2B05:30"]) {
      const { status, body } = await call(h.url, "GET", `/v1/deliveries?${query}`, { token: app.token });
      assert.equal(status, 200, `${query}: ${JSON.stringify(body)}`);
    }
  });

  it("answers a bad time with a 400 that names the parameter", async () => {
    for (const [path, parameter] of [
      ["/v1/deliveries?created_after=yesterday", "created_after"],
      ["/v1/deliveries?created_before=2026-13-01T00:00:00Z", "created_before"],
      ["/v1/deliveries?created_after=2026-12-01", "created_after"],
      // Dates Date.parse would quietly roll over: 31 February, 29 February of a common year, 24:00.
      ["/v1/deliveries?created_after=2026-02-31T00:00:00Z", "created_after"],
      ["/v1/deliveries?created_after=2026-02-29T00:00:00Z", "created_after"],
      ["/v1/events?created_before=2026-12-01T24:00:00Z", "created_before"],
      ["/v1/events?created_before=2026-12-01T10:00:00%2B24:00", "created_before"],
      ["/v1/events?created_before=1733000000", "created_before"],
      ["/v1/deliveries?created_after=2026-12-02T00:00:00Z&created_before=2026-12-01T00:00:00Z", "created_after"],
    ] as const) {
      const { status, body } = await call(h.url, "GET", path, { token: app.token });
      assert.equal(status, 400, path);
      assert.equal(body.error.code, "invalid_value");
      assert.equal(body.error.parameter, parameter, path);
    }
    const offset = encodeURIComponent("2026-12-01T10:00:00.123+02:00");
    assert.equal(
      (await call(h.url, "GET", `/v1/deliveries?created_after=${offset}`, { token: app.token })).status,
      200,
    );
  });

  it("refuses a resend while the delivery is pending, and past the cap of manual resends", async () => {
    const [letter] = await list(`status=failed&endpoint_id=${dead}`);
    const retry = () => call(h.url, "POST", `/v1/deliveries/${letter!.id}/retry`, { token: app.token });
    const first = await retry();
    assert.equal(first.status, 202);
    assert.equal(first.body.manual_retries, 1);
    assert.equal(first.body.status, "pending");
    const busy = await retry();
    assert.equal(busy.status, 409, "pending");
    assert.equal(busy.body.error.code, "conflict");
    const failedAgain = async () => {
      const { body } = await call(h.url, "GET", `/v1/deliveries/${letter!.id}`, { token: app.token });
      return body.status === "failed" ? body : undefined;
    };
    await eventually(failedAgain, 20_000);
    assert.equal((await retry()).status, 202);
    const done = await eventually(failedAgain, 20_000);
    assert.equal(done.manual_retries, MAX_MANUAL_RETRIES);
    assert.equal(done.attempts, 9, "three attempts per send");
    const capped = await retry();
    assert.equal(capped.status, 409);
    assert.equal(capped.body.error.code, "limit_exceeded");
    assert.match(capped.body.error.message, /HERALD_MAX_MANUAL_RETRIES is 2/);
    assert.equal((await failedAgain())?.manual_retries, MAX_MANUAL_RETRIES, "and nothing changed");
  });
});
