import type { FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import { HeraldError } from "../core/errors.js";
import { policyOf } from "../delivery/retry.js";
import { findWireFormat } from "../profiles/registry.js";
import type { DeliveryState, DeliveryView } from "../storage/records.js";
import { appOf } from "./auth.js";
import type { ApiContext } from "./context.js";
import { budgetedPage, decodeCursor, parseLimit } from "./pagination.js";
import { optionalQueryBoolean, timeWindow } from "./params.js";
import { BudgetedPage, DeliveryJson, IdParams, NextCursor, responses, Window } from "./schemas.js";
import { deliveryJson, sendWithPayloads } from "./views.js";

const Status = Type.Enum(["pending", "succeeded", "failed"]);
const ListQuery = Type.Object(
  {
    status: Type.Optional(Status),
    endpoint_id: Type.Optional(Type.String({ maxLength: 128 })),
    event_id: Type.Optional(Type.String({ maxLength: 128 })),
    type: Type.Optional(Type.String({ maxLength: 256, description: "the event type, exactly" })),
    ...Window,
    include_payload: Type.Optional(Type.String({ description: "true: each delivery carries its event's payload" })),
    ...BudgetedPage,
  },
  { additionalProperties: false },
);

interface ListQueryShape {
  status?: DeliveryState;
  endpoint_id?: string;
  event_id?: string;
  type?: string;
  created_after?: string;
  created_before?: string;
  include_payload?: string;
  limit?: string;
  cursor?: string;
}

/** `GET /v1/deliveries`, `GET /v1/deliveries/{id}`, `POST /v1/deliveries/{id}/retry`. */
export const deliveriesRoutes: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  app.get<{ Querystring: ListQueryShape }>(
    "/deliveries",
    {
      config: { access: "read" },
      schema: {
        summary:
          "The delivery log, newest first, by any combination of filters: every attempt with its status, latency and error; status=failed lists the dead letters",
        tags: ["deliveries"],
        querystring: ListQuery,
        response: responses({ 200: Type.Object({ deliveries: Type.Array(DeliveryJson), next_cursor: NextCursor }) }),
      },
    },
    async (request, reply) => {
      const { query } = request;
      const appId = appOf(request).id;
      const filters = {
        state: query.status,
        endpointId: query.endpoint_id,
        eventId: query.event_id,
        type: query.type,
        ...timeWindow(query),
        withPayload: optionalQueryBoolean(query.include_payload, "include_payload") ?? false,
      };
      const page = await budgetedPage(
        (before, limit) => ctx.store.listDeliveries(appId, { ...filters, before, limit }),
        { before: decodeCursor(query.cursor), limit: parseLimit(query.limit) },
        deliveryJson,
      );
      return sendWithPayloads(reply, { deliveries: page.items, next_cursor: page.next });
    },
  );

  app.get<{ Params: { id: string } }>(
    "/deliveries/:id",
    {
      config: { access: "read" },
      schema: {
        summary: "One delivery",
        tags: ["deliveries"],
        params: IdParams,
        response: responses({ 200: DeliveryJson }),
      },
    },
    async (request) => {
      const delivery = await ctx.store.getDelivery(appOf(request).id, request.params.id);
      if (!delivery) throw new HeraldError("not_found", `No delivery "${request.params.id}".`);
      return deliveryJson(delivery);
    },
  );

  app.post<{ Params: { id: string } }>(
    "/deliveries/:id/retry",
    {
      config: { access: "manage" },
      schema: {
        summary:
          "Send a finished delivery again, under the same webhook id, with a fresh attempt budget (409 while pending, or past HERALD_MAX_MANUAL_RETRIES resends)",
        tags: ["deliveries"],
        params: IdParams,
        response: responses({ 202: DeliveryJson }, [400, 401, 403, 404, 409]),
      },
    },
    async (request, reply) => {
      const tenant = appOf(request);
      const { maxManualRetries } = ctx.config;
      const current = await ctx.store.getDelivery(tenant.id, request.params.id);
      refuseResend(request.params.id, current, maxManualRetries);
      const endpoint = await ctx.endpoints.get(current.endpointId);
      const wire = endpoint && findWireFormat(endpoint.profile);
      if (!wire) throw new HeraldError("conflict", ENDPOINT_GONE);
      const attempts = policyOf(wire.policy, endpoint).maxAttempts;
      const retried = await ctx.store.retryDelivery(tenant.id, current.id, attempts, Date.now(), maxManualRetries);
      if (!retried) {
        // Another request got there first (a resend, a delete of the endpoint): say which, as read now.
        refuseResend(request.params.id, await ctx.store.getDelivery(tenant.id, current.id), maxManualRetries);
        throw new HeraldError("conflict", ENDPOINT_GONE);
      }
      ctx.onRetry(current.endpointId);
      return reply.status(202).send(deliveryJson(retried));
    },
  );
};

const ENDPOINT_GONE = "The delivery's endpoint has been deleted.";

/** Throws why a delivery cannot be resent now, if it cannot: missing, still pending, or resent too often. */
function refuseResend(
  id: string,
  delivery: DeliveryView | undefined,
  maxManualRetries: number,
): asserts delivery is DeliveryView {
  if (!delivery) throw new HeraldError("not_found", `No delivery "${id}".`);
  if (delivery.state === "pending") {
    throw new HeraldError(
      "conflict",
      "The delivery is still pending; it can be retried once it has succeeded or failed.",
    );
  }
  if (delivery.manualRetries >= maxManualRetries) {
    throw new HeraldError(
      "limit_exceeded",
      `The delivery has been resent by hand ${delivery.manualRetries} times, the most allowed (HERALD_MAX_MANUAL_RETRIES is ${maxManualRetries}).`,
    );
  }
}
