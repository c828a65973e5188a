import type { FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import { checkFilter } from "../catalog/index.js";
import { HeraldError } from "../core/errors.js";
import { newEndpointId } from "../core/ids.js";
import { ERROR_CLASSES, type ErrorClass } from "../delivery/transport/index.js";
import { type ListenRelay, listenUrl } from "../delivery/transport/listen-relay.js";
import { findVocabulary, findWireFormat, WIRE_FORMATS } from "../profiles/registry.js";
import type { Endpoint } from "../storage/records.js";
import { appOf } from "./auth.js";
import type { ApiContext } from "./context.js";
import { keyRecords, shownSecret } from "./endpoints-routes.js";
import { EndpointJson, responses, Secret } from "./schemas.js";
import { StreamCredentials } from "./stream-credentials.js";
import { endpointJson } from "./views.js";

const LISTEN_PROFILES = WIRE_FORMATS.filter((format) => !format.synchronous).map((format) => format.id);

const NewListenSession = Type.Object(
  {
    profile: Type.Optional(Type.Enum(LISTEN_PROFILES, { description: "the wire format (default standard)" })),
    filter: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 500 })),
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
interface NewListenSessionBody {
  profile?: string;
  filter?: string[];
  description?: string;
}

const ListenSessionJson = Type.Object({
  id: Type.String({ description: "the session id (lsn_…)" }),
  endpoint: EndpointJson,
  ...Secret,
});

const SessionParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const AttemptParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  attempt_id: Type.String({ minLength: 1, maxLength: 64 }),
});

/** What a report's headers may carry, like a real HTTP answer: the delivery log keeps them with every attempt. */
export const REPORT_MAX_HEADERS = 100;
export const REPORT_MAX_HEADER_BYTES = 16 * 1024;

const AttemptReport = Type.Object(
  {
    status_code: Type.Union([Type.Integer({ minimum: 100, maximum: 599 }), Type.Null()]),
    headers: Type.Optional(
      Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: REPORT_MAX_HEADER_BYTES }), {
        maxProperties: REPORT_MAX_HEADERS,
      }),
    ),
    body: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    error_class: Type.Optional(Type.Union([Type.Enum([...ERROR_CLASSES]), Type.Null()])),
    error: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
  },
  { additionalProperties: false },
);
interface AttemptReportBody {
  status_code: number | null;
  headers?: Record<string, string>;
  body?: string | null;
  error_class?: ErrorClass | null;
  error?: string | null;
}

/** RFC 9110's token: what a header name is made of. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// NUL is refused before this, by the NUL guard (a report is not a payload).
const forbiddenInValue = (value: string): boolean => /[\r\n]/.test(value);

/**
 * Refuses a report whose headers no HTTP answer could have had: a name that is not a token, a value
 * with CR or LF, or more bytes than a real answer's (the schema caps their count).
 */
function checkReportHeaders(headers: Record<string, string>): Record<string, string> {
  const entries = Object.entries(headers);
  for (const [name, value] of entries) {
    const parameter = `headers.${name}`;
    if (!HEADER_NAME.test(name)) {
      throw new HeraldError(
        "invalid_value",
        `A report's header name must be an HTTP token, not ${JSON.stringify(name.slice(0, 64))}.`,
        {
          parameter,
        },
      );
    }
    if (forbiddenInValue(value)) {
      throw new HeraldError("invalid_value", `The value of header "${name}" must not contain CR or LF.`, {
        parameter,
      });
    }
  }
  const bytes = entries.reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value), 0);
  if (bytes > REPORT_MAX_HEADER_BYTES) {
    throw new HeraldError(
      "invalid_value",
      `A report's headers carry at most ${REPORT_MAX_HEADER_BYTES} bytes of names and values in total.`,
      { parameter: "headers" },
    );
  }
  return headers;
}

/**
 * `/v1/listen`: `herald listen` sessions. A session is a temporary endpoint (its profile, filter, keys,
 * retries and delivery log are an ordinary endpoint's) whose attempts go to the CLI over the stream
 * it opens here. Sessions live in this process: another process answers 404 for them.
 */
