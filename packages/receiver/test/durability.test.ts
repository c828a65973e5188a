import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { signStandardWebhook } from "@herald/signing";
import { Agent, request } from "undici";
import { openInbox } from "../src/index.js";
import { eventually, ListeningProcess, type TestInbox, testInbox } from "./helpers.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const FIXTURE = join(import.meta.dirname, "fixtures/receiver-process.ts");
/** Sendbird Calls gives a receiver 1 s per attempt: the strictest acknowledgement budget we serve. */
const ACK_BUDGET_MS = 1_000;

function signedEvent(id: string, n: number) {
  const body = JSON.stringify({ type: "message.new", data: { n, text: "slow handler 😀" } });
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    body,
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signStandardWebhook(id, timestamp, body, SECRET),
    },
  };
}

/** Posts events with `concurrency` loops; records each answer's status and latency. Never throws. */
async function postAll(url: string, ids: string[], concurrency: number) {
  const agent = new Agent({ connections: concurrency });
  const results: { id: string; status: number; ms: number }[] = [];
  let next = 0;
  const loop = async () => {
    while (next < ids.length) {
      const index = next++;
      const id = ids[index]!;
      const { body, headers } = signedEvent(id, index);
      const started = performance.now();
      try {
        const response = await request(url, { method: "POST", body, headers, dispatcher: agent });
        await response.body.text();
        results.push({ id, status: response.statusCode, ms: performance.now() - started });
      } catch {
        results.push({ id, status: 0, ms: performance.now() - started });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  await agent.close();
  return results;
}

const handledKeys = (log: string) => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []);

describe("acknowledge at once, process later, lose nothing", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  function setUp(extraEnv: Record<string, string>) {
    const inbox: TestInbox = testInbox();
    const log = join(mkdtempSync(join(tmpdir(), "handled-")), "handled.log");
    const env = { INBOX_SPEC: inbox.spec, SECRET, HANDLED_LOG: log, ...extraEnv };
    const processes: ListeningProcess[] = [];
    cleanups.push(async () => {
      for (const p of processes) await p.stop();
      await inbox.drop();
    });
    const spawnReceiver = async () => {
      const receiver = new ListeningProcess([FIXTURE], env);
      processes.push(receiver);
      await receiver.start();
      return receiver;
    };
    return { inbox, log, spawnReceiver };
  }

  it("answers 2,000 events within the 1 s Calls budget while the handler is slow, and handles each once", async (t) => {
    const { inbox, log, spawnReceiver } = setUp({ HANDLER_DELAY_MS: "20", CONCURRENCY: "8" });
    const receiver = await spawnReceiver();
    const ids = Array.from({ length: 2_000 }, () => randomUUID());
    // Every tenth event is sent twice, as a sender retrying after a lost answer would.
    const sent = ids.flatMap((id, index) => (index % 10 === 0 ? [id, id] : [id]));
    const results = await postAll(`${receiver.url}/webhooks`, sent, 32);
    assert.deepEqual(
      results.filter((r) => r.status !== 200),
      [],
    );
    const slowest = Math.max(...results.map((r) => r.ms));
    const sorted = results.map((r) => r.ms).sort((a, b) => a - b);
    t.diagnostic(
      `ack p50 ${sorted[sorted.length >> 1]!.toFixed(1)} ms, p99 ${sorted[Math.floor(sorted.length * 0.99)]!.toFixed(1)} ms, max ${slowest.toFixed(1)} ms`,
    );
    assert.ok(slowest < ACK_BUDGET_MS, `slowest acknowledgement ${slowest.toFixed(1)} ms`);
    const handledWhenAllAcked = handledKeys(log).length;
    assert.ok(handledWhenAllAcked < ids.length, "acknowledgements did not wait for the 20 ms handlers");

    const handled = await eventually(() => {
      const keys = handledKeys(log);
      return keys.length >= ids.length ? keys : undefined;
    }, 60_000);
    // Once the inbox holds nothing pending, no handler can run again (a handler logs its key before
    // its event is marked done), so the log is final.
    const reader = await openInbox(inbox.option);
    try {
      const counts = await eventually(async () => {
        const now = await reader.counts();
        return now.pending === 0 ? now : undefined;
      });
      assert.deepEqual(counts, { pending: 0, done: ids.length, dead: 0 }, "each event stored once");
    } finally {
      await reader.close();
    }
    const final = handledKeys(log);
    assert.equal(final.length, ids.length, "each event handled exactly once, duplicates removed");
    assert.deepEqual(new Set(final), new Set(ids));
    assert.equal(handled.length, ids.length);
  });

  it("loses nothing it acknowledged when killed with -9 mid-run", async (t) => {
    const { log, spawnReceiver } = setUp({ HANDLER_DELAY_MS: "10", CONCURRENCY: "4", LEASE_MS: "2000" });
    const first = await spawnReceiver();
    const ids = Array.from({ length: 1_500 }, () => randomUUID());
    const posting = postAll(`${first.url}/webhooks`, ids, 16);
    await eventually(() => (handledKeys(log).length >= 100 ? true : undefined), 30_000);
    await first.kill9();
    const results = await posting;
    const acknowledged = results.filter((r) => r.status === 200).map((r) => r.id);
    assert.ok(acknowledged.length > 100, `${acknowledged.length} acknowledged before the kill`);
    assert.ok(acknowledged.length < ids.length, "the kill landed mid-run");
    const unhandledAtKill = acknowledged.filter((id) => !handledKeys(log).includes(id)).length;
    assert.ok(unhandledAtKill > 0, "some acknowledged events were still waiting in the inbox");

    t.diagnostic(`${acknowledged.length} acknowledged, ${unhandledAtKill} of them unhandled at the kill`);
    await spawnReceiver();
    await eventually(() => {
      const handled = new Set(handledKeys(log));
      return acknowledged.every((id) => handled.has(id)) ? true : undefined;
    }, 60_000);
  });
});
