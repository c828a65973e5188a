import { HeraldError } from "../core/errors.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

/** Opens the store a database URL names: `sqlite:<path>` (or `sqlite::memory:`). */
export function openStore(databaseUrl: string, options: { sqliteSynchronous: "full" | "normal" }): Store {
  if (databaseUrl.startsWith("sqlite:")) {
    const path = databaseUrl.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    return new SqliteStore({ path: path || "./data/herald.db", synchronous: options.sqliteSynchronous });
  }
  throw new HeraldError(
    "invalid_value",
    `HERALD_DATABASE_URL "${databaseUrl.split(":")[0]}:" is not supported; use sqlite:<path>.`,
  );
}
