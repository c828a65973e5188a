import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../src/core/config.js";
import { AddressPolicy, OutboundTransport, type Resolver } from "../src/delivery/transport/index.js";
import { createHerald } from "../src/index.js";
import { call, eventually, startHerald, type TestHerald } from "./helpers/herald.js";
import { Receiver } from "./helpers/receiver.js";

/**
 * The outbound transport over real HTTP on loopback: the SSRF guard at configuration and at
 * delivery time, HERALD_ALLOW_NETWORKS, redirects, response capture and the URL rules.
 *
 * Host names reach addresses through an injected resolver, so no query and no packet leaves the
 * machine. Two interlocks keep it so even when the guard is broken: every non-loopback address is
 * first checked against the policy without any network (a broken classification fails there), and
 * the delivery tests to other ranges run only once a name resolving to a live loopback receiver
 * has been shown refused (a guard that is not wired in fails there, having sent only to loopback).
 */

/** One name per refused class, each resolving (through the test resolver) to an address of it. */
const CLASSES: { name: string; address: string; why: RegExp }[] = [
  { name: "loopback.test", address: "127.0.0.1", why: /127\.0\.0\.1 is loopback/ },
  { name: "loopback-v6.test", address: "::1", why: /::1 is loopback/ },
  { name: "private.test", address: "10.1.2.3", why: /10\.1\.2\.3 is private/ },
  { name: "private-172.test", address: "172.16.5.4", why: /is private/ },
  { name: "private-192.test", address: "192.168.1.1", why: /is private/ },
  { name: "link-local.test", address: "169.254.10.20", why: /is link-local/ },
  { name: "metadata.test", address: "169.254.169.254", why: /cloud metadata/ },
  { name: "metadata-v6.test", address: "fd00:ec2::254", why: /cloud metadata/ },
  { name: "cgnat.test", address: "100.64.0.1", why: /carrier-grade NAT/ },
  { name: "multicast.test", address: "224.0.0.251", why: /multicast/ },
  { name: "unspecified.test", address: "0.0.0.0", why: /unspecified/ },
  { name: "benchmark.test", address: "198.18.0.1", why: /benchmarking/ },
  { name: "documentation.test", address: "192.0.2.10", why: /documentation/ },
  { name: "documentation-v6.test", address: "2001:db8::1", why: /documentation/ },
  { name: "unique-local.test", address: "fd12:3456::1", why: /unique local/ },
  { name: "link-local-v6.test", address: "fe80::1", why: /link-local/ },
  { name: "multicast-v6.test", address: "ff02::1", why: /multicast/ },
  { name: "mapped.test", address: "::ffff:127.0.0.1", why: /IPv4-mapped form of 127\.0\.0\.1, which is loopback/ },
  { name: "mapped-private.test", address: "::ffff:10.0.0.1", why: /IPv4-mapped form of 10\.0\.0\.1/ },
  { name: "compatible.test", address: "::127.0.0.1", why: /IPv4-compatible/ },
  { name: "nat64.test", address: "64:ff9b::7f00:1", why: /NAT64 form of 127\.0\.0\.1/ },
  { name: "nat64-metadata.test", address: "64:ff9b::a9fe:a9fe", why: /NAT64 form of 169\.254\.169\.254/ },
  { name: "6to4.test", address: "2002:7f00:1::", why: /6to4 form of 127\.0\.0\.1/ },
  { name: "6to4-private.test", address: "2002:a00:1::1", why: /6to4 form of 10\.0\.0\.1/ },
];

/** URL literals the guard refuses as they are written, each with what the refusal must name. */
const LITERALS: [string, RegExp][] = [
  ["127.1", /127\.0\.0\.1 is loopback/],
  ["2130706433", /127\.0\.0\.1 is loopback/],
  ["0x7f000001", /127\.0\.0\.1 is loopback/],
  ["[::ffff:127.0.0.1]", /IPv4-mapped form of 127\.0\.0\.1/],
  ["[::1]", /loopback/],
  ["169.254.169.254", /cloud metadata/],
  ["10.1.2.3", /private/],
  ["100.64.0.1", /carrier-grade NAT/],
  ["[64:ff9b::7f00:1]", /NAT64 form of 127\.0\.0\.1/],
  ["[2002:7f00:1::]", /6to4 form of 127\.0\.0\.1/],
  ["localhost", /localhost is loopback/],
];

