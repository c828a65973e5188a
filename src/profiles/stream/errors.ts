import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ErrorFormatter } from "../../api/error-format.js";
import type { ErrorKind } from "../../core/errors.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Stream's name for the operation, which its error messages start with (`UpdateApp failed with error: …`). */
    streamOperation?: string;
  }
  interface FastifyRequest {
    streamStartedAt?: number;
  }
}

// Stream's API error codes (docs: api_errors_response): 4 input, 5 authentication, 16 does not
// exist, 17 not allowed, 22 payload too big, 9 rate limit, -1 internal. Codes 2, 40, 43 (bad key,
// expired token, bad signature) and 44, 45 (custom commands) come as a HeraldError's vendorCode.
const STREAM_CODES: Record<ErrorKind, { code: number; status: number }> = {
  malformed_json: { code: 4, status: 400 },
  missing_parameter: { code: 4, status: 400 },
  invalid_type: { code: 4, status: 400 },
  invalid_value: { code: 4, status: 400 },
  unauthorized: { code: 5, status: 401 },
  forbidden: { code: 17, status: 403 },
  not_found: { code: 16, status: 404 },
  conflict: { code: 4, status: 400 },
  idempotency_mismatch: { code: 4, status: 422 },
  limit_exceeded: { code: 4, status: 400 },
  rate_limited: { code: 9, status: 429 },
  payload_too_large: { code: 22, status: 413 },
  unsupported_media_type: { code: 4, status: 415 },
  unavailable: { code: -1, status: 503 },
  internal: { code: -1, status: 500 },
};

/** Starts each request's clock, for the `duration` every Stream answer carries. */
export function useStreamTiming(app: FastifyInstance): void {
  app.addHook("onRequest", async (request) => {
    request.streamStartedAt = performance.now();
  });
}

export const STREAM_MORE_INFO = "https://getstream.io/chat/docs/api_errors_response";

/** Stream's `duration`: the time spent on the request so far, e.g. `"0.42ms"`. */
export const streamDuration = (request?: FastifyRequest): string =>
  `${(request?.streamStartedAt === undefined ? 0 : performance.now() - request.streamStartedAt).toFixed(2)}ms`;

/** Stream's error body: `{"code", "message", "StatusCode", "duration", "more_info", "details"}`. */
export const formatStreamError: ErrorFormatter = (error, request) => {
  const { code, status } = STREAM_CODES[error.kind];
  const operation = request?.routeOptions.config.streamOperation ?? "Request";
  return {
    status,
    body: {
      code: error.details.vendorCode ?? code,
      message: `${operation} failed with error: "${error.message}"`,
      StatusCode: status,
      duration: streamDuration(request),
      more_info: STREAM_MORE_INFO,
      details: [],
    },
  };
};
