import fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { Metrics } from "../core/metrics.js";
import { PROFILES } from "../profiles/registry.js";
import { catalogRoutes } from "./catalog-routes.js";
import type { ApiContext } from "./context.js";
import { deliveriesRoutes } from "./deliveries-routes.js";
import { useErrorFormat } from "./error-format.js";
import { eventsRoutes } from "./events-routes.js";
import { formatNativeError } from "./native-errors.js";

/**
 * The HTTP server: Herald's own API under `/v1`, each profile's vendor-shaped API under its own
 * prefix with its own error format, plus `/healthz` and `/metrics`. With `apiRoutes` off (a
 * worker-only process) it serves only the last two.
 */
export async function buildServer(ctx: ApiContext, metrics: Metrics, apiRoutes: boolean): Promise<FastifyInstance> {
  const app = fastify({
    loggerInstance: ctx.logger as FastifyBaseLogger,
    // Per-request lines would cost more than the work on the hot path; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.bodyLimit,
    return503OnClosing: true,
  });
  // Every API here takes JSON only; anything else is a 415, not a string handed to validation.
  app.removeContentTypeParser("text/plain");
  useErrorFormat(app, formatNativeError, ctx.logger);
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/metrics", async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  if (apiRoutes) {
    for (const routes of [eventsRoutes, deliveriesRoutes, catalogRoutes]) {
      await app.register(routes, { ...ctx, prefix: "/v1" });
    }
    for (const profile of PROFILES) {
      if (profile.api) await app.register(profile.api.plugin, { ...ctx, prefix: profile.api.prefix });
    }
  }
  return app;
}
