import { createHash, timingSafeEqual } from "node:crypto";
import { type Server, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import swagger from "@fastify/swagger";
import fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { HeraldConfig } from "../core/config.js";
import { errorFromFramework, HeraldError } from "../core/errors.js";
import { yieldToEventLoop } from "../core/event-loop.js";
import { parseJson } from "../core/json.js";
import type { Logger } from "../core/logger.js";
import type { Metrics } from "../core/metrics.js";
import { TurnsPerKey } from "../core/turns-per-key.js";
import { registerDashboard } from "../dashboard/dashboard-plugin.js";
import { MANAGEMENT_APIS, routedPath } from "../profiles/registry.js";
import { principalName } from "./auth.js";
import type { ApiContext } from "./context.js";
import { useErrorFormat } from "./error-format.js";
import { nativeApi } from "./native-api.js";
import { formatNativeError, nativeErrorBody } from "./native-errors.js";
import { useNulGuard } from "./nul-guard.js";
import { SHARED_SCHEMAS } from "./schemas.js";

/** Errors Node's HTTP parser raises before any route exists, answered in the native format and closed. */
function clientErrorResponse(code: string | undefined): { status: number; code: string; message: string } {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, code: "headers_too_large", message: "The request's headers are too large." };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, code: "request_timeout", message: "The request took too long to arrive." };
    default:
      return { status: 400, code: "bad_request", message: "The request is not valid HTTP." };
  }
}

/**
 * A body this big takes milliseconds to parse (a 500-event batch of 784 KB: 9 ms, 6 of them making
 * its 1.6 MB string), all that time holding the event loop. Such bodies parse one at a time per app,
 * each after a turn of the loop: an app sending many at once cannot queue parse after parse ahead of
 * another app's request.
 */
const BIG_BODY_BYTES = 64 * 1024;
const bigBodyParses = new TurnsPerKey();

/** How long a client answered by `clientErrorHandler` (a 408, a 400) has to read it before its connection is cut. */
const CLIENT_ERROR_LINGER_MS = 1_000;
/** How long `/readyz` waits for the store before answering 503. */
const READY_TIMEOUT_MS = 2000;
/** Probes answered 2xx are logged at debug, so a load balancer polling every second fills no log. */
const PROBES = new Set(["/healthz", "/readyz", "/metrics"]);

/** Node's timeouts for slow clients: the headers, then the whole request (a trickled body is cut off). */
function clientTimeouts(config: HeraldConfig) {
  const requestTimeout = config.requestTimeoutMs;
  const headersTimeout =
    requestTimeout > 0 ? Math.min(config.headersTimeoutMs, requestTimeout) : config.headersTimeoutMs;
  // Node checks the timeouts on an interval (30 s by default): check often enough to keep them.
  const shortest = requestTimeout > 0 ? Math.min(requestTimeout, headersTimeout) : headersTimeout;
  const connectionsCheckingInterval = Math.max(25, Math.min(1000, Math.floor(shortest / 4)));
  return { requestTimeout, headersTimeout, connectionsCheckingInterval };
}

/**
 * At the connection cap Node drops each new connection. Idle keep-alive connections, held open for
 * `keepAliveTimeout` (72 s: longer than load balancers' idle timeouts), would then lock everyone
 * out: on a drop they are closed, so the next connection is served (their clients reconnect).
 */
function reclaimIdleConnectionsAtCap(server: Server): void {
  let reclaimedAt = 0;
  server.on("drop", () => {
    const now = Date.now();
    // Once per 100 ms at most: a flood of drops must not walk every connection each time.
    if (now - reclaimedAt < 100) return;
    reclaimedAt = now;
    server.closeIdleConnections();
  });
}

/** One line per request: method, route pattern (never the URL, which can hold a token), status, latency, app. */
function logRequest(logger: Logger, request: FastifyRequest, reply: FastifyReply): void {
  const route = request.routeOptions.url;
  const status = reply.statusCode;
  const fields = {
    method: request.method,
    route: route ?? null,
    status,
    ms: Math.round(reply.elapsedTime * 10) / 10,
    app: principalName(request.principal),
  };
  if (status >= 500) logger.warn(fields, "request");
  else if (status < 400 && route !== undefined && PROBES.has(route)) logger.debug(fields, "request");
  else logger.info(fields, "request");
}

const digest = (value: string) => createHash("sha256").update(value).digest();

/** With `HERALD_METRICS_TOKEN` set, `/metrics` answers only `Authorization: Bearer <that token>`. */
function metricsGuard(token: string) {
  const expected = token === "" ? undefined : digest(token);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!expected) return;
    const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
    if (bearer !== undefined && timingSafeEqual(digest(bearer), expected)) return;
    reply.header("www-authenticate", 'Bearer realm="metrics"');
    throw new HeraldError("unauthorized", "GET /metrics needs Authorization: Bearer <HERALD_METRICS_TOKEN>.");
  };
}