/** Maps names to addresses; any other name does not exist. Nothing asks a real DNS server. */
function testResolver(extra: Record<string, string[]> = {}): Resolver {
  const table: Record<string, string[]> = { localhost: ["127.0.0.1"], ...extra };
  for (const { name, address } of CLASSES) table[name] = [address];
  return async (hostname) => {
    const found = table[hostname.toLowerCase()];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return found;
  };
}

interface Attempt {
  status_code: number | null;
  error: string | null;
  error_class: string | null;
  request_headers: Record<string, string> | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
  response_truncated: boolean;
}

/** Waits until every delivery of an event has ended, and returns them by endpoint id. */
async function finishedDeliveries(h: TestHerald, token: string, eventId: string, count: number, timeoutMs = 15_000) {
  const deliveries = await eventually(async () => {
    const { body } = await call(h.url, "GET", `/v1/deliveries?event_id=${eventId}&limit=500`, { token });
    const list = body.deliveries as { endpoint_id: string; status: string; attempt_log: Attempt[] }[];
    return list.length === count && list.every((d) => d.status !== "pending") ? list : undefined;
  }, timeoutMs);
  return new Map(deliveries.map((d) => [d.endpoint_id, d]));
}

async function publish(h: TestHerald, token: string, body: Record<string, unknown>): Promise<string> {
  const { status, body: answer } = await call(h.url, "POST", "/v1/events", { token, body });
  assert.equal(status, 202, JSON.stringify(answer));
  return answer.id;
}

async function createEndpoint(h: TestHerald, token: string, body: Record<string, unknown>) {
  const { status, body: answer } = await call(h.url, "POST", "/v1/endpoints", { token, body });
  assert.equal(status, 201, JSON.stringify(answer));
  return answer as { id: string };
}

const metric = async (h: TestHerald, line: RegExp): Promise<number> => {
  const text = await (await fetch(`${h.url}/metrics`)).text();
  const found = text.split("\n").find((l) => line.test(l));
  return found ? Number(found.split(" ").pop()) : 0;
};

