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
  const from = dialect === "sqlite" ? "deliveries INDEXED BY deliveries_due" : "deliveries";
  return `INSERT INTO queue_samples (app_id, sampled_at, endpoint_id, pending, oldest_created_at)
    SELECT app_id, ${at}, endpoint_id, COUNT(*), MIN(created_at) FROM ${from}
    WHERE state = 'pending' GROUP BY app_id, endpoint_id
    ON CONFLICT DO NOTHING`;
}
