import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import express from "express";
import Fastify from "fastify";
import { Webhook } from "standardwebhooks";
import {
  createReceiver,
  expressHandler,
  fastifyReceiver,
  nodeListener,
  type ReceivedEvent,
  type Receiver,
  webHandler,
} from "../src/index.js";
import { eventually, serve, type TestInbox, testInbox } from "./helpers.js";

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
let sequence = 0;

function signedRequest(body: string, id = `msg_${++sequence}`) {
  const now = new Date();
  return {
    body,
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(id, now, body),
    },
  };
}

type Post = (request: { body: string; headers: Record<string, string> }) => Promise<{ status: number; body: any }>;

/** Starts one adapter on loopback (or, for the Web handler, calls it with real `Request` objects). */
type Mount = (receiver: Receiver) => Promise<{ post: Post; close(): Promise<void> }>;

const overHttp =
  (url: string): Post =>
  async ({ body, headers }) => {
    const response = await fetch(url, { method: "POST", body, headers });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

const adapters: Record<string, Mount> = {
  "node:http": async (receiver) => {
    const server = await serve(nodeListener(receiver));
    return { post: overHttp(`${server.url}/hooks`), close: server.close };
  },
  express: async (receiver) => {
    const app = express();
    app.post("/hooks", expressHandler(receiver));
    const server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
    return { post: overHttp(url), close: () => new Promise((resolve) => server.close(() => resolve())) };
  },
  fastify: async (receiver) => {
    const app = Fastify();
    app.get("/health", async () => ({ ok: true }));
    await app.register(fastifyReceiver, { receiver, path: "/hooks" });
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    return { post: overHttp(`${url}/hooks`), close: () => app.close() };
  },
  "Web Request/Response": async (receiver) => {
    const handler = webHandler(receiver);
    const post: Post = async ({ body, headers }) => {
      const response = await handler(new Request("http://receiver.test/hooks", { method: "POST", body, headers }));
      return { status: response.status, body: await response.json() };
    };
    return { post, close: async () => {} };
  },
};

for (const [name, mount] of Object.entries(adapters)) {
  describe(`${name} adapter`, () => {
    let inbox: TestInbox;
    let receiver: Receiver;
    let post: Post;
    let close: () => Promise<void>;
    const handled: ReceivedEvent[] = [];

    before(async () => {
      inbox = testInbox();
      receiver = createReceiver({
        secrets: secret,
        inbox: inbox.option,
        maxBodyBytes: 64 * 1024,
        handlers: { "message.*": (event) => void handled.push(event) },
      });
      ({ post, close } = await mount(receiver));
    });
    after(async () => {
      await close();
      await receiver.close();
      await inbox.drop();
    });

    it("acknowledges a signed request once, hands it to the matching handler, and marks the repeat a duplicate", async () => {
      const request = signedRequest(JSON.stringify({ type: "message.new", data: { text: "héllo 😀" } }));
      const first = await post(request);
      assert.equal(first.status, 200);
      assert.deepEqual(first.body, { ok: true, id: request.headers["webhook-id"] });
      const again = await post(request);
      assert.deepEqual([again.status, again.body.duplicate], [200, true]);
      const event = await eventually(() => handled.find((e) => e.key === request.headers["webhook-id"]));
      assert.deepEqual(event.payload, { type: "message.new", data: { text: "héllo 😀" } });
      assert.equal(event.profile, "standard-webhooks");
      assert.equal(handled.filter((e) => e.key === request.headers["webhook-id"]).length, 1);
    });

    it("refuses a tampered body with the reason, and stores nothing", async () => {
      const stored = async () => {
        const { pending, done, dead } = await receiver.counts();
        return pending + done + dead;
      };
      const before = await stored();
      const request = signedRequest(JSON.stringify({ type: "message.new", n: 1 }));
      const response = await post({ ...request, body: request.body.replace("1", "2") });
      assert.equal(response.status, 401);
      assert.equal(response.body.reason, "bad-signature");
      // The answer comes after the inbox write, had there been one: the count is final now.
      assert.equal(await stored(), before, "the refused event is not in the inbox");
      const genuine = await post(request);
      assert.deepEqual([genuine.status, genuine.body.duplicate], [200, undefined], "its id was not taken either");
      assert.equal(await stored(), before + 1);
      await eventually(() => handled.find((e) => e.key === request.headers["webhook-id"]));
      assert.deepEqual(
        handled.filter((e) => e.key === request.headers["webhook-id"]).map((e) => e.payload),
        [{ type: "message.new", n: 1 }],
        "only the genuine body was handled",
      );
    });

    it("refuses a body over the limit with 413", async () => {
      const request = signedRequest(JSON.stringify({ type: "message.new", pad: "x".repeat(70 * 1024) }));
      const response = await post(request);
      assert.equal(response.status, 413);
      assert.equal(response.body.reason, "body-too-large");
    });
  });
}

describe("Express behind body parsers", () => {
  it("works behind express.raw(), and names the mistake behind express.json()", async () => {
    const inbox = testInbox();
    const receiver = createReceiver({ secrets: secret, inbox: inbox.option });
    const app = express();
    app.post("/raw", express.raw({ type: "*/*" }), expressHandler(receiver));
    app.post("/parsed", express.json(), expressHandler(receiver));
    const server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const raw = await overHttp(`${base}/raw`)(signedRequest(JSON.stringify({ type: "a" })));
      assert.equal(raw.status, 200);
      const parsed = await overHttp(`${base}/parsed`)(signedRequest(JSON.stringify({ type: "a" })));
      assert.equal(parsed.status, 500);
      assert.equal(parsed.body.reason, "body-not-raw");
      assert.match(parsed.body.message, /raw request bytes/);
    } finally {
      server.close();
      await receiver.close();
      await inbox.drop();
    }
  });
});
