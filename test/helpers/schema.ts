import { MIGRATIONS, migrationSql } from "../../src/storage/migrations.js";
import { TEST_STORE, type TestDatabase, testDatabase } from "./herald.js";

/**
 * A fresh test database as a release that stopped at schema step `step` left it, with `rows` (SQL)
 * written after: what an upgrade starts from. Dropped by the caller.
 */
export async function databaseAtStep(step: number, rows: string, appliedAt = 0): Promise<TestDatabase> {
  const database = testDatabase();
  const steps = MIGRATIONS.filter((migration) => migration.version <= step);
  // The test's PostgreSQL schema is named in its search_path; the store creates it, but here nothing has yet.
  const ownSchema =
    TEST_STORE === "postgres"
      ? "DO $$ BEGIN EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', current_setting('search_path')); END $$;"
      : "";
  await database.exec(`${ownSchema}
    CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL);
    ${steps.map((migration) => migrationSql(migration, TEST_STORE)).join(";\n")};
    ${steps.map((m) => `INSERT INTO schema_migrations VALUES (${m.version}, '${m.name}', ${appliedAt})`).join(";\n")};
    ${rows}`);
  return database;
}
