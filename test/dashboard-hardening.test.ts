import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { capturedLogger, rawGet } from "./helpers/capture.js";
import { call, eventually, sleep, startHerald, type TestHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

describe("dashboard under attack", () => {
  let h: TestHerald;
  const log = capturedLogger();

  before(async () => {
    h = await startHerald({ logger: log.logger });
  });
  after(() => h.close());

  it("traversal probes on /dashboard are a 404 in the native format, with no error in the log", async () => {
    const probes = [
      "/dashboard/..%2f..%2fpackage.json",
      "/dashboard/..%2fpackage.json",
      "/dashboard/%2e%2e/%2e%2e/package.json",
      "/dashboard/%2e%2e%2fpackage.json",
      "/dashboard/..%5c..%5cpackage.json",
      "/dashboard/assets/..%5c..%5cpackage.json",
      "/dashboard/%00.js",
      "/dashboard/assets/%00",
      "/dashboard/a%0a.js",
      "/dashboard/%252e%252e%252fpackage.json",
      "/dashboard/..%2f..%2fsettings",
    ];
    for (const probe of probes) {
      const { status, body: bytes } = await rawGet(h.url, probe);
      const body = bytes.toString();
      assert.ok(status === 404 || status === 400, `${probe}: ${status}`);
      assert.equal(JSON.parse(body).error.code, status === 404 ? "not_found" : "invalid_value", probe);
      assert.doesNotMatch(body, /"name"\s*:\s*"herald"/, `${probe} leaked package.json`);
    }
    const errors = log.lines().filter((line) => line.level >= 50);
    assert.deepEqual(errors, []);
    // The dashboard itself is still served.
    assert.equal((await rawGet(h.url, "/dashboard/deliveries")).status, 200);
  });

  it("GET /v1/stats: 20 parallel calls share one computation, /healthz stays fast, and the answer renews after a few seconds", async () => {
    const receiver = await Receiver.start();
    try {
      const app = await h.createApp("stats-flood");
      const created = await call(h.url, "POST", "/v1/endpoints", { token: app.token, body: { url: receiver.url } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      for (let i = 0; i < 300; i++) {
        await h.herald.publish(app.appId, { category: "group_channel:message_send", payload: { i } });
      }
      const stats = () => call(h.url, "GET", "/v1/stats?hours=2", { token: app.token });
      const flood = Array.from({ length: 20 }, stats);
      const started = Date.now();
      const health = await fetch(`${h.url}/healthz`);
      const healthMs = Date.now() - started;
      const answers = await Promise.all(flood);
      assert.equal(health.status, 200);
      assert.ok(healthMs < 1500, `/healthz took ${healthMs} ms during the flood`);
      for (const answer of answers) assert.equal(answer.status, 200);
      const generated = new Set(answers.map((answer) => answer.body.generated_at));
      assert.equal(generated.size, 1, `computed ${generated.size} times`);
      const [first] = answers;
      assert.equal(first!.body.endpoints[0].deliveries, 300);
      // Another window is folded from the same read of the log.
      const other = await call(h.url, "GET", "/v1/stats?hours=3", { token: app.token });
      assert.equal(other.status, 200);
      assert.equal(other.body.generated_at, first!.body.generated_at);
      assert.equal(other.body.hours, 3);
      // A few seconds on, a new one.
      await sleep(5500);
      const later = await eventually(async () => {
        const { body } = await stats();
        return body.generated_at !== first!.body.generated_at ? body : undefined;
      }, 5000);
      assert.ok(Date.parse(later.generated_at) > Date.parse(first!.body.generated_at));
    } finally {
      await receiver.close();
    }
  });
});
