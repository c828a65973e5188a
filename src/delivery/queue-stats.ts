import type { QueueStats } from "../storage/records.js";
import type { Store } from "../storage/store.js";

/** How long `/metrics` reuses the queue's numbers: a scrape every second costs one query per window. */
export const QUEUE_STATS_TTL_MS = 5000;

/**
 * The store's queue numbers behind a short cache, one query in flight at most: scrapes (and several
 * scrapers) never put more than one count per few seconds on the database.
 */
export function cachedQueueStats(store: Store, ttlMs = QUEUE_STATS_TTL_MS): () => Promise<QueueStats | undefined> {
  let loadedAt = Number.NEGATIVE_INFINITY;
  let value: QueueStats | undefined;
  let loading: Promise<QueueStats | undefined> | undefined;
  return () => {
    if (Date.now() - loadedAt < ttlMs) return Promise.resolve(value);
    loading ??= store
      .queueStats()
      .then((stats) => {
        value = stats;
        loadedAt = Date.now();
        return stats;
      })
      // A store that cannot answer leaves the last numbers up; /readyz is where it shows.
      .catch(() => value)
      .finally(() => {
        loading = undefined;
      });
    return loading;
  };
}