describe("SSRF guard: every address class refused when delivering, nothing sent", () => {
  let h: TestHerald;
  let receiver: Receiver;
  let port: string;
  /** Set once a name resolving to the live loopback receiver was shown refused: see the file's comment. */
  let guardWiredIn = false;

  before(async () => {
    // The guard as deployed: nothing opened, not even the loopback the other suites allow.
    h = await startHerald({ allowNetworks: [], resolver: testResolver() });
    receiver = await Receiver.start();
    port = new URL(receiver.url).port;
  });
  after(() => Promise.all([h.close(), receiver.close()]));

  it("refuses a public-looking name that resolves to loopback, with ssrf_blocked, and the receiver gets nothing", async () => {
    const app = await h.createApp();
    const endpoint = await createEndpoint(h, app.token, {
      url: `http://loopback.test:${port}/webhook`,
      profile: "sendbird",
    });
    const refusalsBefore = await metric(h, /^herald_ssrf_refusals_total\{stage="connect"\}/);
    const eventId = await publish(h, app.token, { category: "user:block" });
    const delivery = (await finishedDeliveries(h, app.token, eventId, 1)).get(endpoint.id)!;
    assert.equal(delivery.status, "failed");
    assert.equal(delivery.attempt_log.length, 3);
    for (const attempt of delivery.attempt_log) {
      assert.equal(attempt.error_class, "ssrf_blocked");
      assert.equal(attempt.status_code, null);
      assert.match(attempt.error!, /loopback\.test resolves only to refused addresses \(127\.0\.0\.1 is loopback\)/);
      assert.deepEqual(attempt.response_headers, {});
      assert.equal(attempt.response_body, null);
    }
    assert.equal(receiver.requests.length, 0, "the loopback receiver got nothing");
    assert.ok((await metric(h, /^herald_ssrf_refusals_total\{stage="connect"\}/)) >= refusalsBefore + 3);
    assert.ok((await metric(h, /^herald_outbound_requests_total\{error_class="ssrf_blocked"\}/)) >= 3);
    guardWiredIn = true;
  });

  it("refuses each address class reached through a name, and sends nothing anywhere", async () => {
    const offline = new AddressPolicy([]);
    for (const { address, why } of CLASSES) assert.match(offline.refusal(address) ?? "allowed", why, address);
    assert.ok(guardWiredIn, "not sending to other ranges while the guard is shown not to hold on loopback");
    const app = await h.createApp();
    const endpoints = new Map<string, (typeof CLASSES)[number]>();
    for (const entry of CLASSES) {
      const endpoint = await createEndpoint(h, app.token, {
        url: `http://${entry.name}:${port}/`,
        profile: "sendbird",
      });
      endpoints.set(endpoint.id, entry);
    }
    const eventId = await publish(h, app.token, { category: "user:block" });
    const deliveries = await finishedDeliveries(h, app.token, eventId, CLASSES.length);
    for (const [id, { name, why }] of endpoints) {
      const delivery = deliveries.get(id)!;
      assert.equal(delivery.status, "failed", name);
      for (const attempt of delivery.attempt_log) {
        assert.equal(attempt.error_class, "ssrf_blocked", name);
        assert.match(attempt.error!, why, name);
      }
    }
    assert.equal(receiver.requests.length, 0);
  });

  it("refuses each literal form when sending too (an endpoint stored before the guard existed)", async () => {
    const offline = new AddressPolicy([]);
    for (const [host, why] of LITERALS) {
      assert.match(offline.literalRefusal(new URL(`http://${host}/`)) ?? "allowed", why, host);
    }
    assert.ok(guardWiredIn, "not sending to other ranges while the guard is shown not to hold on loopback");
    const app = await h.createApp();
    const now = Date.now();
    const hosts = new Map<string, string>();
    for (const [index, [host]] of LITERALS.entries()) {
      const id = `ep_literal_${index}_${app.appId}`;
      hosts.set(id, host);
      await h.herald.store.saveEndpoint({
        id,
        appId: app.appId,
        vocabulary: "sendbird",
        profile: "sendbird",
        url: `http://${host}:${port}/webhook`,
        description: "",
        enabled: true,
        disabledReason: null,
        retryPolicy: "profile",
        eventTypes: ["*"],
        headers: {},
        options: {},
        createdAt: now,
        updatedAt: now,
      });
    }
    const eventId = await publish(h, app.token, { category: "user:block" });
    const deliveries = await finishedDeliveries(h, app.token, eventId, LITERALS.length);
    for (const [id, host] of hosts) {
      const delivery = deliveries.get(id)!;
      assert.equal(delivery.status, "failed", host);
      assert.ok(
        delivery.attempt_log.every((a) => a.error_class === "ssrf_blocked" && /SSRF guard/.test(a.error!)),
        `${host}: ${JSON.stringify(delivery.attempt_log[0])}`,
      );
    }
    assert.equal(receiver.requests.length, 0, "nothing reached the loopback receiver, under any spelling");
  });
});

