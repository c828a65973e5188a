import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { signStream } from "@herald/signing";
import { createReceiver, type ReceivedEvent, type Receiver } from "../src/index.js";
import { eventually, sleep, type TestInbox, testInbox } from "./helpers.js";

const SECRET = "stream-secret";
const BIN = join(import.meta.dirname, "../bin/herald-receiver.js");
let counter = 0;

/** A Stream-format request, as stream's servers sign it: hex HMAC over the raw body. */
function streamRequest(type: string, data: Record<string, unknown> = {}, id = `wh-${++counter}`) {
  const body = JSON.stringify({ type, ...data });
  return { headers: { "x-signature": signStream(body, SECRET), "x-api-key": "key", "x-webhook-id": id }, body };
}

describe("processing from the inbox", () => {
  const open: { receiver: Receiver; inbox: TestInbox }[] = [];
  after(async () => {
    for (const { receiver, inbox } of open) {
      await receiver.close();
      await inbox.drop();
    }
  });
  const start = (options: Omit<Parameters<typeof createReceiver>[0], "secrets" | "inbox">) => {
    const inbox = testInbox();
    const receiver = createReceiver({ secrets: SECRET, inbox: inbox.option, pollIntervalMs: 50, ...options });
    open.push({ receiver, inbox });
    return receiver;
  };

  it("routes by exact type, prefix wildcard and *, running every match", async () => {
    const seen: string[] = [];
    const receiver = start({
      handlers: {
        "message.new": () => void seen.push("exact"),
        "message.*": () => void seen.push("prefix"),
        "*": () => void seen.push("all"),
      },
    });
    await receiver.handle(streamRequest("message.new"));
    await receiver.handle(streamRequest("channel.created"));
    await eventually(async () => ((await receiver.counts()).done === 2 ? true : undefined));
    assert.deepEqual(seen.sort(), ["all", "all", "exact", "prefix"]);
  });

  it("never runs more handlers at once than the concurrency allows", async () => {
    let running = 0;
    let peak = 0;
    const receiver = start({
      concurrency: 3,
      handlers: {
        "*": async () => {
          peak = Math.max(peak, ++running);
          await sleep(20);
          running--;
        },
      },
    });
    await Promise.all(Array.from({ length: 30 }, () => receiver.handle(streamRequest("message.new"))));
    await eventually(async () => ((await receiver.counts()).done === 30 ? true : undefined));
    assert.equal(peak, 3);
  });

  it("retries a failing handler with the same key, dead-letters it after maxAttempts, and replays it", async () => {
    const attempts: ReceivedEvent[] = [];
    const times: number[] = [];
    let healthy = false;
    const receiver = start({
      maxAttempts: 3,
      retryDelaysMs: [30, 60],
      onError: () => {},
      handlers: {
        "message.new": (event) => {
          attempts.push(event);
          times.push(Date.now());
          if (!healthy) throw new Error("downstream unavailable");
        },
      },
    });
    const request = streamRequest("message.new", { n: 1 }, "wh-retry");
    assert.equal((await receiver.handle(request)).status, 200);
    const [letter] = await eventually(async () => {
      const letters = await receiver.deadLetters();
      return letters.length === 1 ? letters : undefined;
    });
    assert.deepEqual(
      attempts.map((a) => [a.key, a.attempt]),
      [
        ["wh-retry", 1],
        ["wh-retry", 2],
        ["wh-retry", 3],
      ],
    );
    assert.ok(times[1]! - times[0]! >= 24 && times[2]! - times[1]! >= 48, `backoff: ${times.join(", ")}`);
    assert.match(letter!.lastError ?? "", /downstream unavailable/);
    assert.equal(letter!.attempts, 3);

    // A dead letter still deduplicates: the sender's retry is acknowledged, not run again.
    const repeat = await receiver.handle(request);
    assert.equal(JSON.parse(repeat.body).duplicate, true);
    healthy = true;
    assert.equal(await receiver.replay([letter!.seq]), 1);
    await eventually(() => (attempts.length === 4 ? true : undefined));
    await eventually(async () => ((await receiver.counts()).done === 1 ? true : undefined));
    assert.deepEqual(await receiver.deadLetters(), []);
  });

  it("lists dead letters and replays them from the command line", async () => {
    let healthy = false;
    const handled: string[] = [];
    const inbox = testInbox();
    const receiver = createReceiver({
      secrets: SECRET,
      inbox: inbox.option,
      pollIntervalMs: 50,
      maxAttempts: 1,
      onError: () => {},
      handlers: {
        "message.new": (event) => {
          if (!healthy) throw new Error("mailer unreachable\nstack line");
          handled.push(event.key);
        },
      },
    });
    open.push({ receiver, inbox });
    await receiver.handle(streamRequest("message.new", {}, "wh-cli"));
    const [letter] = await eventually(async () => {
      const letters = await receiver.deadLetters();
      return letters.length === 1 ? letters : undefined;
    });
    const cli = async (...args: string[]) =>
      (await promisify(execFile)(process.execPath, [BIN, "dead-letters", "--inbox", inbox.spec, ...args])).stdout;
    const listing = await cli();
    assert.match(listing, new RegExp(`^${letter!.seq}\twh-cli\tmessage.new\t1\tError: mailer unreachable$`, "m"));
    assert.match(listing, /^1 dead letter\(s\)$/m);
    healthy = true;
    assert.match(await cli("--replay", String(letter!.seq)), /^1 dead letter\(s\) due again$/m);
    await eventually(() => (handled.includes("wh-cli") ? true : undefined));
    assert.match(await cli(), /^0 dead letter\(s\)$/m);
    if (inbox.spec.startsWith("sqlite:")) {
      // A mistyped path is an error, not a new empty inbox reporting nothing.
      const missing = `${inbox.spec}.typo`;
      const run = promisify(execFile)(process.execPath, [BIN, "dead-letters", "--inbox", missing]);
      await assert.rejects(run, (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 1);
        assert.match(error.stderr, /no inbox at .*\.typo/);
        return true;
      });
      assert.equal(existsSync(missing.slice("sqlite:".length)), false, "nothing created");
    }
  });

  it("answers 401 with the reason for a forged request and stores nothing", async () => {
    const receiver = start({ handlers: {} });
    const forged = { ...streamRequest("message.new"), body: JSON.stringify({ type: "message.new", forged: true }) };
    const response = await receiver.handle(forged);
    assert.equal(response.status, 401);
    assert.deepEqual(JSON.parse(response.body).reason, "bad-signature");
    assert.deepEqual(await receiver.counts(), { pending: 0, done: 0, dead: 0 });
  });
});
