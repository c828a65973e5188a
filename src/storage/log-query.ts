import type { Dialect } from "./migrations.js";
import type { DeliveryQuery, DeliveryState, EventQuery } from "./records.js";

/**
 * The delivery log's queries, written once for both stores. Every listing is read off an index in
 * the log's order (created_at, id, newest first) and stops at the page size, whatever the filters:
 * see the `delivery-log` migration for the three indexes and why `state` sits before the time.
 */

/** Adds a parameter and returns its placeholder (`?` or `$n`). */
export type Bind = (value: unknown) => string;

export const DELIVERY_COLUMNS = `id, app_id, event_id, endpoint_id, type, state, attempts, max_attempts,
  next_attempt_at, created_at, updated_at, manual_retries, ended_reason`;

const STATES: readonly DeliveryState[] = ["pending", "succeeded", "failed"];
const NEWEST_FIRST = "ORDER BY created_at DESC, id DESC";
/**
 * A type filter without an endpoint merges one range per (endpoint, state) of that type; past this
 * many ranges (an app with dozens of endpoints taking one type) one range is read and sorted instead.
 */
export const MAX_MERGED_RANGES = 60;

/** The window and cursor conditions, which every index serves as a range after its equality prefix. */
function rangeConditions(query: DeliveryQuery | EventQuery, bind: Bind): string[] {
  const conditions: string[] = [];
  if (query.createdAfter !== undefined) conditions.push(`created_at >= ${bind(query.createdAfter)}`);
  // Of the window's end and the cursor, only the tighter bound is written: a planner bounds its range by one.
  const cursorIsTighter = query.before !== undefined && query.before.createdAt < (query.createdBefore ?? Infinity);
  if (query.createdBefore !== undefined && !cursorIsTighter) {
    conditions.push(`created_at < ${bind(query.createdBefore)}`);
  }
  if (query.before && cursorIsTighter) {
    // Spelt out rather than as a row value: SQLite bounds an index range by `created_at <=`, not by `(a, b) <`.
    const at = bind(query.before.createdAt);
    conditions.push(`created_at <= ${at}`, `(created_at < ${at} OR id < ${bind(query.before.id)})`);
  }
  return conditions;
}

/** Which index a listing reads (named for SQLite's INDEXED BY; PostgreSQL's planner picks the same). */
function deliveryIndex(query: DeliveryQuery): string {
  if (query.eventId !== undefined) return "deliveries_by_event";
  if (query.type !== undefined) return "deliveries_by_type";
  if (query.endpointId !== undefined) return "deliveries_by_endpoint";
  return "deliveries_by_app";
}

/**
 * The SQL listing an app's deliveries. Without a status filter (or, for a type, an endpoint) the
 * page is merged from one ordered range per state (per endpoint): each arm reads at most `limit`
 * entries off its index, and only those few rows are sorted. `typeEndpoints` are the endpoints that
 * have deliveries of `query.type` (see `TYPE_ENDPOINTS_SQL`), needed only without an endpoint filter.
 */
export function listDeliveriesSql(
  dialect: Dialect,
  appId: string,
  query: DeliveryQuery,
  bind: Bind,
  typeEndpoints: readonly string[] = [],
): string {
  const index = deliveryIndex(query);
  const from = dialect === "sqlite" ? `deliveries INDEXED BY ${index}` : "deliveries";
  const limit = bind(query.limit);
  const common = [`app_id = ${bind(appId)}`];
  if (query.type !== undefined) common.push(`type = ${bind(query.type)}`);
  if (query.eventId !== undefined) common.push(`event_id = ${bind(query.eventId)}`);
  common.push(...rangeConditions(query, bind));
  const arm = (conditions: string[]) =>
    `SELECT ${DELIVERY_COLUMNS} FROM ${from} WHERE ${conditions.join(" AND ")} ${NEWEST_FIRST} LIMIT ${limit}`;

  // An event has a handful of deliveries: read them by event and sort them.
  if (query.eventId !== undefined) {
    const conditions = [...common];
    if (query.endpointId !== undefined) conditions.push(`endpoint_id = ${bind(query.endpointId)}`);
    if (query.state !== undefined) conditions.push(`state = ${bind(query.state)}`);
    return arm(conditions);
  }
  const states = query.state !== undefined ? [query.state] : STATES;
  const endpoints: (string | undefined)[] =
    query.endpointId !== undefined ? [query.endpointId] : query.type !== undefined ? [...typeEndpoints] : [undefined];
  if (query.type !== undefined && query.endpointId === undefined) {
    if (endpoints.length === 0) return arm([...common, "1 = 0"]);
    if (endpoints.length * states.length > MAX_MERGED_RANGES) {
      const conditions = [...common];
      if (query.state !== undefined) conditions.push(`state = ${bind(query.state)}`);
      return arm(conditions);
    }
  }
  const arms: string[] = [];
  for (const endpointId of endpoints) {
    for (const state of states) {
      const conditions = [...common];
      if (endpointId !== undefined) conditions.push(`endpoint_id = ${bind(endpointId)}`);
      conditions.push(`state = ${bind(state)}`);
      arms.push(arm(conditions));
    }
  }
  if (arms.length === 1) return arms[0]!;
  const merged = arms.map((sql, n) => `SELECT * FROM (${sql}) AS r${n}`).join(" UNION ALL ");
  return `SELECT * FROM (${merged}) AS merged ${NEWEST_FIRST} LIMIT ${limit}`;
}

/**
 * The endpoints with deliveries of one type in an app: a loose index scan of deliveries_by_type, one
 * probe per endpoint however many deliveries each has. Parameters: app id, type (twice each).
 */
export const typeEndpointsSql = (dialect: Dialect, p: [string, string, string, string]) => {
  const from = dialect === "sqlite" ? "deliveries INDEXED BY deliveries_by_type" : "deliveries";
  return `
  WITH RECURSIVE typed(endpoint_id) AS (
    SELECT MIN(endpoint_id) FROM ${from} WHERE app_id = ${p[0]} AND type = ${p[1]}
    UNION ALL
    SELECT (SELECT MIN(endpoint_id) FROM ${from}
            WHERE app_id = ${p[2]} AND type = ${p[3]} AND endpoint_id > typed.endpoint_id)
    FROM typed WHERE typed.endpoint_id IS NOT NULL
  )
  SELECT endpoint_id FROM typed WHERE endpoint_id IS NOT NULL LIMIT ${MAX_MERGED_RANGES + 1}`;
};

/** The SQL listing an app's events: by app or by app and type, then the window, newest first. */
export function listEventsSql(dialect: Dialect, appId: string, query: EventQuery, bind: Bind): string {
  const index = query.type !== undefined ? "events_by_type" : "events_by_app";
  const from = dialect === "sqlite" ? `events INDEXED BY ${index}` : "events";
  const conditions = [`app_id = ${bind(appId)}`];
  if (query.type !== undefined) conditions.push(`type = ${bind(query.type)}`);
  conditions.push(...rangeConditions(query, bind));
  return `SELECT * FROM ${from} WHERE ${conditions.join(" AND ")} ${NEWEST_FIRST} LIMIT ${bind(query.limit)}`;
}
