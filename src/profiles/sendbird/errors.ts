import type { ErrorFormatter } from "../../api/error-format.js";
import type { ExpectedType, HeraldError } from "../../core/errors.js";

// Chat Platform API: UnexpectedParameterType is 400100–400104, one code per expected type.
const CHAT_WRONG_TYPE: Record<ExpectedType, number> = {
  string: 400100,
  number: 400101,
  array: 400102,
  object: 400103,
  boolean: 400104,
};

const chatCode = (error: HeraldError): { status: number; code: number } => {
  switch (error.kind) {
    case "malformed_json":
      return { status: 400, code: 400103 };
    case "invalid_type":
      return { status: 400, code: CHAT_WRONG_TYPE[error.details.expected ?? "object"] };
    case "missing_parameter":
      return { status: 400, code: 400105 };
    case "invalid_value":
      return { status: 400, code: 400111 };
    case "unauthorized":
      return { status: 401, code: 400401 };
    case "forbidden":
      return { status: 403, code: 403100 };
    case "not_found":
      return { status: 404, code: 400201 };
    case "payload_too_large":
      return { status: 413, code: 400110 };
    case "unsupported_media_type":
      return { status: 415, code: 400103 };
    case "conflict":
      return { status: 409, code: 400202 };
    case "limit_exceeded":
    case "idempotency_mismatch":
      return { status: 400, code: 400111 };
    case "rate_limited":
      return { status: 429, code: 500910 };
    case "unavailable":
      return { status: 503, code: 500901 };
    case "internal":
      return { status: 500, code: 500901 };
  }
};

/** Sendbird Chat's error body: `{"error": true, "code": 4001xx, "message": "..."}`. */
export const formatChatError: ErrorFormatter = (error) => {
  const { status, code } = chatCode(error);
  return { status, body: { error: true, code, message: error.message } };
};

const callsCode = (error: HeraldError): { status: number; code: number; type: string } => {
  switch (error.kind) {
    case "missing_parameter":
      return { status: 400, code: 400111, type: "MISSING_PARAMS" };
    case "malformed_json":
    case "invalid_type":
    case "invalid_value":
    case "unsupported_media_type":
    case "payload_too_large":
      return { status: error.kind === "payload_too_large" ? 413 : 400, code: 400100, type: "INVALID_PARAMS" };
    case "unauthorized":
      return { status: 401, code: 401121, type: "NOT_AUTHORIZED" };
    case "forbidden":
      return { status: 403, code: 401120, type: "NOT_ALLOWED" };
    case "not_found":
      return { status: 404, code: 400200, type: "NOT_FOUND" };
    case "conflict":
      return { status: 409, code: 400201, type: "UNIQUE_CONSTRAINT" };
    case "limit_exceeded":
    case "idempotency_mismatch":
      return { status: 400, code: 400100, type: "INVALID_PARAMS" };
    case "rate_limited":
      return { status: 429, code: 500910, type: "RATE_LIMIT_EXCEEDED" };
    case "unavailable":
    case "internal":
      return { status: error.kind === "unavailable" ? 503 : 500, code: 500999, type: "UNKNOWN_ERROR" };
  }
};

/** Sendbird Calls' error body, which adds a `type`: `{"error": true, "code", "type", "message"}`. */
export const formatCallsError: ErrorFormatter = (error) => {
  const { status, code, type } = callsCode(error);
  return { status, body: { error: true, code, type, message: error.message } };
};
