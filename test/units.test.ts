import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkFilter, editDistance, filterMatches } from "../src/catalog/index.js";
import { applyOverrides } from "../src/cli/commands/trigger.js";
import type { HeraldError } from "../src/core/errors.js";
import { uuidv7 } from "../src/core/ids.js";
import {
  DURABLE_RETRY_DELAYS_MS,
  MAX_RETRY_AFTER_MS,
  nextState,
  policyOf,
  retryAfterMs,
  retryDelayMs,
} from "../src/delivery/retry.js";
import { describeFailure } from "../src/delivery/transport/outbound-transport.js";
import { PublishGate } from "../src/ingest/publish-gate.js";
import { findVocabulary, WIRE_FORMATS } from "../src/profiles/registry.js";
import { sendbirdCallsCatalog, sendbirdChatCatalog, sendbirdChatWire } from "../src/profiles/sendbird/index.js";
import { standardWireFormat } from "../src/profiles/standard/wire-format.js";
import { streamWireFormat } from "../src/profiles/stream/wire-format.js";
import { RecentBodies } from "../src/storage/recent-bodies.js";
import { eventually } from "./helpers/herald.js";
import { endpointRecord } from "./helpers/store.js";

describe("retry policy", () => {
  const policy = sendbirdChatWire.policy;

  it("waits 250 ms then 500 ms, each within ±20%", () => {
    assert.equal(
      retryDelayMs(policy, 1, () => 0),
      200,
    );
    assert.equal(
      retryDelayMs(policy, 1, () => 1),
      300,
    );
    assert.equal(
      retryDelayMs(policy, 2, () => 0.5),
      500,
    );
    assert.equal(
      retryDelayMs(policy, 7, () => 0.5),
      500,
      "the last delay repeats",
    );
  });

  it("ends as delivered on success, pending while attempts remain, failed after the last", () => {
    assert.deepEqual(nextState(policy, "succeeded", 3, 3, 1000), { state: "succeeded", nextAttemptAt: 1000 });
    assert.deepEqual(
      nextState(policy, "retry", 1, 3, 1000, 1, () => 0.5),
      { state: "pending", nextAttemptAt: 1250 },
    );
    assert.deepEqual(nextState(policy, "retry", 3, 3, 1000), { state: "failed", nextAttemptAt: 1000 });
  });

  it("ends at once on an outcome its wire format calls final, and scales delays", () => {
    assert.deepEqual(nextState(policy, "failed", 1, 3, 1000), { state: "failed", nextAttemptAt: 1000 });
    assert.deepEqual(
      nextState(policy, "retry", 1, 3, 1000, 0.01, () => 0.5),
      {
        state: "pending",
        nextAttemptAt: 1003,
      },
    );
  });

  it("reads Retry-After on 429 and 503 only, in seconds or as an HTTP-date, capped at an hour", () => {
    const now = Date.parse("2026-12-01T00:00:00Z");
    assert.equal(retryAfterMs(429, { "retry-after": "7" }, now), 7000);
    assert.equal(retryAfterMs(503, { "retry-after": " 120 " }, now), 120_000);
    assert.equal(retryAfterMs(503, { "retry-after": "Tue, 01 Dec 2026 00:00:30 GMT" }, now), 30_000);
    assert.equal(retryAfterMs(429, { "retry-after": "999999" }, now), MAX_RETRY_AFTER_MS);
    assert.equal(retryAfterMs(429, { "retry-after": "Mon, 30 Nov 2026 00:00:00 GMT" }, now), 0, "a past date");
    assert.equal(retryAfterMs(429, { "retry-after": "soon" }, now), 0);
    assert.equal(retryAfterMs(429, { "retry-after": "-5" }, now), 0);
    assert.equal(retryAfterMs(500, { "retry-after": "7" }, now), 0);
    assert.equal(retryAfterMs(null, {}, now), 0);
    // Never sooner than the policy's own delay, nor past the window.
    assert.deepEqual(
      nextState(policy, "retry", 1, 3, 1000, 1, () => 0.5, Infinity, 100),
      {
        state: "pending",
        nextAttemptAt: 1250,
      },
    );
    assert.deepEqual(
      nextState(policy, "retry", 1, 3, 1000, 1, () => 0.5, Infinity, 5000),
      {
        state: "pending",
        nextAttemptAt: 6000,
      },
    );
    assert.deepEqual(
      nextState(policy, "retry", 1, 3, 1000, 1, () => 0.5, 5000, 5000),
      {
        state: "failed",
        nextAttemptAt: 1000,
      },
    );
  });

  it("makes durable 12 attempts over about three days, keeping the format's timeout; stream keeps its own", () => {
    const durable = policyOf(policy, { retryPolicy: "durable" });
    assert.equal(durable.maxAttempts, 12);
    assert.equal(durable.timeoutMs, policy.timeoutMs);
    assert.equal(durable.retryDelaysMs, DURABLE_RETRY_DELAYS_MS);
    const hours = DURABLE_RETRY_DELAYS_MS.reduce((sum, ms) => sum + ms, 0) / 3_600_000;
    assert.ok(hours > 70 && hours < 72, String(hours));
    assert.equal(policyOf(policy, { retryPolicy: "profile" }), policy);
    assert.equal(policyOf(streamWireFormat.policy, { retryPolicy: "durable" }), streamWireFormat.policy);
  });

  it("gives Standard Webhooks the spec's schedule: 8 attempts over about 27.5 h, 410 final, 3xx retried", () => {
    const standard = standardWireFormat.policy;
    assert.equal(standard.maxAttempts, 8);
    const hours = standard.retryDelaysMs.reduce((sum, ms) => sum + ms, 0) / 3_600_000;
    assert.ok(hours > 27 && hours < 28, String(hours));
    const status = (statusCode: number) => ({ statusCode, failure: null });
    assert.equal(standardWireFormat.classify(status(410), 1), "failed");
    assert.equal(standardWireFormat.classify(status(302), 1), "retry");
    assert.equal(standardWireFormat.classify(status(204), 1), "succeeded");
    assert.equal(standardWireFormat.classify({ statusCode: null, failure: "timeout" }, 1), "retry");
    assert.equal(sendbirdChatWire.classify(status(410), 1), "retry");
  });
});

