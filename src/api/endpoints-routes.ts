import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { checkFilter } from "../catalog/index.js";
import { HeraldError } from "../core/errors.js";
import { newEndpointId, newSigningKeyId } from "../core/ids.js";
import { REDACTED } from "../delivery/transport/index.js";
import { listenSessionOf } from "../delivery/transport/listen-relay.js";
import type { KeySource, NewEndpointKey, WireFormat } from "../profiles/profile.js";
import { findVocabulary, findWireFormat, VOCABULARIES, WIRE_FORMATS } from "../profiles/registry.js";
import type { Endpoint, RetryPolicyName, SigningKey } from "../storage/records.js";
import { appOf, mayManage } from "./auth.js";
import type { ApiContext } from "./context.js";
import { isoTime, pageOf } from "./pagination.js";
import { requireWebhookUrl, type WebhookUrlGuard } from "./params.js";
import {
  absentBodyIsEmpty,
  CreatedEndpoint,
  EndpointJson,
  EndpointPatch,
  type EndpointPatchBody,
  IdParams,
  NewEndpoint,
  type NewEndpointBody,
  NextCursor,
  Overlap,
  Page,
  RotatedSecret,
  responses,
} from "./schemas.js";
import { endpointJson, overlapMs } from "./views.js";

const DEFAULT_PROFILE = "standard";
/** What a profile's endpoints can be created with: every format the queue delivers. */
const QUEUED_FORMATS = WIRE_FORMATS.filter((format) => !format.synchronous);
const SIGNED_WITH: Record<KeySource, string> = {
  "app-token": "the app's master API token",
  "api-keys": "the app's newest API key",
  "endpoint-keys": "the endpoint's own keys",
};
const ROTATE: Record<KeySource, string> = {
  "app-token": "rotate that instead (POST /v1/tokens/master/rotate)",
  "api-keys": "create a new key instead (POST /v1/keys), then revoke the old one",
  "endpoint-keys": "",
};
const DEFAULT_VOCABULARY = "sendbird";
/** Headers a client may never set, whatever the wire format: the transport owns them. */
const TRANSPORT_HEADERS = [
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "expect",
  "content-encoding",
];
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function checkHeaders(headers: Record<string, string>, wire: WireFormat): Record<string, string> {
  const reserved = new Set([...TRANSPORT_HEADERS, ...wire.reservedHeaders].map((name) => name.toLowerCase()));
  const checked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const parameter = `headers.${name}`;
    if (!HEADER_NAME.test(name)) {
      throw new HeraldError("invalid_value", `"${name}" is not a valid header name.`, { parameter });
    }
    if (reserved.has(name.toLowerCase())) {
      throw new HeraldError("invalid_value", `"${name}" is set by Herald and cannot be overridden.`, { parameter });
    }
    if (!HEADER_VALUE.test(value)) {
      throw new HeraldError(
        "invalid_value",
        `The value of "${name}" has a control character or one past U+00FF (header values are bytes: tabs, spaces and visible characters only).`,
        { parameter },
      );
    }
    const lower = name.toLowerCase();
    if (Object.hasOwn(checked, lower)) {
      throw new HeraldError(
        "invalid_value",
        `"${name}" is given twice: header names are case-insensitive, so one value would be lost.`,
        { parameter },
      );
    }
    checked[lower] = value;
  }
  return checked;
}

function pick<T>(found: T | undefined, parameter: string, value: string, known: readonly { id: string }[]): T {
  if (found) return found;
  throw new HeraldError(
    "invalid_value",
    `"${parameter}" must be one of ${known.map((item) => item.id).join(", ")}, not "${value}".`,
    { parameter },
  );
}

export const keyRecords = (endpoint: Endpoint, keys: NewEndpointKey[], now: number): SigningKey[] =>
  keys.map((key) => ({
    id: newSigningKeyId(),
    appId: endpoint.appId,
    endpointId: endpoint.id,
    kind: key.kind,
    secret: key.secret,
    publicKey: key.publicKey,
    createdAt: now,
    expiresAt: null,
  }));

/** What a new key's owner is shown, once: the HMAC secret, and the public key for ed25519. */
export function shownSecret(keys: readonly NewEndpointKey[]): { secret: string | null; public_key?: string } {
  const hmac = keys.find((key) => key.kind === "hmac");
  const ed25519 = keys.find((key) => key.kind === "ed25519");
  return { secret: hmac?.secret ?? null, ...(ed25519?.publicKey ? { public_key: ed25519.publicKey } : {}) };
}

