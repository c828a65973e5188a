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
  | "idempotency_mismatch"
  | "limit_exceeded"
  | "rate_limited"
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
  /** A vendor's own error code where one kind maps to several (Stream: 2, 40 or 43 for a 401). */
  vendorCode?: number;
  /** For `rate_limited`: when to try again, sent as `Retry-After` by every API. */
  retryAfterSeconds?: number;
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

/** One failed check of a request schema, as Fastify's validator reports it. */
interface SchemaFailure {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** `/filter/2` in the body is `filter[2]`; a query parameter or header is its own name. */
const parameterAt = (path: string): string =>
  path
    .split("/")
    .filter(Boolean)
    .map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`))
    .join("");

/** Turns a schema validation failure into an error that names the parameter at fault. */
/**
 * Text shown back to people (app names, endpoint descriptions): no C0 or C1 control character, so a
 * listing cannot move a terminal's cursor or rewrite what an operator sees.
 */
export const PRINTABLE_TEXT = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";

function errorFromSchema(failure: SchemaFailure | undefined, context: string | undefined): HeraldError {
  if (!failure) return new HeraldError("invalid_value", "The request is not valid.");
  const base = parameterAt(failure.instancePath);
  const child = (name: unknown) => (base === "" ? String(name) : `${base}.${String(name)}`);
  switch (failure.keyword) {
    case "additionalProperties": {
      const parameter = child(failure.params.additionalProperty);
      const what = context === "querystring" ? "query parameter" : "field";
      return new HeraldError("invalid_value", `Unknown ${what} "${parameter}".`, { parameter });
    }
    case "enum": {
      const allowed = (failure.params.allowedValues as unknown[]).join(", ");
      return new HeraldError("invalid_value", `"${base || context}" must be one of ${allowed}.`, {
        parameter: base || context,
      });
    }
    case "required": {
      const parameter = child(failure.params.missingProperty);
      return new HeraldError("missing_parameter", `"${parameter}" is required.`, { parameter });
    }
    case "pattern": {
      if (failure.params.pattern !== PRINTABLE_TEXT) break;
      return new HeraldError("invalid_value", `"${base || context}" must not contain control characters.`, {
        parameter: base || context,
      });
    }
    case "type": {
      const expected = String(failure.params.type) as ExpectedType;
      const type = expected === ("integer" as ExpectedType) ? "number" : expected;
      return new HeraldError("invalid_type", `"${base || context}" must be of type ${failure.params.type}.`, {
        parameter: base || context,
        expected: type,
      });
    }
  }
  return new HeraldError("invalid_value", `"${base || context}" ${failure.message ?? "is not valid"}.`, {
    parameter: base || context,
  });
}

/** Maps Fastify's own request errors (bad JSON, body too large, failed schema, …) to an error kind. */
export function errorFromFramework(error: {
  code?: string;
  statusCode?: number;
  message: string;
  validation?: SchemaFailure[];
  validationContext?: string;
}): HeraldError {
  switch (error.code) {
    case "FST_ERR_VALIDATION":
      return errorFromSchema(error.validation?.[0], error.validationContext);
    case "FST_ERR_BAD_URL":
      return new HeraldError("invalid_value", "The URL is not valid (bad percent-encoding).");
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
