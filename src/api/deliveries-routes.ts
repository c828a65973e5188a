import type { FastifyPluginAsync } from "fastify";
import { HeraldError } from "../core/errors.js";
import { profileById } from "../profiles/registry.js";
import type { DeliveryState, DeliveryView } from "../storage/records.js";
import type { ApiContext } from "./context.js";

const STATES: readonly DeliveryState[] = ["pending", "succeeded", "failed"];
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The delivery log as the API shows it: every attempt with its status code, latency and error. */
const deliveryJson = (delivery: DeliveryView) => ({
  id: delivery.id,
  event_id: delivery.eventId,
  endpoint_id: delivery.endpointId,
  category: delivery.category,
  status: delivery.state,
  attempts: delivery.attempts,
  max_attempts: delivery.maxAttempts,
  next_attempt_at: iso(delivery.nextAttemptAt),
  created_at: iso(delivery.createdAt),
  updated_at: iso(delivery.updatedAt),
  attempt_log: delivery.attemptLog.map((attempt) => ({
    attempt: attempt.attempt,
    started_at: iso(attempt.startedAt),
    duration_ms: attempt.durationMs,
    status_code: attempt.statusCode,
    error: attempt.error,
    response_body: attempt.responseBody,
  })),
});

const encodeCursor = (delivery: DeliveryView) =>
  Buffer.from(JSON.stringify([delivery.createdAt, delivery.id])).toString("base64url");

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [number, string];
    if (typeof createdAt === "number" && typeof id === "string") return { createdAt, id };
  } catch {}
  throw new HeraldError("invalid_value", '"cursor" is not a cursor this API returned.', { parameter: "cursor" });
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return 50;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new HeraldError("invalid_value", '"limit" must be an integer from 1 to 500.', { parameter: "limit" });
  }
  return limit;
}

interface ListQuery {
  status?: string;
  limit?: string;
  cursor?: string;
}

/** `GET /v1/deliveries`, `GET /v1/deliveries/{id}`, `POST /v1/deliveries/{id}/retry`. */
export const deliveriesRoutes: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  app.get<{ Querystring: ListQuery }>("/deliveries", async (request) => {
    const { app: tenant } = await ctx.apps.authenticate(request.headers["api-token"]);
    const { status, cursor } = request.query;
    if (status !== undefined && !STATES.includes(status as DeliveryState)) {
      throw new HeraldError("invalid_value", `"status" must be one of ${STATES.join(", ")}.`, { parameter: "status" });
    }
    const limit = parseLimit(request.query.limit);
    const deliveries = await ctx.store.listDeliveries(tenant.id, {
      state: status as DeliveryState | undefined,
      before: cursor === undefined ? undefined : decodeCursor(cursor),
      limit,
    });
    const last = deliveries.at(-1);
    return {
      deliveries: deliveries.map(deliveryJson),
      next_cursor: deliveries.length === limit && last ? encodeCursor(last) : null,
    };
  });

  app.get<{ Params: { id: string } }>("/deliveries/:id", async (request) => {
    const { app: tenant } = await ctx.apps.authenticate(request.headers["api-token"]);
    const delivery = await ctx.store.getDelivery(tenant.id, request.params.id);
    if (!delivery) throw new HeraldError("not_found", `No delivery "${request.params.id}".`);
    return deliveryJson(delivery);
  });

  app.post<{ Params: { id: string } }>("/deliveries/:id/retry", async (request, reply) => {
    const { app: tenant } = await ctx.apps.authenticate(request.headers["api-token"]);
    const current = await ctx.store.getDelivery(tenant.id, request.params.id);
    if (!current) throw new HeraldError("not_found", `No delivery "${request.params.id}".`);
    if (current.state === "pending") {
      throw new HeraldError(
        "conflict",
        "The delivery is still pending; it can be retried once it has succeeded or failed.",
      );
    }
    const endpoint = await ctx.endpoints.get(current.endpointId);
    const extraAttempts = endpoint ? profileById(endpoint.profile).policy.maxAttempts : 1;
    const retried = await ctx.store.retryDelivery(tenant.id, current.id, extraAttempts, Date.now());
    ctx.onRetry(current.endpointId);
    return reply.status(202).send(deliveryJson(retried ?? current));
  });
};
