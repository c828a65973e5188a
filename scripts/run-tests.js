// Runs every *.test.ts under test/ and packages/*/test with node's test runner (Node 20 does not
// expand globs itself), once per store: SQLite, then PostgreSQL (HERALD_TEST_POSTGRES_URL, default
// the local server's `test` database). HERALD_TEST_STORE=sqlite|postgres runs one pass only.
// Files run in parallel; each test starts its own Herald on its own database (a temp file or a schema).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";

const roots = ["test", ...readdirSync("packages").map((name) => join("packages", name, "test"))];
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith(".test.ts")) files.push(path);
  }
};
for (const root of roots) if (existsSync(root)) walk(root);
const only = process.argv.slice(2);
const selected = only.length > 0 ? files.filter((file) => only.some((part) => file.includes(part))) : files;

/** Schemas left behind by an earlier run that was killed: older than two hours (the creation second is in
 * the name), so that a run beside this one keeps its own. */
async function dropStaleSchemas() {
  const client = new pg.Client({
    connectionString: process.env.HERALD_TEST_POSTGRES_URL ?? "postgres://root@127.0.0.1:5432/test",
  });
  await client.connect();
  const { rows } = await client.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'herald_t_%'");
  const staleBefore = Date.now() / 1000 - 2 * 3600;
  for (const { nspname } of rows) {
    const created = Number(/^herald_t_(\d+)_/.exec(nspname)?.[1] ?? 0);
    if (created < staleBefore) await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
  }
  await client.end();
}

// Tests run bin/herald.js and bin/herald-receiver.js, which run the compiled dist/, and import @herald/signing
// from its dist/: build first (incremental; well under a second when nothing changed). tsc emits even when
// it reports type errors, so the tests still run then (`npm test` has stopped at the build already).
if (spawnSync("npm", ["run", "build", "--silent"], { stdio: "inherit" }).status !== 0) {
  console.log("# the build reported errors (above); the tests run on what it emitted");
}

/** Tests of Herald's clients (the CLI, the dashboard in Chromium): see below. */
const CLIENT_TESTS = /(^|\/)(cli[^/]*|dashboard)\.test\.ts$/;
const stores = process.env.HERALD_TEST_STORE ? [process.env.HERALD_TEST_STORE] : ["sqlite", "postgres"];
let status = 0;
for (const store of stores) {
  console.log(`\n# store: ${store}`);
  if (store === "postgres") await dropStaleSchemas();
  // *.postgres.test.ts exercise what only the PostgreSQL store does (NOTIFY, several processes on one database).
  // The CLI's and the dashboard's own tests drive Herald as clients of its HTTP API, which the other files
  // test on both stores: they run in the first pass only (a third of the PostgreSQL pass's time otherwise).
  const files = selected
    .filter((file) => store === "postgres" || !file.endsWith(".postgres.test.ts"))
    .filter((file) => store === stores[0] || !CLIENT_TESTS.test(file))
    .sort();
  const result = spawnSync(
    process.execPath,
    // A guard against a hung test, not a speed check: a file of long tests on a loaded 2-core machine needs minutes.
    ["--import", "tsx", "--test", "--test-concurrency=3", "--test-timeout=240000", ...files],
    { stdio: "inherit", env: { ...process.env, HERALD_TEST_STORE: store } },
  );
  status ||= result.status ?? 1;
}
process.exit(status);
