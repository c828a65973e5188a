import type { Socket } from "node:net";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { HeraldError } from "../core/errors.js";
import { appOf } from "./auth.js";
import type { ApiContext } from "./context.js";
import { budgetedPage, decodeCursor, parseLimit } from "./pagination.js";
import { requireObject, timeWindow } from "./params.js";
import { BudgetedPage, DeliveryJson, EventJson, IdParams, NextCursor, responses, Window } from "./schemas.js";
import { deliveryJson, eventJson, sendWithPayloads } from "./views.js";

const IdempotencyHeader = Type.Object({
  "idempotency-key": Type.Optional(
    Type.String({
      description:
        "1 to 255 characters, per app and route: a retry within 24 h is a no-op; the same key with another body is a 422",
    }),
  ),
});
const Published = Type.Object({ id: Type.String(), replayed: Type.Boolean() });
const PublishedBatch = Type.Object({ ids: Type.Array(Type.String()), replayed: Type.Boolean() });
const AnyEvent = Type.Unsafe<unknown>({
  type: "object",
  description: "the event exactly as receivers get it, with its type field (Sendbird: category)",
});

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

/** The ends of the publish turns a connection's requests hold, all called when it closes (one listener, however many are pipelined). */
const turnsBySocket = new WeakMap<Socket, Set<() => void>>();

function openTurns(socket: Socket): Set<() => void> {
  let turns = turnsBySocket.get(socket);
  if (!turns) {
    const created = new Set<() => void>();
    socket.once("close", () => {
      for (const end of created) end();
    });
    turnsBySocket.set(socket, created);
    turns = created;
  }
  return turns;
}

/** Publish (`POST /v1/events`, `/v1/events/batch`, answered 202 once committed) and read events. */
export const eventsRoutes: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  // The event body is validated by the publisher (it names the exact field at fault), not by a schema.
  const publishSchema = (summary: string, ok: Record<number, ReturnType<typeof Type.Object>>) => ({
    summary,
    tags: ["events"],
    headers: IdempotencyHeader,
    // 404 and 503: the app deleted while the publish ran, or being deleted.
    response: responses(ok, [400, 401, 403, 404, 409, 413, 415, 422, 429]),
  });

  // After authentication, before the body is read. An app over its rate is refused without its upload
  // parsed; not a request with an Idempotency-Key: it may be the retry of a publish that went through,
  // which is answered from its record whatever the rate (the publisher checks the rate after that).
  // Then the upload waits for its app's turn (a body sent without a length counts as the largest).
  const beforeTheBody = async (request: FastifyRequest, reply: FastifyReply) => {
    const appId = appOf(request).id;
    if (request.headers["idempotency-key"] === undefined) await ctx.publisher.refuseOverRate(appId);
    const { socket } = request.raw;
    // Gone during the checks above: its close has been and gone, and would never end a turn.
    if (socket.destroyed) return;
    const length = Number(request.headers["content-length"]);
    const turn = ctx.publisher.enterGate(appId, Number.isSafeInteger(length) ? length : ctx.config.bodyLimit);
    // The response closes once sent, or once its client is gone, waiting or not; a pipelined request's
    // response has no socket yet to hear that from, so the connection's close ends the turn too.
    const turnsOfSocket = openTurns(socket);
    const end = () => {
      turnsOfSocket.delete(end);
      turn.end();
    };
    turnsOfSocket.add(end);
    reply.raw.once("close", end);
    await turn.admitted;
  };

  app.post(
    "/events",
    {
      config: { access: "publish", bodyIsPayload: true },
      onRequest: beforeTheBody,
      schema: { ...publishSchema("Publish one event", { 202: Published }), body: AnyEvent },
    },
    async (request, reply) => {
      const tenant = appOf(request);
      const result = await ctx.publisher.publish(tenant, [request.body], { idempotencyKey: idempotencyKey(request) });
      return reply.status(202).send({ id: result.eventIds[0], replayed: result.replayed });
    },
  );

  app.post(
    "/events/batch",
    {
      config: { access: "publish", bodyIsPayload: true },
      onRequest: beforeTheBody,
      schema: {
        ...publishSchema("Publish 1 to 1,000 events atomically", { 202: PublishedBatch }),
        body: Type.Unsafe<unknown>({ type: "object", description: '{"events": [event, ...]}' }),
      },
    },
    async (request, reply) => {
      const tenant = appOf(request);
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
    },
  );

  app.get<{
    Querystring: { type?: string; created_after?: string; created_before?: string; limit?: string; cursor?: string };
  }>(
    "/events",
    {
      config: { access: "read" },
      schema: {
        summary: "List the app's events, newest first, by type and time window",
        tags: ["events"],
        querystring: Type.Object(
          { type: Type.Optional(Type.String({ maxLength: 256 })), ...Window, ...BudgetedPage },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Object({ events: Type.Array(EventJson), next_cursor: NextCursor }) }),
      },
    },
    async (request, reply) => {
      const appId = appOf(request).id;
      const filters = { type: request.query.type, ...timeWindow(request.query) };
      const page = await budgetedPage(
        (before, limit) => ctx.store.listEvents(appId, { ...filters, before, limit }),
        { before: decodeCursor(request.query.cursor), limit: parseLimit(request.query.limit) },
        eventJson,
      );
      return sendWithPayloads(reply, { events: page.items, next_cursor: page.next });
    },
  );

  app.get<{ Params: { id: string } }>(
    "/events/:id",
    {
      config: { access: "read" },
      schema: {
        summary: "Get an event with its deliveries and their states",
        tags: ["events"],
        params: IdParams,
        response: responses({ 200: Type.Object({ ...EventJson.properties, deliveries: Type.Array(DeliveryJson) }) }),
      },
    },
    async (request, reply) => {
      const tenant = appOf(request);
      const event = await ctx.store.getEvent(tenant.id, request.params.id);
      if (!event) throw new HeraldError("not_found", `No event "${request.params.id}".`);
      const deliveries = await ctx.store.listDeliveries(tenant.id, { eventId: event.id, limit: 500 });
      return sendWithPayloads(reply, { ...eventJson(event), deliveries: deliveries.map(deliveryJson) });
    },
  );
};
