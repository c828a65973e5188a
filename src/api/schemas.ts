import { type Static, type TSchema, Type } from "typebox";
import { PRINTABLE_TEXT } from "../core/errors.js";
import { ERROR_CLASSES } from "../delivery/transport/index.js";

/**
 * The native API's shapes, written once: Fastify validates requests with them and the OpenAPI
 * document at `/openapi.json` is generated from them.
 */

const Timestamp = Type.String({ format: "date-time", description: "RFC 3339" });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
/** Any JSON value: event payloads are the customer's own shape. */
const Json = Type.Unsafe<unknown>({ description: "any JSON value" });

export const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: "what went wrong, e.g. invalid_value, not_found, unauthorized" }),
        message: Type.String(),
        parameter: Type.Optional(Type.String({ description: "the parameter at fault" })),
        expected: Type.Optional(Type.String()),
        suggestions: Type.Optional(Type.Array(Type.String())),
        retry_after_seconds: Type.Optional(
          Type.Integer({ description: "rate_limited: when to try again (also Retry-After)" }),
        ),
      },
      { additionalProperties: true },
    ),
  },
  { $id: "Error", description: "Every error of the native API" },
);

// Checked by the route (parseLimit), whose message says what a limit is rather than quoting a pattern.
export const Limit = Type.String({ description: "1 to 500 (default 50)" });
export const Cursor = Type.String({ maxLength: 512, description: "next_cursor of the previous page" });
export const NextCursor = Type.Union([Type.String(), Type.Null()], { description: "null on the last page" });
export const Page = { limit: Type.Optional(Limit), cursor: Type.Optional(Cursor) };
/** Paging for lists whose items carry payloads or response bodies: a page also stops at a size (see PAGE_BYTE_BUDGET). */
export const BudgetedPage = {
  limit: Type.Optional(
    Type.String({
      description:
        "1 to 500 (default 50). A page also ends early, with next_cursor, once its JSON passes about 4 MiB: paging on returns the rest",
    }),
  ),
  cursor: Type.Optional(Cursor),
};
/** A listing's time window: RFC 3339, checked by the route so that a bad value names its parameter. */
export const Window = {
  created_after: Type.Optional(
    Type.String({ maxLength: 64, description: "RFC 3339: created at or after this time (inclusive)" }),
  ),
  created_before: Type.Optional(Type.String({ maxLength: 64, description: "RFC 3339: created before this time" })),
};

/** The query of a route that takes no parameters: any is refused by name, not ignored. */
export const NoQuery = Type.Object({}, { additionalProperties: false });

/** An id in a path: bounded, so a long one is refused before any lookup. */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

// Apps
export const AppJson = Type.Object({ id: Type.String(), name: Type.String(), created_at: Timestamp }, { $id: "App" });
const PublishRateLimit = Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()], {
  description: "events per second this app may publish; null: the deployment's HERALD_PUBLISH_RATE_LIMIT",
});
export const AppLimitsJson = Type.Object(
  { id: Type.String(), name: Type.String(), created_at: Timestamp, publish_rate_limit: PublishRateLimit },
  { $id: "AppWithLimits" },
);
export const AppLimitsPatch = Type.Object({ publish_rate_limit: PublishRateLimit }, { additionalProperties: false });
export const NewApp = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200, pattern: PRINTABLE_TEXT }) },
  { additionalProperties: false },
);
export const CreatedApp = Type.Object({
  id: Type.String(),
  name: Type.String(),
  created_at: Timestamp,
  api_token: Type.String({ description: "the master API token: shown only here; it signs Sendbird webhooks" }),
});
export const Overlap = Type.Object(
  {
    overlap_seconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 30 * 24 * 3600,
        description: "how long the previous credential stays valid",
      }),
    ),
  },
  { additionalProperties: false },
);
export const RotatedToken = Type.Object({
  app_id: Type.String(),
  api_token: Type.String({ description: "the new master token, shown only here; it signs from now on" }),
  previous_token_expires_at: Timestamp,
});

// Tokens
export const ScopeName = Type.Enum(["publish", "read", "manage"]);
export const TokenJson = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal("master"), Type.Literal("secondary")]),
    preview: Type.String(),
    scopes: Type.Array(ScopeName),
    created_at: Timestamp,
    expires_at: NullableTimestamp,
  },
  { $id: "Token" },
);
export const NewToken = Type.Object(
  { scopes: Type.Optional(Type.Array(ScopeName, { minItems: 1, maxItems: 3, uniqueItems: true })) },
  { additionalProperties: false },
);