/** Applies a native create or patch body on top of an endpoint (or defaults). */
function applyFields(base: Endpoint, body: EndpointPatchBody, wire: WireFormat, guard: WebhookUrlGuard): Endpoint {
  const vocabulary = findVocabulary(base.vocabulary)!;
  return {
    ...base,
    url: body.url === undefined ? base.url : requireWebhookUrl(body.url, "url", guard),
    description: body.description ?? base.description,
    eventTypes: body.filter === undefined ? base.eventTypes : checkFilter(body.filter, vocabulary),
    enabled: body.enabled ?? base.enabled,
    // Set through the API either way, it is a person's decision: Herald's reason no longer applies.
    disabledReason: body.enabled === undefined ? base.disabledReason : null,
    headers: body.headers === undefined ? base.headers : checkHeaders(body.headers, wire),
    options: body.options === undefined ? base.options : { ...base.options, ...body.options },
    retryPolicy: body.retry_policy === undefined ? base.retryPolicy : checkRetryPolicy(body.retry_policy, wire),
    // Flow control: the schema bounds them; null lifts a limit.
    rateLimit: body.rate_limit === undefined ? (base.rateLimit ?? null) : body.rate_limit,
    maxConcurrency: body.max_concurrency === undefined ? (base.maxConcurrency ?? null) : body.max_concurrency,
  };
}

/** `durable` is for formats without a window: Stream's push webhooks end within 15 s by design. */
function checkRetryPolicy(policy: RetryPolicyName, wire: WireFormat): RetryPolicyName {
  if (policy === "durable" && wire.policy.windowMs !== undefined) {
    throw new HeraldError(
      "invalid_value",
      `"${wire.id}" endpoints keep their format's retries: every attempt ends within ${wire.policy.windowMs / 1000} s of the first, as the vendor does.`,
      { parameter: "retry_policy" },
    );
  }
  return policy;
}

/**
 * A `herald listen` endpoint's URL is its session's (`listen://…`): the session ends it, and an
 * ordinary URL would turn a temporary endpoint into a lasting one. The rest may change; deleting is allowed.
 */
function refuseListenUrlChange(current: Endpoint, body: EndpointPatchBody): void {
  const session = listenSessionOf(current.url);
  if (session === undefined || body.url === undefined) return;
  throw new HeraldError(
    "conflict",
    `Endpoint "${current.id}" belongs to listen session "${session}", whose URL it keeps: end the session (DELETE /v1/listen/${session}) and create an ordinary endpoint instead.`,
    { parameter: "url" },
  );
}

interface ById {
  Params: { id: string };
}

/**
 * `/v1/endpoints`: an app's endpoints, whatever their wire format. The Sendbird Chat and Calls
 * settings are endpoints too, so a change made here shows in Sendbird's settings API and back.
 */
