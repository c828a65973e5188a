import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { Writable } from "node:stream";
import { after, it } from "node:test";
import { createLogger } from "../src/core/logger.js";
import { createHerald } from "../src/index.js";
import { call, configureChatWebhook, LOOPBACK_ALLOWED, testDatabase } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

/** Where a secret may sit in a log record, and where Herald's logger must censor it. */
const SECRET_PLACES: { name: string; record: (secret: string) => object; at: string[] }[] = [
  {
    name: "a request's Api-Token header",
    record: (secret) => ({ req: { method: "GET", headers: { "api-token": secret } } }),
    at: ["req", "headers", "api-token"],
  },
  {
    name: "a request's Authorization header",
    record: (secret) => ({ req: { headers: { authorization: `Bearer ${secret}` } } }),
    at: ["req", "headers", "authorization"],
  },
  {
    name: "a bare headers object",
    record: (secret) => ({ headers: { "api-token": secret, "content-type": "application/json" } }),
    at: ["headers", "api-token"],
  },
  { name: "an apiToken field", record: (secret) => ({ app: { id: "a", apiToken: secret } }), at: ["app", "apiToken"] },
  {
    name: "an api_token field",
    record: (secret) => ({ created: { app_id: "a", api_token: secret } }),
    at: ["created", "api_token"],
  },
  {
    name: "a signingKey field",
    record: (secret) => ({ app: { id: "a", signingKey: secret } }),
    at: ["app", "signingKey"],
  },
  { name: "a token field", record: (secret) => ({ body: { token: secret } }), at: ["body", "token"] },
];

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
  // Herald's own logger (the one createHerald builds when given none), writing where the test can read.
  const logger = createLogger("trace", sink);
  const herald = await createHerald({
    env: {},
    databaseUrl: database.url,
    host: "127.0.0.1",
    port: 0,
    logger,
    allowNetworks: LOOPBACK_ALLOWED,
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

    // Whatever Herald logs through that logger (or a child of it, as each request's is) is censored
    // wherever a token can sit, at every level.
    for (const place of SECRET_PLACES) {
      logger.error(place.record(master), place.name);
      logger.child({ reqId: "req-1" }).trace(place.record(secondary), place.name);
    }
    await herald.close();

    const lines = logged
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, any>);
    assert.ok(
      lines.some((line) => line.msg === "herald listening" && line.service === "herald"),
      "the logger did receive Herald's logs",
    );
    for (const place of SECRET_PLACES) {
      const records = lines.filter((line) => line.msg === place.name);
      assert.equal(records.length, 2, `both records of ${place.name} were written`);
      for (const record of records) {
        const value = place.at.reduce((object, key) => object?.[key], record as any);
        assert.equal(value, "[redacted]", `${place.name} is censored`);
      }
    }
    for (const secret of [master, secondary, master.slice(0, 39)]) {
      assert.ok(!logged.includes(secret), "a token reached the logs");
    }
  } finally {
    await herald.close();
    await receiver.close();
  }
});
