import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { eventually, sleep, testDatabase } from "./helpers/herald.js";
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

  /** A batch publish over a socket of its own whose body is sent only up to `sent` bytes until `finish`. */
  const upload = (token: string, body: string, sent: number) => {
    const socket: Socket = connect(Number(new URL(h.url).port), "127.0.0.1");
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.on("error", () => {});
    const head =
      `POST /v1/events/batch HTTP/1.1\r\nhost: herald\r\ncontent-type: application/json\r\n` +
      `api-token: ${token}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`;
    socket.write(head + body.slice(0, sent));
    return {
      status: () => /^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? "none",
      finish: () => socket.write(body.slice(sent)),
      answered: () => eventually(() => (answer.includes("\r\n\r\n") ? answer : undefined)),
      hangUp: () => socket.destroy(),
    };
  };
  const bigBatch = (size: number) =>
    JSON.stringify({
      events: Array.from({ length: size }, (_, i) => ({
        category: "user:block",
        payload: { i, pad: "y".repeat(1_000) },
      })),
    });
  const waitingPublishes = async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    return Number(/^herald_publishes_waiting (\d+)/m.exec(text)?.[1]);
  };
  const publishOne = async (token: string) => {
    const response = await fetch(`${h.url}/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json", "api-token": token },
      body: JSON.stringify({ category: "user:block" }),
    });
    assert.equal(response.status, 202);
  };

  it("holds an app's next big upload unread while its first goes on and another app publishes; alone, it does not", async () => {
    const big = await createApp("big");
    const small = await createApp("small");
    const body = bigBatch(100); // about 110 KB: more than an app's share of uploads in progress
    // Alone (no other app has published for a second): a second upload goes on beside the first.
    await sleep(1_100);
    const first = upload(big.token, body, 1_000);
    await sleep(100);
    const second = upload(big.token, body, body.length);
    assert.equal((await second.answered()).startsWith("HTTP/1.1 202"), true, "alone, the second upload waited");
    first.finish();
    assert.match(await first.answered(), /^HTTP\/1\.1 202/);

    // Shared: the other app publishes; the big app's second upload waits for its first to end.
    await publishOne(small.token);
    const slow = upload(big.token, body, 1_000);
    await sleep(100);
    const held = upload(big.token, body, body.length);
    const gone = upload(big.token, body, body.length);
    assert.equal(await eventually(async () => ((await waitingPublishes()) === 2 ? 2 : undefined)), 2);
    // A client that gives up while waiting: its socket is not read, so Herald learns it at its turn.
    gone.hangUp();
    await publishOne(small.token); // small publishes of the other app are not held
    await sleep(200);
    assert.equal(held.status(), "none", "the held upload was answered before the first one ended");
    assert.equal(await waitingPublishes(), 2);
    slow.finish();
    assert.match(await slow.answered(), /^HTTP\/1\.1 202/);
    assert.match(await held.answered(), /^HTTP\/1\.1 202/);
    assert.equal(await eventually(async () => ((await waitingPublishes()) === 0 ? 0 : undefined)), 0);
    for (const client of [first, second, slow, held]) client.hangUp();
  });

  it("ends the turns of pipelined publishes whose client hung up", async () => {
    const big = await createApp("pipelining");
    const small = await createApp("beside");
    await sleep(1_100); // alone: all three start at once, the second and third answers queued
    const body = JSON.stringify({ category: "user:block", payload: { pad: "y".repeat(40_000) } });
    const request =
      `POST /v1/events HTTP/1.1\r\nhost: herald\r\ncontent-type: application/json\r\n` +
      `api-token: ${big.token}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const socket = connect(Number(new URL(h.url).port), "127.0.0.1");
    socket.on("error", () => {});
    socket.write(request.repeat(3));
    await sleep(1);
    socket.destroy();
    await sleep(500);
    // A turn left running (a queued answer hears nothing of its connection's close) would hold this
    // 30 KB publish for as long as the other app publishes: here, all along.
    let besidePublishing = true;
    const beside = (async () => {
      while (besidePublishing) await Promise.all([publishOne(small.token), sleep(100)]);
    })();
    await sleep(150);
    const next = await fetch(`${h.url}/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json", "api-token": big.token },
      body: JSON.stringify({ category: "user:block", payload: { pad: "y".repeat(30_000) } }),
      signal: AbortSignal.timeout(4_000),
    }).finally(() => (besidePublishing = false));
    await beside;
    assert.equal(next.status, 202);
    assert.equal(await waitingPublishes(), 0);
    // Many pipelined publishes on one connection: answered, and one close listener for all of them.
    const tiny = JSON.stringify({ category: "user:block" });
    const pipelined = connect(Number(new URL(h.url).port), "127.0.0.1");
    let answers = "";
    pipelined.on("data", (chunk) => (answers += chunk));
    pipelined.write(
      `POST /v1/events HTTP/1.1\r\nhost: herald\r\ncontent-type: application/json\r\napi-token: ${big.token}\r\ncontent-length: ${tiny.length}\r\n\r\n${tiny}`.repeat(
        20,
      ),
    );
    await eventually(() => ((answers.match(/HTTP\/1\.1 202/g) ?? []).length === 20 ? true : undefined));
    pipelined.destroy();
    assert.doesNotMatch(h.output, /MaxListenersExceededWarning/);
  });
});
