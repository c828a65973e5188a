import type { Dialect } from "./migrations.js";

/**
 * The statement that samples the queue at one time (its placeholder), written once for both stores: per
 * endpoint with pending deliveries, their count and the oldest one's creation time. It reads only the
 * pending deliveries, off the partial index deliveries_due, never the finished history (test/log-plans):
 * - PostgreSQL picks it itself: a bitmap scan of deliveries_due under a HashAggregate.
 * - SQLite is told to: left alone, it walks all of deliveries_by_endpoint, the whole history, for its order;
 *   with INDEXED BY it scans deliveries_due and groups in a temp b-tree.
 * A second sample at the same time writes nothing (the stores check the run first; the key backs it up).
 */
export function sampleQueueSql(dialect: Dialect, at: string): string {
  return `INSERT INTO queue_samples (app_id, sampled_at, endpoint_id, pending, oldest_created_at)
    SELECT app_id, ${at}, endpoint_id, pending, oldest_created_at FROM (${pendingByEndpointSql(dialect)}) AS counted
    ON CONFLICT DO NOTHING`;
}

/**
 * The read half of a sample: per endpoint with pending deliveries, its app, count and the oldest one's
 * creation time. Its cost grows with the backlog (37 ms for 50,000 pending on SQLite), which is why
 * SQLite runs it on a thread of its own and inserts only the few rows it returns.
 */
export function pendingByEndpointSql(dialect: Dialect): string {
  const from = dialect === "sqlite" ? "deliveries INDEXED BY deliveries_due" : "deliveries";
  return `SELECT app_id, endpoint_id, COUNT(*) AS pending, MIN(created_at) AS oldest_created_at FROM ${from}
    WHERE state = 'pending' GROUP BY app_id, endpoint_id`;
}