describe("SSRF guard at configuration time, in each API's own error format", () => {
  let h: TestHerald;
  let app: { appId: string; token: string };

  before(async () => {
    h = await startHerald({ allowNetworks: [], resolver: testResolver() });
    app = await h.createApp();
  });
  after(() => h.close());

  it("refuses every literal form on POST and PATCH /v1/endpoints, and names are left to delivery time", async () => {
    const before = (await h.counts()).endpoints;
    for (const [host, why] of LITERALS) {
      const { status, body } = await call(h.url, "POST", "/v1/endpoints", {
        token: app.token,
        body: { url: `http://${host}:8080/hook` },
      });
      assert.equal(status, 400, host);
      assert.equal(body.error.code, "invalid_value", host);
      assert.equal(body.error.parameter, "url", host);
      assert.match(body.error.message, why, host);
      assert.match(body.error.message, /HERALD_ALLOW_NETWORKS/);
    }
    assert.equal((await h.counts()).endpoints, before, "nothing saved");
    const named = await createEndpoint(h, app.token, { url: "http://loopback.test:8080/hook", enabled: false });
    const patched = await call(h.url, "PATCH", `/v1/endpoints/${named.id}`, {
      token: app.token,
      body: { url: "http://[::ffff:169.254.169.254]/latest/meta-data" },
    });
    assert.equal(patched.status, 400);
    assert.match(patched.body.error.message, /IPv4-mapped form of 169\.254\.169\.254, which is a cloud metadata/);
    const kept = await call(h.url, "GET", `/v1/endpoints/${named.id}`, { token: app.token });
    assert.equal(kept.body.url, "http://loopback.test:8080/hook", "the endpoint kept its URL");
  });

  it("refuses them through Sendbird Chat's settings API with 400111, and Calls' with 400100 INVALID_PARAMS", async () => {
    const before = (await h.counts()).endpoints;
    for (const [host, why] of LITERALS) {
      const url = `http://${host}/webhooks/sendbird`;
      const chat = await call(h.url, "PUT", "/v3/applications/settings/webhook", {
        token: app.token,
        body: { enabled: true, url, enabled_events: ["*"] },
      });
      assert.equal(chat.status, 400, host);
      assert.deepEqual(Object.keys(chat.body).sort(), ["code", "error", "message"]);
      assert.equal(chat.body.error, true);
      assert.equal(chat.body.code, 400111, host);
      assert.match(chat.body.message, why, host);
      const calls = await call(h.url, "PUT", `/v1/applications/${app.appId}/settings/webhook`, {
        token: app.token,
        body: { enabled: true, url, enabled_events: ["*"] },
      });
      assert.equal(calls.status, 400, host);
      assert.equal(calls.body.code, 400100, host);
      assert.equal(calls.body.type, "INVALID_PARAMS", host);
      assert.match(calls.body.message, why, host);
    }
    assert.equal((await h.counts()).endpoints, before, "nothing saved");
  });

  it("counts refusals at configuration apart from those at connection", async () => {
    const refusals = await metric(h, /^herald_ssrf_refusals_total\{stage="config"\}/);
    assert.ok(refusals >= LITERALS.length * 3, String(refusals));
  });
});

