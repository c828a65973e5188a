import assert from "node:assert/strict";
import { request } from "node:http";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../src/core/logger.js";
import { startHerald, type TestHerald } from "./helpers/herald.js";

/** Herald's log as JSON lines, to tell what it logged at which level. */
function capturedLogger() {
  let text = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += chunk;
      done();
    },
  });
  return {
    logger: createLogger("trace", sink),
    lines: () =>
      text
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, any>),
  };
}

/** A GET with the path exactly as written: fetch would resolve `..` and `%2e%2e` before sending. */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: hostname, port, path, method: "GET" }, (response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode!, body }));
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}

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
      const { status, body } = await rawGet(h.url, probe);
      assert.ok(status === 404 || status === 400, `${probe}: ${status}`);
      assert.equal(JSON.parse(body).error.code, status === 404 ? "not_found" : "invalid_value", probe);
      assert.doesNotMatch(body, /"name"\s*:\s*"herald"/, `${probe} leaked package.json`);
    }
    const errors = log.lines().filter((line) => line.level >= 50);
    assert.deepEqual(errors, []);
    // The dashboard itself is still served.
    assert.equal((await rawGet(h.url, "/dashboard/deliveries")).status, 200);
  });
});
