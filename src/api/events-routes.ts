import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { HeraldError } from "../core/errors.js";
import type { ApiContext } from "./context.js";
import { requireObject } from "./params.js";

function idempotencyKey(request: FastifyRequest): string | undefined {
  const key = request.headers["idempotency-key"];
  if (key === undefined) return undefined;
  if (typeof key !== "string" || key.length === 0 || key.length > 255) {
    throw new HeraldError("invalid_value", "Idempotency-Key must be 1 to 255 characters.", {
      parameter: "Idempotency-Key",
    });
  }
  return key;
}

/** `POST /v1/events` and `/v1/events/batch`: answered 202 only once the events are committed. */
export const eventsRoutes: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  app.post("/events", async (request, reply) => {
    const { app: tenant } = await ctx.apps.authenticate(request.headers["api-token"]);
    const result = await ctx.publisher.publish(tenant, [request.body], { idempotencyKey: idempotencyKey(request) });
    return reply.status(202).send({ id: result.eventIds[0], replayed: result.replayed });
  });

  app.post("/events/batch", async (request, reply) => {
    const { app: tenant } = await ctx.apps.authenticate(request.headers["api-token"]);
    const events = requireObject(request.body, "body").events;
    if (!Array.isArray(events)) {
      throw new HeraldError(
        events === undefined ? "missing_parameter" : "invalid_type",
        '"events" must be an array of events.',
        {
          parameter: "events",
          expected: "array",
        },
      );
    }
    if (events.length === 0 || events.length > ctx.config.maxBatchEvents) {
      throw new HeraldError(
        "invalid_value",
        `"events" must hold 1 to ${ctx.config.maxBatchEvents} events, not ${events.length}.`,
        {
          parameter: "events",
        },
      );
    }
    const result = await ctx.publisher.publish(tenant, events, {
      idempotencyKey: idempotencyKey(request),
      batch: true,
    });
    return reply.status(202).send({ ids: result.eventIds, replayed: result.replayed });
  });
};