describe("filters", () => {
  it("match exact types, prefix wildcards and *", () => {
    assert.ok(filterMatches(["group_channel:*"], "group_channel:message_send"));
    assert.ok(!filterMatches(["group_channel:*"], "open_channel:message_send"));
    assert.ok(!filterMatches(["group_channel:join"], "group_channel:leave"));
    assert.ok(filterMatches(["*"], "direct_call:dial"));
    assert.ok(!filterMatches([], "direct_call:dial"));
  });

  it("suggest the nearest wildcards for a misspelt one", () => {
    const suggested = (entry: string, vocabulary: string) => {
      try {
        checkFilter([entry], findVocabulary(vocabulary)!);
      } catch (error) {
        return { message: (error as Error).message, suggestions: (error as HeraldError).details.suggestions };
      }
      assert.fail(`${entry} was taken`);
    };
    const sendbird = suggested("group_chanel:*", "sendbird");
    assert.equal(sendbird.suggestions?.[0], "group_channel:*");
    assert.match(sendbird.message, /Did you mean "group_channel:\*"/);
    assert.equal(suggested("mesage.*", "stream").suggestions?.[0], "message.*");
  });
});

describe("catalog", () => {
  it("measures edit distance", () => {
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(editDistance("user:blok", "user:block"), 1);
    assert.equal(editDistance("kitten", "sitting"), 3);
  });

  it("holds every Sendbird category the issue names, each with a sample carrying its own category", () => {
    const groups = new Set(sendbirdChatCatalog.entries.map((e) => e.group));
    for (const group of [
      "open_channel",
      "group_channel",
      "user",
      "operators",
      "message",
      "alert",
      "profanity_filter",
      "image_moderation",
      "announcement",
    ]) {
      assert.ok(groups.has(group), group);
    }
    assert.deepEqual(
      sendbirdCallsCatalog.entries.filter((e) => e.group === "room").map((e) => e.category.slice(5)),
      [
        "create",
        "delete",
        "participant_enter",
        "participant_exit",
        "participant_disconnect",
        "invitation_send",
        "invitation_cancel",
        "invitation_accept",
        "invitation_decline",
        "invitation_no_answer",
      ],
    );
    for (const entry of [...sendbirdChatCatalog.entries, ...sendbirdCallsCatalog.entries]) {
      assert.equal(entry.sample.category, entry.category);
      assert.ok(entry.description.length > 10, entry.category);
    }
  });
});