export const endpointsRoutes: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  const endpointOf = async (appId: string, id: string) => {
    const endpoint = await ctx.endpoints.ofApp(appId, id);
    if (!endpoint) throw new HeraldError("not_found", `No endpoint "${id}".`);
    return endpoint;
  };
  const view = async (endpoint: Endpoint) =>
    endpointJson(
      endpoint,
      await ctx.store.listSigningKeys(endpoint.id, Date.now()),
      ctx.breakerOf?.(endpoint.id) ?? "closed",
    );
  // Extra headers often carry the receiver's credentials (Authorization, an API key): a token that
  // may only read sees their names, not their values, as the delivery log shows them.
  const viewFor = (request: FastifyRequest) => async (endpoint: Endpoint) => {
    const shown = await view(endpoint);
    if (mayManage(request.principal)) return shown;
    return { ...shown, headers: Object.fromEntries(Object.keys(shown.headers).map((name) => [name, REDACTED])) };
  };

  app.post<{ Body: NewEndpointBody }>(
    "/endpoints",
    {
      config: { access: "manage" },
      schema: {
        summary: "Create an endpoint; its signing secret is in this response only",
        tags: ["endpoints"],
        body: NewEndpoint,
        response: responses({ 201: CreatedEndpoint }),
      },
    },
    async (request, reply) => {
      const tenant = appOf(request);
      const { body } = request;
      const profile = body.profile ?? DEFAULT_PROFILE;
      const wire = pick(findWireFormat(profile), "profile", profile, QUEUED_FORMATS);
      if (wire.synchronous) {
        throw new HeraldError(
          "invalid_value",
          `"${profile}" is a synchronous hook, set through Stream's PATCH /app (one per app), not created here.`,
          { parameter: "profile" },
        );
      }
      if (wire.signsWith === "api-keys" && (await ctx.endpoints.apiKeys(tenant.id)).length === 0) {
        throw new HeraldError(
          "invalid_value",
          `"${profile}" endpoints are signed with the app's API key: create one first (POST /v1/keys).`,
          { parameter: "profile" },
        );
      }
      const vocabularyId = body.vocabulary ?? wire.defaultVocabulary ?? DEFAULT_VOCABULARY;
      pick(findVocabulary(vocabularyId), "vocabulary", vocabularyId, VOCABULARIES);
      if (body.ed25519 && !wire.newKeys) {
        throw new HeraldError(
          "invalid_value",
          `"ed25519" is not available: "${profile}" endpoints are signed with ${SIGNED_WITH[wire.signsWith]}.`,
          {
            parameter: "ed25519",
          },
        );
      }
      const now = Date.now();
      const blank: Endpoint = {
        id: newEndpointId(),
        appId: tenant.id,
        vocabulary: vocabularyId,
        profile,
        url: "",
        description: "",
        enabled: true,
        disabledReason: null,
        retryPolicy: "profile",
        rateLimit: null,
        maxConcurrency: null,
        eventTypes: ["*"],
        headers: {},
        options: {},
        createdAt: now,
        updatedAt: now,
      };
      const endpoint = applyFields(blank, body, wire, ctx.transport);
      const keys = wire.newKeys?.({ ed25519: body.ed25519 === true }) ?? [];
      await ctx.endpoints.create(endpoint, keyRecords(endpoint, keys, now));
      return reply.status(201).send({ ...(await view(endpoint)), ...shownSecret(keys) });
    },
  );

  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    "/endpoints",
    {
      config: { access: "read" },
      schema: {
        summary: "List the app's endpoints, newest first",
        tags: ["endpoints"],
        querystring: Type.Object(Page, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ endpoints: Type.Array(EndpointJson), next_cursor: NextCursor }) }),
      },
    },
    async (request) => {
      const endpoints = await ctx.store.listEndpoints(appOf(request).id);
      const { page, next } = pageOf(endpoints, (e) => ({ createdAt: e.createdAt, id: e.id }), request.query);
      return { endpoints: await Promise.all(page.map(viewFor(request))), next_cursor: next };
    },
  );

  app.get<ById>(
    "/endpoints/:id",
    {
      config: { access: "read" },
      schema: {
        summary: "Get an endpoint",
        tags: ["endpoints"],
        params: IdParams,
        response: responses({ 200: EndpointJson }),
      },
    },
    async (request) => viewFor(request)(await endpointOf(appOf(request).id, request.params.id)),
  );

  app.patch<ById & { Body: EndpointPatchBody }>(
    "/endpoints/:id",
    {
      config: { access: "manage" },
      schema: {
        summary: "Change some of an endpoint's fields; the others keep their values",
        tags: ["endpoints"],
        params: IdParams,
        body: EndpointPatch,
        response: responses({ 200: EndpointJson }),
      },
    },
    async (request) => {
      const appId = appOf(request).id;
      // Applied to the endpoint as stored when the write happens: two PATCHes at once both count.
      const saved = await ctx.endpoints.change(request.params.id, (current) => {
        if (current?.appId !== appId) return undefined;
        refuseListenUrlChange(current, request.body);
        const next = applyFields(current, request.body, findWireFormat(current.profile)!, ctx.transport);
        if (next.enabled && next.url === "") {
          throw new HeraldError("missing_parameter", '"url" is required to enable an endpoint.', { parameter: "url" });
        }
        return { ...next, updatedAt: Date.now() };
      });
      if (!saved) throw new HeraldError("not_found", `No endpoint "${request.params.id}".`);
      return view(saved);
    },
  );

  app.delete<ById>(
    "/endpoints/:id",
    {
      config: { access: "manage" },
      schema: {
        summary: "Delete an endpoint; its pending deliveries end as failed and stay in the log",
        tags: ["endpoints"],
        params: IdParams,
        response: responses({ 204: Type.Null() }),
      },
    },
    async (request, reply) => {
      const tenant = appOf(request);
      if (!(await ctx.endpoints.delete(tenant.id, request.params.id))) {
        throw new HeraldError("not_found", `No endpoint "${request.params.id}".`);
      }
      return reply.status(204).send();
    },
  );

  app.post<ById & { Body: { overlap_seconds?: number } }>(
    "/endpoints/:id/secret/rotate",
    {
      config: { access: "manage" },
      preValidation: absentBodyIsEmpty,
      schema: {
        summary: "New signing keys; the current ones keep signing beside them for the overlap (default 24 h)",
        tags: ["endpoints"],
        params: IdParams,
        body: Overlap,
        response: responses({ 200: RotatedSecret }),
      },
    },
    async (request) => {
      const endpoint = await endpointOf(appOf(request).id, request.params.id);
      const wire = findWireFormat(endpoint.profile)!;
      if (!wire.newKeys) {
        throw new HeraldError(
          "conflict",
          `"${endpoint.profile}" endpoints are signed with ${SIGNED_WITH[wire.signsWith]}: ${ROTATE[wire.signsWith]}.`,
        );
      }
      const now = Date.now();
      const current = await ctx.store.listSigningKeys(endpoint.id, now);
      const keys = wire.newKeys({ ed25519: current.some((key) => key.kind === "ed25519") });
      const previousExpiresAt = now + (overlapMs(request.body) ?? ctx.config.secretOverlapMs);
      await ctx.store.addSigningKeys(endpoint.id, keyRecords(endpoint, keys, now), previousExpiresAt);
      ctx.endpoints.forgetEndpoint(endpoint.appId, endpoint.id);
      return { ...shownSecret(keys), previous_expires_at: isoTime(previousExpiresAt) };
    },
  );
};
