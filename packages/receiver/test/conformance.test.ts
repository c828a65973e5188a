import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import express from "express";
import { runConformanceCheck } from "../src/conformance/index.js";
import { createReceiver, nodeListener, type Receiver } from "../src/index.js";
import { serve, type TestInbox, testInbox } from "./helpers.js";

const BIN = join(import.meta.dirname, "../bin/herald-receiver.js");
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/**
 * The receiver the tutorial warns against: express.json() first, then an HMAC over the
 * re-serialised JSON, compared with timingSafeEqual without a length check, and 100 KB bodies.
 */
async function brokenReceiver() {
  const app = express();
  app.post("/hook", express.json(), (req, res) => {
    const expected = createHmac("sha256", SECRET).update(JSON.stringify(req.body)).digest("hex");
    const given = String(req.headers["x-sendbird-signature"] ?? "");
    if (!timingSafeEqual(Buffer.from(expected), Buffer.from(given))) return void res.status(401).end();
    res.status(200).end();
  });
  return serve(app);
}

describe("conformance check", () => {
  let inbox: TestInbox;
  let receiver: Receiver;
  let ours: { url: string; close(): Promise<void> };

  before(async () => {
    inbox = testInbox();
    receiver = createReceiver({ secrets: [SECRET, "rotated-secret"], inbox: inbox.option, handlers: {} });
    ours = await serve(nodeListener(receiver));
  });
  after(async () => {
    await ours.close();
    await receiver.close();
    await inbox.drop();
  });

  it("grades the kit's receiver as passing for every profile", async () => {
    for (const profile of ["sendbird", "stream", "standard-webhooks"] as const) {
      const report = await runConformanceCheck({
        url: `${ours.url}/hook`,
        profile,
        secret: SECRET,
        rotatedSecret: "rotated-secret",
      });
      assert.ok(report.passed, report.table);
      // A WARN may only be about time (a loaded CI machine); anything about correctness must pass.
      const unexpected = report.results.filter(
        (r) => r.grade === "fail" || (r.grade === "warn" && !/^answered after/.test(r.note)),
      );
      assert.deepEqual(unexpected, [], report.table);
      assert.equal(
        report.results.find((r) => r.name === "stale timestamp (10 min)")?.grade,
        profile === "standard-webhooks" ? "pass" : "skip",
      );
    }
    // Per profile, seven distinct events had to be accepted (the duplicate counts once): each is stored once.
    const counts = await receiver.counts();
    assert.equal(counts.done + counts.pending, 3 * 7, JSON.stringify(counts));
  });

  it("grades a receiver that re-serialises JSON as broken, naming what is wrong", async () => {
    const broken = await brokenReceiver();
    try {
      const report = await runConformanceCheck({ url: `${broken.url}/hook`, profile: "sendbird", secret: SECRET });
      assert.equal(report.passed, false);
      const grades = Object.fromEntries(report.results.map((r) => [r.name, r.grade]));
      assert.equal(grades["raw bytes, not re-serialised JSON"], "fail");
      assert.equal(grades["emoji, CJK and RTL text"], "fail", "Sendbird escapes non-ASCII; JSON.stringify does not");
      assert.equal(grades["1 MiB body"], "fail", "express.json() stops at 100 KB");
      assert.equal(grades["truncated signature"], "warn", "timingSafeEqual throws on a length mismatch: a 500");
      assert.equal(grades["tampered body"], "pass");
      assert.match(report.table, /FAILED$/);
    } finally {
      await broken.close();
    }
  });

  it("runs from the command line, exiting 0 for a passing receiver and 1 for a broken one", async () => {
    const run = (url: string) =>
      promisify(execFile)(process.execPath, [BIN, "check", url, "--profile", "sendbird", "--secret", SECRET]).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      );
    const passing = await run(`${ours.url}/hook`);
    assert.equal(passing.code, 0, passing.stdout);
    assert.match(passing.stdout, /valid request\s+2xx\s+200 in \d+ ms\s+PASS/);
    const broken = await brokenReceiver();
    try {
      const failing = await run(`${broken.url}/hook`);
      assert.equal(failing.code, 1);
      assert.match(failing.stdout, /raw bytes, not re-serialised JSON\s+2xx\s+401 in \d+ ms\s+FAIL/);
    } finally {
      await broken.close();
    }
  });
});
