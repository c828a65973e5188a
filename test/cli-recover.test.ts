// `herald deliveries recover` against a real Herald: dead letters sent again, progress, the count.
// A file of its own: it waits for three attempts of 40 deliveries, which a loaded machine makes slow.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { it } from "node:test";
import { call, eventually, startHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

const HERALD = join(import.meta.dirname, "../bin/herald.js");

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HERALD, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

it("deliveries recover prints progress and ends with the count; its --json is the finished recovery", async () => {
  // Dead letters are the point: no breaker may hold the failing deliveries back as pending.
  const fast = await startHerald({ retryDelayScale: 0.01, endpointBreakerFailures: 1_000_000 });
  let up = false;
  const flaky = await Receiver.start(() => (up ? 200 : 503));
  try {
    const tenant = await fast.createApp();
    const created = await call(fast.url, "POST", "/v1/endpoints", {
      token: tenant.token,
      body: { url: flaky.url, profile: "sendbird" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const events = Array.from({ length: 40 }, (_, n) => ({ category: "user:block", n }));
    await call(fast.url, "POST", "/v1/events/batch", { token: tenant.token, body: { events } });
    await eventually(async () => {
      const failed = await call(fast.url, "GET", "/v1/deliveries?status=failed&limit=100", { token: tenant.token });
      return failed.body.deliveries.length === 40 ? true : undefined;
    }, 30_000);
    up = true;
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (!name.startsWith("HERALD_") && value !== undefined) env[name] = value;
    }
    const local = { ...env, HERALD_URL: fast.url, HERALD_API_TOKEN: tenant.token, NO_COLOR: "1" };
    const args = ["deliveries", "recover", "--endpoint", created.body.id, "--since", "10m"];
    const human = await run(args, local);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /recovered 40 deliveries of .* \(succeeded\)/);
    await flaky.waitFor(40 * 3 + 40);
    // A second recovery of the same window finds them delivered: nothing failed is left.
    const again = JSON.parse((await run([...args, "--json"], local)).stdout);
    assert.equal(again.status, "succeeded");
    assert.equal(again.recovered, 0);
  } finally {
    await flaky.close();
    await fast.close();
  }
});