// Endpoints
const Url = Type.String({ minLength: 1, maxLength: 2048, description: "an absolute http(s) URL" });
const Filter = Type.Array(Type.String({ minLength: 1, maxLength: 256 }), {
  maxItems: 500,
  description: "exact types and wildcards (group_channel:*, *); empty means every type, including future ones",
});
const Headers = Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 1024 }), {
  maxProperties: 20,
  description: "extra request headers; they never override the signature or id headers",
});
const Options = Type.Object(
  {
    include_members: Type.Optional(Type.Boolean()),
    include_unread_count: Type.Optional(Type.Boolean()),
    compress: Type.Optional(Type.Boolean({ description: "Stream: gzip bodies, signed over the uncompressed JSON" })),
  },
  { additionalProperties: false, description: "wire-format options (Sendbird: member payloads; Stream: gzip)" },
);
const RetryPolicy = Type.Union([Type.Literal("profile"), Type.Literal("durable")], {
  description:
    "profile: the wire format's own retries (default); durable: 12 attempts over about three days (5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h, 24 h, 24 h, ±20%); not for stream endpoints",
});
const RateLimit = Type.Union([Type.Integer({ minimum: 1, maximum: 10_000 }), Type.Null()], {
  description: "requests per second Herald sends this endpoint at most (1-10000); null: no limit",
});
const MaxConcurrency = Type.Union([Type.Integer({ minimum: 1, maximum: 1000 }), Type.Null()], {
  description:
    "attempts in flight to this endpoint at once (1-1000), never above HERALD_ENDPOINT_CONCURRENCY; null: that setting",
});
const Breaker = Type.Union([Type.Literal("closed"), Type.Literal("open"), Type.Literal("half_open")], {
  description:
    "its circuit breaker as the answering process knows it: open after HERALD_ENDPOINT_BREAKER_FAILURES failed attempts in a row (no attempts, deliveries kept pending), half_open while one probe goes out",
});
const EndpointFields = {
  url: Url,
  description: Type.String({ maxLength: 1024, pattern: PRINTABLE_TEXT }),
  filter: Filter,
  enabled: Type.Boolean(),
  headers: Headers,
  options: Options,
};
export const NewEndpoint = Type.Object(
  {
    url: Url,
    profile: Type.Optional(
      Type.String({
        maxLength: 64,
        description: "the wire format: standard (default), sendbird, sendbird-calls, stream",
      }),
    ),
    vocabulary: Type.Optional(
      Type.String({
        maxLength: 64,
        description: "the event language: sendbird or stream (default: the wire format's own; sendbird for standard)",
      }),
    ),
    description: Type.Optional(EndpointFields.description),
    filter: Type.Optional(Filter),
    enabled: Type.Optional(Type.Boolean()),
    headers: Type.Optional(Headers),
    options: Type.Optional(Options),
    ed25519: Type.Optional(Type.Boolean({ description: "standard: also sign with an ed25519 key (v1a)" })),
    retry_policy: Type.Optional(RetryPolicy),
    rate_limit: Type.Optional(RateLimit),
    max_concurrency: Type.Optional(MaxConcurrency),
  },
  { additionalProperties: false },
);
export const EndpointPatch = Type.Object(
  {
    url: Type.Optional(Url),
    description: Type.Optional(EndpointFields.description),
    filter: Type.Optional(Filter),
    enabled: Type.Optional(Type.Boolean()),
    headers: Type.Optional(Headers),
    options: Type.Optional(Options),
    retry_policy: Type.Optional(RetryPolicy),
    rate_limit: Type.Optional(RateLimit),
    max_concurrency: Type.Optional(MaxConcurrency),
  },
  { additionalProperties: false },
);
const KeyJson = Type.Object({
  id: Type.String(),
  type: Type.Union([Type.Literal("hmac"), Type.Literal("ed25519")]),
  public_key: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  expires_at: NullableTimestamp,
});
export const EndpointJson = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    description: Type.String(),
    profile: Type.String(),
    vocabulary: Type.String(),
    filter: Type.Array(Type.String()),
    enabled: Type.Boolean(),
    disabled_reason: Type.Union([Type.String(), Type.Null()], {
      description:
        "why Herald disabled it by itself (a 410 Gone, …); null while enabled or when disabled through the API",
    }),
    headers: Type.Record(Type.String(), Type.String()),
    options: Type.Record(Type.String(), Json),
    retry_policy: RetryPolicy,
    rate_limit: RateLimit,
    max_concurrency: MaxConcurrency,
    breaker: Breaker,
    signing_keys: Type.Array(KeyJson, { description: "keys that sign now; secrets are never returned" }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: "Endpoint" },
);
export const Secret = {
  secret: Type.Union([Type.String(), Type.Null()], {
    description: "standard: the whsec_ secret, shown only here; Sendbird formats sign with the app's master token",
  }),
  public_key: Type.Optional(Type.String({ description: "the whpk_ key receivers verify v1a signatures with" })),
};
export const CreatedEndpoint = Type.Object({ ...EndpointJson.properties, ...Secret });
export const RotatedSecret = Type.Object({ ...Secret, previous_expires_at: Timestamp });