describe("webhook URL rules, the same on every route that takes a URL", () => {
  let h: TestHerald;
  let app: { appId: string; token: string };
  before(async () => {
    h = await startHerald();
    app = await h.createApp();
  });
  after(() => h.close());

  const longest = `https://example.com/${"a".repeat(2048 - "https://example.com/".length)}`;
  const cases: [string, RegExp][] = [
    // Refused before the URL rules, as NUL is in every field (api/nul-guard.ts).
    ["http://example.com/a\u0000b", /must not contain NUL/],
    ["http://example.com/a\u0007b", /control characters/],
    ["http://example.com/a\tb", /whitespace or control/],
    ["http://example.com/\n", /whitespace or control/],
    [" http://example.com/", /whitespace or control/],
    ["http://exa mple.com/", /whitespace or control/],
    ["http://example.com/\u0085", /whitespace or control/],
    ["http://user:secret@example.com/hook", /user name or password \(user-info\)/],
    ["http://user@example.com/hook", /user-info/],
    ["http://@example.com/hook", /user-info/],
    [`${longest}b`, /2048/],
    ["ftp://example.com/hook", /http or https/],
    ["file:///etc/passwd", /http or https/],
    ["javascript:alert(1)", /http or https/],
    ["//example.com/hook", /not a valid URL/],
  ];

  it("refuses each broken rule on the native API with a message naming it", async () => {
    for (const [url, why] of cases) {
      const { status, body } = await call(h.url, "POST", "/v1/endpoints", { token: app.token, body: { url } });
      assert.equal(status, 400, JSON.stringify(url));
      assert.equal(body.error.parameter, "url", JSON.stringify(url));
      // 2 KiB + 1 is already refused by the schema's maxLength, which names the limit too.
      assert.match(body.error.message, url.length > 2048 ? /2048/ : why, JSON.stringify(url));
    }
    assert.equal(
      (await call(h.url, "POST", "/v1/endpoints", { token: app.token, body: { url: longest } })).status,
      201,
    );
  });

  it("refuses the same through Sendbird's settings API (400111), and takes exactly 2 KiB", async () => {
    for (const [url, why] of cases) {
      const { status, body } = await call(h.url, "PUT", "/v3/applications/settings/webhook", {
        token: app.token,
        body: { enabled: true, url, enabled_events: ["*"] },
      });
      assert.equal(status, 400, JSON.stringify(url));
      assert.equal(body.code, 400111, JSON.stringify(url));
      assert.match(body.message, why, JSON.stringify(url));
    }
    const ok = await call(h.url, "PUT", "/v3/applications/settings/webhook", {
      token: app.token,
      body: { enabled: true, url: longest, enabled_events: ["*"] },
    });
    assert.equal(ok.status, 200);
  });
});

describe("HERALD_ALLOW_NETWORKS opens exactly what it names", () => {
  let h: TestHerald;
  let first: Receiver;
  let second: Receiver;

  before(async () => {
    h = await startHerald({
      allowNetworks: ["127.0.0.1/32", "named.test"],
      resolver: testResolver({ "named.test": ["127.0.0.2"], "other.test": ["127.0.0.2"] }),
    });
    first = await Receiver.start();
    second = await Receiver.start(undefined, "/webhook", "127.0.0.2");
  });
  after(() => Promise.all([h.close(), first.close(), second.close()]));

  it("delivers to the CIDR and the name it lists, and refuses the address next door", async () => {
    const app = await h.createApp();
    const secondPort = new URL(second.url).port;
    const literal = await createEndpoint(h, app.token, { url: first.url, profile: "sendbird" });
    const named = await createEndpoint(h, app.token, {
      url: `http://named.test:${secondPort}/webhook`,
      profile: "sendbird",
    });
    const other = await createEndpoint(h, app.token, {
      url: `http://other.test:${secondPort}/webhook`,
      profile: "sendbird",
    });
    const eventId = await publish(h, app.token, { category: "user:block" });
    const deliveries = await finishedDeliveries(h, app.token, eventId, 3);
    assert.equal(deliveries.get(literal.id)!.status, "succeeded");
    assert.equal(deliveries.get(named.id)!.status, "succeeded", "the name is opened whatever it resolves to");
    const refused = deliveries.get(other.id)!;
    assert.equal(refused.status, "failed");
    assert.match(refused.attempt_log[0]!.error!, /127\.0\.0\.2 is loopback/);
    assert.equal(first.requests.length, 1);
    assert.equal(second.requests.length, 1, "only the named host's delivery reached 127.0.0.2");
    assert.equal(second.requests[0]!.headers.host, `named.test:${secondPort}`);
  });

  it("refuses at configuration what it does not list: the next address, IPv6 loopback, other ranges", async () => {
    const app = await h.createApp();
    for (const url of ["http://127.0.0.2:9/", "http://[::1]:9/", "http://[::ffff:127.0.0.2]/", "http://10.0.0.1/"]) {
      const { status } = await call(h.url, "POST", "/v1/endpoints", { token: app.token, body: { url } });
      assert.equal(status, 400, url);
    }
    // localhost is 127.0.0.1, which the list names; the mapped form of a listed address is that address.
    const opened = [
      "http://127.0.0.1:9/",
      "http://[::ffff:127.0.0.1]:9/",
      "http://localhost:9/",
      "http://named.test:9/",
    ];
    for (const url of opened) {
      const { status } = await call(h.url, "POST", "/v1/endpoints", { token: app.token, body: { url } });
      assert.equal(status, 201, url);
    }
  });

  it("is read from the environment, and a bad entry stops the start", async () => {
    assert.deepEqual(loadConfig({ HERALD_ALLOW_NETWORKS: " 10.0.0.0/8, ::1 ,hooks.internal," }).allowNetworks, [
      "10.0.0.0/8",
      "::1",
      "hooks.internal",
    ]);
    assert.equal(loadConfig({ HERALD_RESPONSE_CAPTURE_BYTES: "100" }).responseCaptureBytes, 100);
    assert.throws(() => new AddressPolicy(["10.0.0.0/33"]), /HERALD_ALLOW_NETWORKS: "10\.0\.0\.0\/33"/);
    assert.throws(() => new AddressPolicy(["http://x/"]), /"http:\/\/x\/" is not a valid CIDR/);
    assert.throws(() => new AddressPolicy(["bad host!"]), /not a CIDR, an IP address or a host name/);
    await assert.rejects(
      createHerald({ env: {}, databaseUrl: "sqlite::memory:", allowNetworks: ["nope/8"] }),
      /HERALD_ALLOW_NETWORKS/,
    );
  });
});