describe("ids", () => {
  it("makes UUIDv7 webhook ids that sort by time", () => {
    const early = uuidv7(1_700_000_000_000);
    const late = uuidv7(1_700_000_000_001);
    assert.match(early, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(early < late);
    assert.equal(new Set(Array.from({ length: 1000 }, () => uuidv7())).size, 1000);
  });
});

describe("rendering", () => {
  // The publisher renders an event once for the endpoints of one app whose render variants are equal.
  it("gives the endpoints of one app the same bytes exactly when their render variants are equal", () => {
    const event = {
      id: "evt-1",
      type: "message.new",
      createdAt: 1_700_000_000_000,
      payload: { type: "message.new", category: "group_channel:message_send", members: [{ user_id: "u" }], n: 1 },
    };
    const endpoints = [
      endpointRecord("A", "A-1"),
      endpointRecord("A", "A-2", { url: "https://example.test/other", headers: { "x-a": "1" } }),
      endpointRecord("A", "A-3", { options: { include_members: true } }),
      endpointRecord("A", "A-4", { options: { compress: true, include_unread_count: true } }),
    ];
    const app = { id: "A", name: "A", signingKey: "ka", createdAt: 0 };
    const pushed = WIRE_FORMATS.filter((format) => !format.synchronous);
    for (const id of [sendbirdChatWire.id, streamWireFormat.id, standardWireFormat.id]) {
      assert.ok(pushed.find((format) => format.id === id)?.renderVariant, `${id} says what its rendering reads`);
    }
    let sharing = 0;
    for (const format of pushed) {
      const variant = format.renderVariant;
      if (!variant) continue;
      for (const a of endpoints) {
        for (const b of endpoints) {
          const alike: boolean = variant(a) === variant(b);
          const same = format.render(event, a, app) === format.render(event, b, app);
          assert.equal(same, alike, `${format.id}: ${a.id} and ${b.id}: same bytes ${same}, same variant ${alike}`);
          if (alike && a !== b) sharing++;
        }
      }
    }
    assert.ok(sharing > 0, "some endpoints share a rendering");
  });
});

describe("attempt failures", () => {
  it("call a passed deadline a timeout, and an abort from elsewhere by its own words", () => {
    const deadline = Object.assign(new Error("the attempt's 50 ms deadline passed"), { name: "TimeoutError" });
    assert.deepEqual(describeFailure(deadline, 50), { errorClass: "timeout", error: "timeout after 50 ms" });
    const aborted = Object.assign(new Error("Request aborted"), { name: "AbortError", code: "UND_ERR_ABORTED" });
    assert.deepEqual(describeFailure(aborted, 50), { errorClass: "reset", error: "UND_ERR_ABORTED: Request aborted" });
    // Words for the receiver's mistake, not the HTTP client's internal name for it.
    const overflow = Object.assign(new Error("Headers Overflow Error"), { code: "UND_ERR_HEADERS_OVERFLOW" });
    assert.deepEqual(describeFailure(overflow, 50), {
      errorClass: "reset",
      error: "the answer's headers are too large",
    });
  });
});

describe("herald trigger --set", () => {
  it("sets a list's item by index, keeping the list and its other items", () => {
    const event = { members: [{ user_id: "a" }, { user_id: "b", metadata: { city: "Oslo" } }], n: 1 };
    applyOverrides(event, [
      { path: ["members", "1", "metadata", "phone"], value: "+15551234" },
      { path: ["members", "2"], value: { user_id: "c" } },
      { path: ["payload", "deep", "x"], value: 2 },
    ]);
    assert.deepEqual(event, {
      members: [{ user_id: "a" }, { user_id: "b", metadata: { city: "Oslo", phone: "+15551234" } }, { user_id: "c" }],
      n: 1,
      payload: { deep: { x: 2 } },
    });
  });

  it("refuses a name or an index past the end where a list is, rather than replacing the list", () => {
    for (const part of ["first", "5"]) {
      const event = { members: [{ user_id: "a" }] };
      assert.throws(
        () => applyOverrides(event, [{ path: ["members", part, "x"], value: 1 }]),
        /names no item of a list of 1/,
      );
      assert.deepEqual(event, { members: [{ user_id: "a" }] });
    }
  });
});

describe("recent bodies", () => {
  it("keeps a big body, never a small one, and no more than its cap, oldest out first", () => {
    const bodies = new RecentBodies(10, 25);
    const reads: string[] = [];
    // As a claim uses it: what is kept, else a read, then kept.
    const get = (key: string) => {
      const kept = bodies.find(key);
      if (kept !== undefined) return kept;
      reads.push(key);
      const body = key.startsWith("big") ? key.padEnd(10, "x") : "small";
      bodies.keep(key, body);
      return body;
    };
    assert.equal(get("big-1"), "big-1xxxxx");
    assert.equal(get("big-1"), "big-1xxxxx");
    get("small-1");
    get("small-1");
    assert.deepEqual(reads, ["big-1", "small-1", "small-1"], "the big body read once, the small one each time");
    // 10 + 10 fit in 25; a third pushes the oldest out.
    get("big-2");
    get("big-3");
    reads.length = 0;
    for (const key of ["big-2", "big-3", "big-1"]) get(key);
    assert.deepEqual(reads, ["big-1"], "big-1, the oldest, went when big-3 came");
  });
});

describe("publish gate", () => {
  const KB = 1024;
  /** A gate on a clock the test moves, and what each publish has come to. */
  const gateAt = () => {
    const clock = { now: 0 };
    let waiting = 0;
    const gate = new PublishGate(
      (change) => (waiting += change),
      () => clock.now,
    );
    const started: string[] = [];
    const enter = (label: string, appId: string, bytes: number) => {
      const turn = gate.enter(appId, bytes);
      void turn.admitted.then(() => started.push(label));
      return turn;
    };
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    return { clock, gate, started, enter, settle, waiting: () => waiting };
  };

  it("lets an app alone run its big publishes side by side", async () => {
    const { enter, settle, started, waiting } = gateAt();
    enter("a1", "A", 800 * KB);
    enter("a2", "A", 800 * KB);
    await settle();
    assert.deepEqual(started, ["a1", "a2"]);
    assert.equal(waiting(), 0);
  });

  it("while another app publishes, holds an app's next big publish, in order, until its turn; small ones fit beside", async () => {
    const { clock, enter, settle, started, waiting } = gateAt();
    enter("b1", "B", 300).end(); // B published a moment ago
    clock.now = 999;
    const a1 = enter("a1", "A", 800 * KB);
    const a2 = enter("a2", "A", 800 * KB);
    const a3 = enter("a3", "A", 10 * KB); // behind a2: an app's publishes start in order
    enter("b2", "B", 300);
    enter("b3", "B", 60 * KB); // within B's 64 KiB beside b2
    await settle();
    assert.deepEqual(started, ["b1", "a1", "b2", "b3"]);
    assert.equal(waiting(), 2);
    a1.end();
    a1.end(); // a second end changes nothing
    await settle();
    assert.deepEqual(started.slice(4), ["a2"]);
    a2.end();
    await settle();
    assert.deepEqual(started.slice(5), ["a3"]);
    assert.equal(waiting(), 0);
    a3.end();
  });

  it("takes a publish that gives up out of line, and stops holding once the other app has been quiet for a second", async () => {
    const { clock, enter, settle, started, waiting } = gateAt();
    enter("b1", "B", 300).end();
    const a1 = enter("a1", "A", 800 * KB);
    const gone = enter("gone", "A", 800 * KB);
    await settle();
    assert.equal(waiting(), 1);
    gone.end();
    assert.equal(waiting(), 0);
    clock.now = 1_001; // B's last publish ended over a second ago
    enter("a2", "A", 800 * KB);
    await settle();
    assert.deepEqual(started, ["b1", "a1", "a2"]);
    a1.end();
  });

  it("lets a held publish go once the other apps fall quiet, though its own app's publish goes on", async () => {
    const { clock, enter, settle, started, waiting } = gateAt();
    enter("b1", "B", 300).end();
    const a1 = enter("a1", "A", 800 * KB);
    enter("a2", "A", 800 * KB);
    await settle();
    assert.deepEqual(started, ["b1", "a1"]);
    clock.now = 1_001; // nothing ends, nothing enters: only the gate's own timer can notice
    await eventually(() => (started.includes("a2") ? true : undefined), 2_000);
    assert.equal(waiting(), 0);
    a1.end();
  });
});
