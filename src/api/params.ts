import { HeraldError } from "../core/errors.js";

/** Small checks that name the parameter at fault, so every API can say exactly what was wrong. */

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export function requireObject(value: unknown, parameter: string): Record<string, unknown> {
  if (!isPlainObject(value)) {
    throw new HeraldError("invalid_type", `"${parameter}" must be a JSON object.`, { parameter, expected: "object" });
  }
  return value;
}

export function optionalBoolean(value: unknown, parameter: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") {
    throw new HeraldError("invalid_type", `"${parameter}" must be a boolean.`, { parameter, expected: "boolean" });
  }
  return value;
}

export function optionalString(value: unknown, parameter: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw new HeraldError("invalid_type", `"${parameter}" must be a string.`, { parameter, expected: "string" });
  }
  return value;
}

export function optionalStringArray(value: unknown, parameter: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    throw new HeraldError("invalid_type", `"${parameter}" must be an array.`, { parameter, expected: "array" });
  }
  return value.map((item, index) => {
    if (typeof item !== "string") {
      const at = `${parameter}[${index}]`;
      throw new HeraldError("invalid_type", `"${at}" must be a string.`, { parameter: at, expected: "string" });
    }
    return item;
  });
}

/** A query-string flag: absent, `true` or `false`. */
export function optionalQueryBoolean(value: unknown, parameter: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new HeraldError("invalid_type", `"${parameter}" must be true or false.`, { parameter, expected: "boolean" });
}

/** A whole number written in a query string as plain digits (not `1e2`, `50.0` or `-1`), from `min` to `max`. */
export function queryInteger(raw: string, parameter: string, min: number, max: number): number {
  const value = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= min && value <= max)) {
    throw new HeraldError("invalid_value", `"${parameter}" must be an integer from ${min} to ${max}.`, { parameter });
  }
  return value;
}

/** What judges a webhook URL when it is configured: the outbound transport (`refusalAtConfig`). */
export interface WebhookUrlGuard {
  refusalAtConfig(value: string): string | null;
}

/**
 * A webhook target, as every route that takes one checks it: an absolute http(s) URL of at most
 * 2 KiB, without whitespace, control characters or user-info, whose host is not an IP literal the
 * SSRF guard refuses. Names are judged again on every connection, on what they resolve to.
 */
export function requireWebhookUrl(value: string, parameter: string, guard: WebhookUrlGuard): string {
  const problem = guard.refusalAtConfig(value);
  if (problem !== null) throw new HeraldError("invalid_value", `"${parameter}" ${problem}.`, { parameter });
  return value;
}

const RFC_3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/** Whether the fields name a real instant: `Date.parse` quietly rolls 2026-02-31 over to 3 March, and takes 24:00. */
function onTheCalendar([
  ,
  year,
  month,
  day,
  hour,
  minute,
  second,
  ,
  offsetHours,
  offsetMinutes,
]: RegExpExecArray): boolean {
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return (
    date.getUTCMonth() === Number(month) - 1 &&
    date.getUTCDate() === Number(day) &&
    Number(hour) <= 23 &&
    Number(minute) <= 59 &&
    Number(second) <= 59 &&
    Number(offsetHours ?? 0) <= 23 &&
    Number(offsetMinutes ?? 0) <= 59
  );
}

/** An RFC 3339 time (`2026-12-01T10:00:00Z`, an offset, fractions of a second) as epoch ms; absent: undefined. */
export function optionalTime(value: string | undefined, parameter: string): number | undefined {
  if (value === undefined) return undefined;
  const fields = RFC_3339.exec(value);
  const ms = fields && onTheCalendar(fields) ? Date.parse(value.replace(" ", "T")) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new HeraldError(
      "invalid_value",
      `"${parameter}" must be an RFC 3339 time such as 2026-12-01T10:00:00Z, not "${value.slice(0, 64)}".`,
      { parameter },
    );
  }
  return ms;
}

/** The `created_after`/`created_before` window of a listing; an empty window is refused. */
export function timeWindow(query: { created_after?: string; created_before?: string }) {
  const createdAfter = optionalTime(query.created_after, "created_after");
  const createdBefore = optionalTime(query.created_before, "created_before");
  if (createdAfter !== undefined && createdBefore !== undefined && createdAfter >= createdBefore) {
    throw new HeraldError("invalid_value", '"created_after" must be earlier than "created_before".', {
      parameter: "created_after",
    });
  }
  return { createdAfter, createdBefore };
}