/** A receiver whose answer each test writes itself (headers, body, a stall), recording what arrived. */
class ScriptedReceiver {
  readonly requests: IncomingMessage[] = [];
  readonly #server: Server;
  url = "";

  constructor(answer: (request: IncomingMessage, response: ServerResponse) => void) {
    this.#server = createServer((request, response) => {
      this.requests.push(request);
      request.resume();
      request.on("end", () => answer(request, response));
    });
  }

  async start(path = "/hook"): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}${path}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

describe("redirects and response capture", () => {
  let h: TestHerald;
  const servers: { close(): Promise<void> }[] = [];
  const scripted = async (answer: (request: IncomingMessage, response: ServerResponse) => void) => {
    const server = await new ScriptedReceiver(answer).start();
    servers.push(server);
    return server;
  };

  before(async () => {
    h = await startHerald();
  });
  after(() => Promise.all([h.close(), ...servers.map((s) => s.close())]));

  /** Sends one event to a fresh app's endpoint at `url` and returns its finished delivery. */
  async function deliverOnce(url: string, profile: string, category = "user:block", extra = {}) {
    const app = await h.createApp();
    const endpoint = await createEndpoint(h, app.token, { url, profile, ...extra });
    const eventId = await publish(h, app.token, { category });
    return (await finishedDeliveries(h, app.token, eventId, 1)).get(endpoint.id)!;
  }

  it("records a redirect with its Location and does not follow it", async () => {
    const target = await Receiver.start();
    servers.push(target);
    const redirecting = await scripted((_request, response) => {
      response.writeHead(307, { location: target.url, "x-from": "redirector" }).end("moved along");
    });
    const delivery = await deliverOnce(redirecting.url, "sendbird");
    assert.equal(delivery.status, "failed");
    assert.equal(delivery.attempt_log.length, 3);
    for (const attempt of delivery.attempt_log) {
      assert.equal(attempt.status_code, 307);
      assert.equal(attempt.error_class, "redirect");
      assert.equal(attempt.response_headers!.location, target.url);
      assert.equal(attempt.response_headers!["x-from"], "redirector");
      assert.equal(attempt.response_body, "moved along");
      assert.match(attempt.error!, /redirect to .* not followed/);
    }
    assert.equal(redirecting.requests.length, 3);
    assert.equal(target.requests.length, 0, "the Location was never visited");
  });

  const big = "0123456789abcdef".repeat(1300); // 20,800 bytes: over the 16 KiB cap

  it("captures a 2xx's headers and body up to 16 KiB, marked truncated, with redacted request headers", async () => {
    const receiver = await scripted((_request, response) => {
      response.writeHead(200, { "content-type": "text/plain", "x-receiver": "yes" }).end(big);
    });
    const delivery = await deliverOnce(receiver.url, "standard", "user:block", {
      headers: { authorization: "Bearer s3cret-value", "x-tenant": "acme" },
    });
    assert.equal(delivery.status, "succeeded");
    const [attempt] = delivery.attempt_log;
    assert.equal(attempt!.status_code, 200);
    assert.equal(attempt!.error_class, null);
    assert.equal(attempt!.error, null);
    assert.equal(attempt!.response_headers!["x-receiver"], "yes");
    assert.equal(attempt!.response_body, big.slice(0, 16 * 1024));
    assert.equal(attempt!.response_truncated, true);
    const sent = attempt!.request_headers!;
    assert.equal(sent["webhook-signature"], "[redacted]");
    assert.equal(sent.authorization, "[redacted]");
    assert.equal(sent["x-tenant"], "acme");
    assert.equal(sent["webhook-id"], (delivery as unknown as { id: string }).id);
    assert.ok(!JSON.stringify(delivery).includes("s3cret-value"), "no secret in the log");
  });

  it("captures a 500 the same way: status class, headers, body cut at the cap", async () => {
    const receiver = await scripted((_request, response) => {
      response.writeHead(500, { "x-trace": "abc" }).end(big);
    });
    const delivery = await deliverOnce(receiver.url, "sendbird");
    assert.equal(delivery.status, "failed");
    for (const attempt of delivery.attempt_log) {
      assert.equal(attempt.status_code, 500);
      assert.equal(attempt.error_class, "status");
      assert.equal(attempt.response_headers!["x-trace"], "abc");
      assert.equal(attempt.response_body!.length, 16 * 1024);
      assert.equal(attempt.response_truncated, true);
      assert.equal(attempt.request_headers!["x-sendbird-signature"], "[redacted]");
      assert.equal(attempt.request_headers!["x-signature"], "[redacted]");
    }
  });

  it("keeps a body under the cap whole, not truncated, binary bytes readable", async () => {
    const receiver = await scripted((_request, response) => {
      response.writeHead(202).end(Buffer.from([0x6f, 0x6b, 0x00, 0x21]));
    });
    const delivery = await deliverOnce(receiver.url, "sendbird");
    assert.equal(delivery.status, "succeeded");
    assert.equal(delivery.attempt_log[0]!.response_body, "ok\uFFFD!", "a NUL byte is stored as U+FFFD");
    assert.equal(delivery.attempt_log[0]!.response_truncated, false);
  });

  it("counts a 2xx whose body is cut off as delivered, for every profile, marked truncated", async () => {
    const receiver = await scripted((_request, response) => {
      response.writeHead(200, { "content-length": "100" });
      response.write("partial");
      setTimeout(() => response.socket?.destroy(), 20);
    });
    for (const [profile, category] of [
      ["sendbird", "user:block"],
      ["standard", "user:block"],
      ["sendbird-calls", "room:participant_enter"],
    ]) {
      const delivery = await deliverOnce(receiver.url, profile!, category);
      assert.equal(delivery.status, "succeeded", profile);
      assert.equal(delivery.attempt_log.length, 1, profile);
      const [attempt] = delivery.attempt_log;
      assert.equal(attempt!.error_class, null, profile);
      assert.equal(attempt!.response_body, "partial", profile);
      assert.equal(attempt!.response_truncated, true, profile);
      assert.match(attempt!.error!, /response body incomplete.*the status decided/, profile);
    }
  });

  it("counts a 2xx whose body stalls past the attempt deadline as delivered, once, marked truncated", async () => {
    const receiver = await scripted((_request, response) => {
      response.writeHead(200, { "content-length": "100" });
      response.write("slow"); // and nothing more: the attempt's deadline (1 s for Calls) ends it
    });
    const delivery = await deliverOnce(receiver.url, "sendbird-calls", "room:participant_enter");
    assert.equal(delivery.status, "succeeded");
    assert.equal(delivery.attempt_log.length, 1);
    const [attempt] = delivery.attempt_log;
    assert.equal(attempt!.response_body, "slow");
    assert.equal(attempt!.response_truncated, true);
    assert.match(attempt!.error!, /timeout after 1000 ms/);
    assert.equal(receiver.requests.length, 1, "not sent again");
  });

  it("takes its cap from HERALD_RESPONSE_CAPTURE_BYTES", async () => {
    const small = await startHerald({ responseCaptureBytes: 10 });
    try {
      const receiver = await scripted((_request, response) => response.writeHead(200).end("0123456789A"));
      const app = await small.createApp();
      const endpoint = await createEndpoint(small, app.token, { url: receiver.url, profile: "sendbird" });
      const eventId = await publish(small, app.token, { category: "user:block" });
      const delivery = (await finishedDeliveries(small, app.token, eventId, 1)).get(endpoint.id)!;
      assert.equal(delivery.attempt_log[0]!.response_body, "0123456789");
      assert.equal(delivery.attempt_log[0]!.response_truncated, true);
    } finally {
      await small.close();
    }
  });
});