// Events and deliveries
export const EventJson = Type.Object(
  { id: Type.String(), type: Type.String(), created_at: Timestamp, payload: Json },
  { $id: "Event" },
);
const HeaderMap = Type.Record(Type.String(), Type.String());
const AttemptJson = Type.Object({
  attempt: Type.Integer(),
  started_at: Timestamp,
  duration_ms: Type.Integer({ description: "from sending to the end of the response capture, or the failure" }),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  error_class: Type.Union([Type.Enum([...ERROR_CLASSES]), Type.Null()], {
    description:
      "why it was not a 2xx: timeout, refused, reset, dns, tls, ssrf_blocked (the SSRF guard refused the address; nothing was sent), redirect (not followed), status (any other non-2xx); null for a 2xx",
  }),
  request_headers: Type.Union([HeaderMap, Type.Null()], {
    description: "the headers sent, signatures and credentials redacted",
  }),
  response_headers: Type.Union([HeaderMap, Type.Null()], {
    description: "empty when no response arrived; null for attempts logged before headers were kept",
  }),
  response_body: Type.Union([Type.String(), Type.Null()], {
    description: "the start of the response body, up to HERALD_RESPONSE_CAPTURE_BYTES",
  }),
  response_truncated: Type.Boolean({ description: "the body went on past the cap, or stopped before its end" }),
  body_sha256: Type.Union([Type.String(), Type.Null()], { description: "SHA-256 of the bytes this attempt sent" }),
});
export const DeliveryJson = Type.Object(
  {
    id: Type.String({ description: "the webhook id receivers see on every attempt" }),
    event_id: Type.String(),
    endpoint_id: Type.String(),
    type: Type.String(),
    category: Type.String({ description: "the same as type (kept for Sendbird-minded clients)" }),
    status: Type.Union([Type.Literal("pending"), Type.Literal("succeeded"), Type.Literal("failed")]),
    attempts: Type.Integer(),
    max_attempts: Type.Integer(),
    next_attempt_at: NullableTimestamp,
    created_at: Timestamp,
    updated_at: Timestamp,
    manual_retries: Type.Integer({ description: "times it was resent by hand; capped by HERALD_MAX_MANUAL_RETRIES" }),
    ended_reason: Type.Union([Type.String(), Type.Null()], {
      description:
        "why it ended without another attempt (its endpoint stopped subscribing to its type); null otherwise",
    }),
    attempt_log: Type.Array(AttemptJson),
    payload: Type.Optional(Json),
  },
  { $id: "Delivery" },
);

export const RecoveryJson = Type.Object(
  {
    id: Type.String(),
    endpoint_id: Type.String(),
    since: Timestamp,
    until: Timestamp,
    status: Type.Union([Type.Literal("running"), Type.Literal("succeeded"), Type.Literal("failed")]),
    recovered: Type.Integer({
      description: "failed deliveries made pending again so far; each counts as a manual resend (manual_retries)",
    }),
    skipped: Type.Integer({
      description:
        "failed deliveries of the window left as they are so far: resent by hand (or recovered) HERALD_MAX_MANUAL_RETRIES times already",
    }),
    total: Type.Union([Type.Integer(), Type.Null()], {
      description: "failed deliveries in the window when the job started; null until counted",
    }),
    error: Type.Union([Type.String(), Type.Null()], { description: "why it failed; null otherwise" }),
    created_at: Timestamp,
    finished_at: NullableTimestamp,
  },
  { $id: "Recovery" },
);
export const NewRecovery = Type.Object(
  {
    since: Type.String({ maxLength: 64, description: "RFC 3339: recover failed deliveries created at or after this" }),
    until: Type.Optional(
      Type.String({ maxLength: 64, description: "RFC 3339: … and at or before this (default: now)" }),
    ),
  },
  { additionalProperties: false },
);

/** For routes whose whole body is optional: a POST without one is validated as `{}`. */
export const absentBodyIsEmpty = async (request: { body: unknown }) => {
  request.body ??= {};
};

/**
 * A response schema map with the error body on every failure status a route can give; 503 on every
 * route (the store unreachable, Herald shutting down).
 */
export function responses(ok: Record<number, TSchema>, errors: number[] = [400, 401, 403, 404]) {
  const result: Record<number, TSchema> = { ...ok };
  for (const status of [...errors, 503]) result[status] = Type.Ref("Error");
  return result;
}

export const SHARED_SCHEMAS = [ErrorBody];

export type NewEndpointBody = Static<typeof NewEndpoint>;
export type EndpointPatchBody = Static<typeof EndpointPatch>;
