import { HeraldError } from "../core/errors.js";
import { PostgresStore } from "./postgres/postgres-store.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";
import { LOCK_TIMEOUT_MS, type Store } from "./store.js";

/** Opens the store a database URL names: `sqlite:<path>` (or `sqlite::memory:`), or `postgres://…`. */
export function openStore(
  databaseUrl: string,
  options: { sqliteSynchronous: "full" | "normal"; databasePoolSize: number },
): Store {
  if (databaseUrl.startsWith("sqlite:")) {
    const path = databaseUrl.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    return new SqliteStore({ path: path || "./data/herald.db", synchronous: options.sqliteSynchronous });
  }
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    return new PostgresStore({
      connectionString: databaseUrl,
      poolSize: options.databasePoolSize,
      lockTimeoutMs: LOCK_TIMEOUT_MS,
    });
  }
  throw new HeraldError(
    "invalid_value",
    `HERALD_DATABASE_URL "${databaseUrl.split(":")[0]}:" is not supported; use sqlite:<path> or postgres://…`,
  );
}
