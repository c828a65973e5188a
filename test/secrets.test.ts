import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { Writable } from "node:stream";
import { after, it } from "node:test";
import { pino } from "pino";
import { createHerald } from "../src/index.js";
import { call, configureChatWebhook, testDatabase } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

it("signs with the master token whatever token published, and never logs a token", async () => {
  let logged = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logged += chunk;
      done();
    },
  });
  const database = testDatabase();
  after(() => database.drop());
  const herald = await createHerald({
    env: {},
    databaseUrl: database.url,
    host: "127.0.0.1",
    port: 0,
    logger: pino({ level: "trace" }, sink),
  });
  const receiver = await Receiver.start();
  try {
    const url = await herald.listen();
    const { app, apiToken: master } = await herald.apps.create("secrets");
    await configureChatWebhook(url, master, { url: receiver.url });
    const secondary = (await call(url, "POST", "/v3/applications/api_tokens", { token: master })).body.token as string;

    const published = await call(url, "POST", "/v1/events", { token: secondary, body: { category: "user:block" } });
    assert.equal(published.status, 202);
    await receiver.waitFor(1);
    const request = receiver.requests[0]!;
    const sign = (key: string) => createHmac("sha256", key).update(request.raw).digest("hex");
    assert.equal(request.headers["x-sendbird-signature"], sign(master));
    assert.notEqual(request.headers["x-sendbird-signature"], sign(secondary));
    assert.equal(JSON.parse(request.raw.toString()).app_id, app.id);

    // Requests that fail, with tokens in headers and in a path, still leave no token in the logs.
    await call(url, "GET", "/v3/applications/settings/webhook", { token: `${master.slice(0, 39)}x` });
    await call(url, "DELETE", `/v3/applications/api_tokens/${secondary}`, { token: secondary });
    await call(url, "DELETE", `/v3/applications/api_tokens/${secondary}`, { token: master });
    await herald.close();
    assert.ok(logged.includes("herald listening"), "the logger did receive Herald's logs");
    for (const secret of [master, secondary, master.slice(0, 39)]) {
      assert.ok(!logged.includes(secret), "a token reached the logs");
    }
  } finally {
    await herald.close();
    await receiver.close();
  }
});