/** Settles with the promise, or rejects after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The HTTP server: Herald's own API under `/v1`, each profile's vendor-shaped API under its own
 * prefix with its own error format, plus `/healthz`, `/metrics` and `/openapi.json`. With
 * `apiRoutes` off (a worker-only process) it serves only the first two.
 */
export async function buildServer(ctx: ApiContext, metrics: Metrics, apiRoutes: boolean): Promise<FastifyInstance> {
  const timeouts = clientTimeouts(ctx.config);
  const app = fastify({
    loggerInstance: ctx.logger as FastifyBaseLogger,
    // Fastify's own two lines per request carry the URL, which can hold a token: Herald logs one
    // line of its own instead (logRequest), with the route pattern.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.bodyLimit,
    requestTimeout: timeouts.requestTimeout,
    http: timeouts,
    return503OnClosing: true,
    // Path ids are bounded by the schemas (128); a longer one must reach them and get a 400, not a
    // the router's opaque error. The URL as a whole is bounded by Node's 16 KiB header limit.
    routerOptions: { maxParamLength: 16 * 1024 },
    // Stream's clients call `{base}/app` under whatever base URL they were given.
    rewriteUrl: (request) => routedPath(request.url ?? "/"),
    // Unknown fields and query parameters are errors that name them, never silently dropped or coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    // A malformed URL never reaches a route: answer it in the native format too.
    frameworkErrors(error, _request, reply) {
      const { status, body } = formatNativeError(errorFromFramework(error));
      void (reply as FastifyReply).status(status).type("application/json").send(body);
    },
    clientErrorHandler(error, socket) {
      // Answer only where nothing of a response has gone out yet; otherwise just close.
      const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
      if (!socket.writable || inFlight?.headersSent) {
        socket.destroy();
        return;
      }
      const { status, code, message } = clientErrorResponse((error as { code?: string }).code);
      const body = JSON.stringify(nativeErrorBody(code, message));
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      // end() only half-closes: a client that never reads nor closes would keep the connection
      // (and a publish's turn, see PublishGate) for ever. It has a while to read the answer.
      setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
    },
  });
  app.server.maxConnections = ctx.config.maxConnections;
  reclaimIdleConnectionsAtCap(app.server);
  // Every API here takes JSON only; anything else is a 415, not a string handed to validation.
  app.removeContentTypeParser("text/plain");
  // Herald's JSON: UTF-8 only, bounded nesting, numbers kept exactly as written (core/json.ts).
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, async (request: FastifyRequest, body: Buffer) => {
    // No body at all is no JSON to parse: clients send the content type on DELETE and on bodiless
    // POSTs too. A route that needs a body says so as for any other missing one.
    if (body.length === 0) return undefined;
    // Payloads keep every number as written; elsewhere 1e3 is the integer it means.
    const parse = () => parseJson(body, { payload: request.routeOptions.config?.bodyIsPayload === true });
    if (body.length < BIG_BODY_BYTES) return parse();
    return bigBodyParses.run(principalName(request.principal) ?? "", async () => {
      await yieldToEventLoop();
      return parse();
    });
  });
  app.addHook("onResponse", (request, reply, done) => {
    logRequest(ctx.logger, request, reply);
    done();
  });
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Herald",
        version: "1",
        description:
          "Self-hosted webhooks for chat and calls applications. Herald's own API; the Sendbird-compatible routes are described by Sendbird.",
      },
      components: {
        securitySchemes: {
          apiToken: {
            type: "apiKey",
            in: "header",
            name: "Api-Token",
            description: "an app's API token, or the admin token",
          },
          bearer: { type: "http", scheme: "bearer" },
        },
      },
      security: [{ apiToken: [] }, { bearer: [] }],
    },
    // The vendor-shaped APIs follow their vendors' documents, not this one.
    hiddenTag: "vendor",
    hideUntagged: true,
  });
  useErrorFormat(app, formatNativeError, ctx.logger);
  useNulGuard(app);
  // Alive: the process answers. Ready: and its store does too (a load balancer's signal).
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    try {
      await within(ctx.store.ping(), READY_TIMEOUT_MS);
      return { status: "ok" };
    } catch (error) {
      ctx.logger.warn({ err: error }, "not ready: the store does not answer");
      const { status, body } = formatNativeError(new HeraldError("unavailable", "The store does not answer."));
      return reply.status(status).send(body);
    }
  });
  app.get("/metrics", { onRequest: metricsGuard(ctx.config.metricsToken) }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  if (apiRoutes) {
    app.get("/openapi.json", async () => app.swagger());
    await app.register(nativeApi, { ...ctx, prefix: "/v1" });
    for (const api of MANAGEMENT_APIS) await app.register(await api.loadPlugin(), { ...ctx, prefix: api.prefix });
    // The web dashboard: static files that call the APIs above from the browser.
    await registerDashboard(app);
  }
  return app;
}
