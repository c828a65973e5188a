// Plain SQL on the test database, through a connection of its own: a check never depends on the
// store it is checking.
import Database from "better-sqlite3";
import pg from "pg";
import { TEST_STORE, type TestDatabase } from "./herald.js";

/** The rows of `sql` (`?` placeholders on both stores). */
export async function runSql(database: TestDatabase, sql: string, params: unknown[] = []) {
  if (TEST_STORE === "postgres") {
    let mark = 0;
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (
        await client.query(
          sql.replace(/\?/g, () => `$${++mark}`),
          params,
        )
      ).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  }
  const db = new Database(database.url.slice("sqlite:".length));
  try {
    const statement = db.prepare(sql);
    if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
    statement.run(...params);
    return [];
  } finally {
    db.close();
  }
}
