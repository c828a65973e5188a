import type { ErrorDetails, ErrorKind } from "../core/errors.js";
import type { ErrorFormatter } from "./error-format.js";

const STATUS: Record<ErrorKind, number> = {
  malformed_json: 400,
  missing_parameter: 400,
  invalid_type: 400,
  invalid_value: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  idempotency_mismatch: 422,
  limit_exceeded: 409,
  rate_limited: 429,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unavailable: 503,
  internal: 500,
};

/** Herald's own error body: `{"error": {"code": "invalid_value", "message": "...", "parameter": "...", ...}}`. */
export const nativeErrorBody = (code: string, message: string, details: object = {}) => ({
  error: { code, message, ...details },
});

/** The details a native client reads, in the API's snake_case; a vendor's own code means nothing here. */
const nativeDetails = ({ retryAfterSeconds, vendorCode: _vendorCode, ...rest }: ErrorDetails) => ({
  ...rest,
  ...(retryAfterSeconds === undefined ? {} : { retry_after_seconds: retryAfterSeconds }),
});

export const formatNativeError: ErrorFormatter = (error) => ({
  status: STATUS[error.kind],
  body: nativeErrorBody(error.kind, error.message, nativeDetails(error.details)),
});