describe("one deadline for the whole attempt", () => {
  it("ends an attempt whose connection is still being made at its deadline, and sends nothing after it", async () => {
    const receiver = await Receiver.start();
    let resolveSlowly: (() => void) | undefined;
    const transport = new OutboundTransport({
      allowNetworks: ["127.0.0.0/8"],
      // The name resolves only after the deadline, so the connection is made after it too.
      resolver: (hostname) =>
        hostname === "slow.test"
          ? new Promise((resolve) => {
              resolveSlowly = () => resolve(["127.0.0.1"]);
            })
          : testResolver()(hostname),
    });
    try {
      const port = new URL(receiver.url).port;
      const started = performance.now();
      const result = await transport.post(`http://slow.test:${port}/webhook`, "{}", {}, { timeoutMs: 150 });
      const took = performance.now() - started;
      assert.equal(result.errorClass, "timeout");
      assert.equal(result.error, "timeout after 150 ms");
      assert.ok(took < 1000, `answered after ${took.toFixed(0)} ms, not at its 150 ms deadline`);
      resolveSlowly?.();
      // The connection opens now; the request must not go out on it.
      const control = await transport.post(receiver.url, "{}", {}, { timeoutMs: 2000 });
      assert.equal(control.statusCode, 200, "the receiver answers a request in time");
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(receiver.requests.length, 1, "only the request in time reached the receiver");
    } finally {
      await transport.close();
      await receiver.close();
    }
  });
});