export function listenRoutes(relay: ListenRelay): FastifyPluginAsync<ApiContext> {
  return async (app, ctx) => {
    const sessionOf = (appId: string, id: string) => {
      const session = relay.find(appId, id);
      if (!session) throw new HeraldError("not_found", `No listen session "${id}" on this Herald process.`);
      return session;
    };

    const credentials = new StreamCredentials(ctx);

    // The CLIs' streams would keep the server's close waiting: end them first.
    app.addHook("preClose", async () => relay.closeAll());

    app.post<{ Body: NewListenSessionBody }>(
      "/listen",
      {
        config: { access: "manage" },
        schema: {
          summary: "Start a listen session: a temporary endpoint whose webhooks go to the CLI that opens its stream",
          tags: ["listen"],
          body: NewListenSession,
          response: responses({ 201: ListenSessionJson }, [400, 401, 403, 404, 429]),
        },
      },
      async (request, reply) => {
        const tenant = appOf(request);
        const profile = request.body.profile ?? "standard";
        const wire = findWireFormat(profile)!;
        if (wire.signsWith === "api-keys" && (await ctx.endpoints.apiKeys(tenant.id)).length === 0) {
          throw new HeraldError(
            "invalid_value",
            `"${profile}" endpoints are signed with the app's API key: create one first (POST /v1/keys).`,
            { parameter: "profile" },
          );
        }
        const vocabulary = findVocabulary(wire.defaultVocabulary ?? "sendbird")!;
        const eventTypes = checkFilter(request.body.filter ?? [], vocabulary);
        const now = Date.now();
        const endpointId = newEndpointId();
        const sessionId = relay.open(tenant.id, endpointId);
        const endpoint: Endpoint = {
          id: endpointId,
          appId: tenant.id,
          vocabulary: vocabulary.id,
          profile,
          url: listenUrl(sessionId),
          description: request.body.description ?? "herald listen",
          enabled: true,
          disabledReason: null,
          retryPolicy: "profile",
          eventTypes,
          headers: {},
          options: {},
          createdAt: now,
          updatedAt: now,
        };
        const keys = wire.newKeys?.({ ed25519: false }) ?? [];
        try {
          await ctx.endpoints.create(endpoint, keyRecords(endpoint, keys, now));
        } catch (error) {
          // A session without its endpoint would count toward the app's sessions until it expired.
          relay.close(sessionId);
          throw error;
        }
        const view = endpointJson(endpoint, await ctx.store.listSigningKeys(endpoint.id, now));
        return reply.status(201).send({ id: sessionId, endpoint: view, ...shownSecret(keys) });
      },
    );

    app.get<{ Params: { id: string } }>(
      "/listen/:id/stream",
      {
        // Fastify's automatic HEAD would run this handler and attach a stream that never answers: 404 instead.
        exposeHeadRoute: false,
        config: { access: "manage" },
        schema: {
          summary: "The session's deliveries, as server-sent events (`delivery`: attempt_id, headers, base64 body)",
          tags: ["listen"],
          params: SessionParams,
        },
      },
      async (request, reply) => {
        const appId = appOf(request).id;
        const session = sessionOf(appId, request.params.id);
        reply.hijack();
        relay.attach(session.id, reply.raw);
        // A revoked token ends the stream (the session then expires unless another connects); a deleted app ends the session.
        credentials.watch(request, appId, reply.raw, () => {
          ctx.store.getApp(appId).then(
            (stillThere) => {
              if (stillThere) return reply.raw.end();
              relay.close(session.id);
              ctx.endpoints.forgetEndpoint(appId, session.endpointId);
            },
            () => reply.raw.end(),
          );
        });
      },
    );

    app.post<{ Params: { id: string; attempt_id: string }; Body: AttemptReportBody }>(
      "/listen/:id/attempts/:attempt_id",
      {
        config: { access: "manage" },
        schema: {
          summary: "Report what the local URL answered to one forwarded attempt",
          tags: ["listen"],
          params: AttemptParams,
          body: AttemptReport,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        const session = sessionOf(appOf(request).id, request.params.id);
        const { body } = request;
        const waiting = relay.report(session.id, request.params.attempt_id, {
          statusCode: body.status_code,
          headers: checkReportHeaders(body.headers ?? {}),
          body: body.body ?? null,
          errorClass: body.error_class ?? null,
          error: body.error ?? null,
        });
        if (!waiting) {
          throw new HeraldError(
            "not_found",
            `No attempt "${request.params.attempt_id}" waits for a report (timed out?).`,
          );
        }
        return reply.status(204).send();
      },
    );

    app.delete<{ Params: { id: string } }>(
      "/listen/:id",
      {
        config: { access: "manage" },
        schema: {
          summary: "End a listen session and delete its endpoint",
          tags: ["listen"],
          params: SessionParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        const tenant = appOf(request);
        const session = sessionOf(tenant.id, request.params.id);
        relay.close(session.id);
        await ctx.endpoints.deleteListenEndpoint(tenant.id, session.endpointId, listenUrl(session.id));
        return reply.status(204).send();
      },
    );
  };
}
