/**
 * What went wrong with a request, independent of the API it came through. Each API (Sendbird Chat,
 * Sendbird Calls, Herald's own) turns a kind into its own status code and error body.
 */
export type ErrorKind =
  | "malformed_json"
  | "missing_parameter"
  | "invalid_type"
  | "invalid_value"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "unavailable"
  | "internal";

/** The JSON type a parameter should have had, for `invalid_type`. */
export type ExpectedType = "string" | "number" | "array" | "object" | "boolean";

export interface ErrorDetails {
  /** The parameter at fault, e.g. `enabled_events[2]` or `events[17].category`. */
  parameter?: string;
  expected?: ExpectedType;
  /** For unknown categories: the closest known names. */
  suggestions?: string[];
}

export class HeraldError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = "HeraldError";
  }
}

/** Maps Fastify's own request errors (bad JSON, body too large, …) to an error kind. */
export function errorFromFramework(error: { code?: string; statusCode?: number; message: string }): HeraldError {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new HeraldError("payload_too_large", error.message);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new HeraldError("unsupported_media_type", "Content-Type must be application/json.");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new HeraldError("malformed_json", "The request body is empty; a JSON object was expected.");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new HeraldError("malformed_json", `The request body is not valid JSON: ${error.message}`);
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return new HeraldError("malformed_json", `The request body is not valid JSON: ${error.message}`);
  }
  return new HeraldError("internal", "Internal error.");
}