describe("connections after an answer longer than the capture cap", () => {
  it("keeps using the connection when the whole answer has arrived, and opens no connection that carries nothing", async () => {
    const requestsPerConnection = new Map<Socket, number>();
    const server = createServer((request, response) => {
      requestsPerConnection.set(request.socket, (requestsPerConnection.get(request.socket) ?? 0) + 1);
      request.resume();
      request.on("end", () => response.writeHead(200).end("x".repeat(2048)));
    });
    server.on("connection", (socket: Socket) => requestsPerConnection.set(socket, 0));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const transport = new OutboundTransport({ allowNetworks: ["127.0.0.0/8"] });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      for (let i = 0; i < 5; i++) {
        const result = await transport.post(url, "{}", {}, { timeoutMs: 2000, maxResponseBytes: 1024 });
        assert.equal(result.statusCode, 200);
        assert.equal(result.responseBody, "x".repeat(1024));
        assert.equal(result.truncated, true);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Undici's pool may take a second connection while the first finishes an answer (so two
      // alternate), but a cut connection would take a new one per request, and an empty one besides.
      const counts = [...requestsPerConnection.values()];
      assert.ok(
        counts.every((count) => count > 0),
        `a connection carried nothing: ${counts}`,
      );
      assert.ok(counts.length <= 2, `${counts.length} connections for 5 requests: ${counts}`);
    } finally {
      await transport.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
