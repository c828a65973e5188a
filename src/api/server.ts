import { STATUS_CODES } from "node:http";
import swagger from "@fastify/swagger";
import fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, LogController } from "fastify";
import { errorFromFramework } from "../core/errors.js";
import type { Metrics } from "../core/metrics.js";
import { MANAGEMENT_APIS, routedPath } from "../profiles/registry.js";
import type { ApiContext } from "./context.js";
import { useErrorFormat } from "./error-format.js";
import { nativeApi } from "./native-api.js";
import { formatNativeError, nativeErrorBody } from "./native-errors.js";
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
 * The HTTP server: Herald's own API under `/v1`, each profile's vendor-shaped API under its own
 * prefix with its own error format, plus `/healthz`, `/metrics` and `/openapi.json`. With
 * `apiRoutes` off (a worker-only process) it serves only the first two.
 */
export async function buildServer(ctx: ApiContext, metrics: Metrics, apiRoutes: boolean): Promise<FastifyInstance> {
  const app = fastify({
    loggerInstance: ctx.logger as FastifyBaseLogger,
    // Per-request lines would cost more than the work on the hot path; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.bodyLimit,
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
      if (!socket.writable) return;
      const { status, code, message } = clientErrorResponse((error as { code?: string }).code);
      const body = JSON.stringify(nativeErrorBody(code, message));
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  });
  // Every API here takes JSON only; anything else is a 415, not a string handed to validation.
  app.removeContentTypeParser("text/plain");
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
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/metrics", async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  if (apiRoutes) {
    app.get("/openapi.json", async () => app.swagger());
    await app.register(nativeApi, { ...ctx, prefix: "/v1" });
    for (const api of MANAGEMENT_APIS) await app.register(api.plugin, { ...ctx, prefix: api.prefix });
  }
  return app;
}
