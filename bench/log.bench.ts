// The delivery log suite: one app with 300,000 deliveries (and an attempt each) beside two noise apps of
// 50,000, on SQLite and on PostgreSQL; every filter of GET /v1/deliveries (and /v1/events) timed over
// HTTP on loopback, median of N, against the 10 ms aim. Herald runs in this process with the API role
// only, so no worker touches the pending ones while they are listed. Bounded: seeding is SQL-side.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { createHerald, type Herald } from "../src/index.js";
import { median, percentile } from "./harness.js";
import { POSTGRES_URL } from "./options.js";

const MAIN = 300_000;
const NOISE = 50_000;
const RUNS = 15;
const AIM_MS = 10;
const ENDPOINTS = 4;
const TYPES = 18;
/** One delivery every 2 s: the main app's log spans about a week. */
const SPACING_MS = 2000;

/**
 * The rows of one app, as SQL over a series `i` (0 … count-1): endpoint i % 4, where endpoint 3 is dead
 * (90% failed); 2% pending and 4% failed elsewhere; one type in 10,000 rare; two deliveries per event.
 */
const rowsSql = (app: string, count: number, now: number, series: { text: (expr: string) => string; mod: string }) => {
  const t = series.text;
  return {
    events: `SELECT 'evt_${app}_' || ${t("i")}, '${app}',
        CASE WHEN i % 5000 = 0 THEN 'rare:type' ELSE 'type:' || ${t(`(i * 7) ${series.mod} ${TYPES}`)} END,
        '{"category":"group_channel:message_send","payload":{"message_id":1,"text":"hello there"}}',
        ${now} - (${count} - 2 * i) * ${SPACING_MS}`,
    deliveries: `SELECT 'dlv_${app}_' || ${t("i")} || '_0190a1b2c3d4e5f6', '${app}', 'evt_${app}_' || ${t("i / 2")},
        'ep_${app}_' || ${t(`i ${series.mod} ${ENDPOINTS}`)},
        CASE WHEN (i / 2) % 5000 = 0 THEN 'rare:type' ELSE 'type:' || ${t(`((i / 2) * 7) ${series.mod} ${TYPES}`)} END,
        '{"category":"group_channel:message_send","payload":{"message_id":1,"text":"hello there"},"app_id":"x"}',
        CASE WHEN i ${series.mod} ${ENDPOINTS} = 3 AND i % 10 <> 0 THEN 'failed'
             WHEN i % 50 = 0 THEN 'pending' WHEN i % 25 = 1 THEN 'failed' ELSE 'succeeded' END,
        1, 3, ${now} + 3600000, ${now} - (${count} - i) * ${SPACING_MS}, ${now} - (${count} - i) * ${SPACING_MS}`,
    attempts: `SELECT 'dlv_${app}_' || ${t("i")} || '_0190a1b2c3d4e5f6', 1, ${now} - (${count} - i) * ${SPACING_MS}, 120,
        200, NULL, 'ok', NULL, '{"content-type":"application/json","x-sendbird-signature":"[redacted]"}',
        '{"content-type":"text/plain"}'`,
  };
};

const DELIVERY_COLUMNS = `id, app_id, event_id, endpoint_id, type, body, state, attempts, max_attempts,
  next_attempt_at, created_at, updated_at`;
const ATTEMPT_COLUMNS = `delivery_id, attempt, started_at, duration_ms, status_code, error, response_body,
  error_class, request_headers, response_headers`;

export async function seedSqlite(path: string, apps: [string, number][], now: number) {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  const series = { text: (expr: string) => `CAST(${expr} AS TEXT)`, mod: "%" };
  for (const [app, count] of apps) {
    const rows = rowsSql(app, count, now, series);
    const n = `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${count - 1})`;
    db.exec(
      `${n} INSERT INTO events (id, app_id, type, payload, created_at) ${rows.events} FROM n WHERE i < ${count / 2}`,
    );
    db.exec(`${n} INSERT INTO deliveries (${DELIVERY_COLUMNS}) ${rows.deliveries} FROM n`);
    db.exec(`${n} INSERT INTO attempts (${ATTEMPT_COLUMNS}) ${rows.attempts} FROM n`);
  }
  db.close();
}

export async function seedPostgres(url: string, apps: [string, number][], now: number) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const series = { text: (expr: string) => `(${expr})::text`, mod: "%" };
  for (const [app, count] of apps) {
    const rows = rowsSql(app, count, now, series);
    await client.query(`INSERT INTO events (id, app_id, type, payload, created_at)
      ${rows.events} FROM generate_series(0, ${count / 2 - 1}) AS i`);
    await client.query(
      `INSERT INTO deliveries (${DELIVERY_COLUMNS}) ${rows.deliveries} FROM generate_series(0, ${count - 1}) AS i`,
    );
    await client.query(
      `INSERT INTO attempts (${ATTEMPT_COLUMNS}) ${rows.attempts} FROM generate_series(0, ${count - 1}) AS i`,
    );
  }
  // What autovacuum does after a bulk load; Herald's own writes trickle in and it keeps up.
  await client.query("ANALYZE");
  await client.end();
}

/** The listings timed: every filter alone, the combinations, windows, a deep page, and empty answers. */
function listings(app: string, now: number): [string, string][] {
  const hourAgo = new Date(now - 3_600_000).toISOString();
  const dayAgo = new Date(now - 86_400_000).toISOString();
  const threeDaysAgo = new Date(now - 3 * 86_400_000).toISOString();
  const ep = `ep_${app}_1`;
  const dead = `ep_${app}_3`;
  return [
    ["no filter", ""],
    ["status=pending", "status=pending"],
    ["status=failed (dead letters)", "status=failed"],
    ["status=succeeded", "status=succeeded"],
    ["endpoint", `endpoint_id=${ep}`],
    ["dead endpoint, status=succeeded", `endpoint_id=${dead}&status=succeeded`],
    ["endpoint + status=pending", `endpoint_id=${ep}&status=pending`],
    ["type", "type=type:3"],
    ["rare type", "type=rare:type"],
    ["type + status=failed", "type=type:3&status=failed"],
    ["endpoint + type", `endpoint_id=${ep}&type=type:3`],
    ["endpoint + rare type + status", `endpoint_id=${ep}&type=rare:type&status=succeeded`],
    ["event", `event_id=evt_${app}_4242`],
    ["event + endpoint + status", `event_id=evt_${app}_4242&endpoint_id=ep_${app}_0&status=pending`],
    ["window: last hour", `created_after=${hourAgo}`],
    ["window: 3 days ago to 1 day ago", `created_after=${threeDaysAgo}&created_before=${dayAgo}`],
    ["window + status=pending", `created_after=${threeDaysAgo}&created_before=${dayAgo}&status=pending`],
    ["window + type + endpoint + status", `created_after=${threeDaysAgo}&type=type:5&endpoint_id=${ep}&status=failed`],
    ["another app's endpoint (empty)", "endpoint_id=ep_noise1_1"],
    ["unknown type (empty)", "type=nope:nope"],
    ["limit=500", "limit=500"],
  ];
}

async function time(url: string, path: string, token: string): Promise<{ ms: number[]; count: number }> {
  const ms: number[] = [];
  let count = 0;
  for (let run = -2; run < RUNS; run++) {
    const started = performance.now();
    const response = await fetch(`${url}${path}`, { headers: { "api-token": token } });
    const body = (await response.json()) as { deliveries?: unknown[]; events?: unknown[]; next_cursor?: string };
    if (response.status !== 200) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
    if (run >= 0) ms.push(performance.now() - started);
    count = (body.deliveries ?? body.events ?? []).length;
  }
  return { ms, count };
}

async function benchStore(store: "sqlite" | "postgres"): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), "herald-log-bench-"));
  const schema = `herald_bench_log_${randomBytes(4).toString("hex")}`;
  const databaseUrl =
    store === "sqlite"
      ? `sqlite:${join(dir, "herald.db")}`
      : `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const started = Date.now();
  let herald: Herald | undefined = await createHerald({
    env: {},
    databaseUrl,
    role: "api",
    host: "127.0.0.1",
    port: 0,
    logLevel: "warn",
    retentionDays: 0,
  });
  const { app, apiToken } = await herald.apps.create("log bench");
  const noise = [await herald.apps.create("noise 1"), await herald.apps.create("noise 2")];
  await herald.close();
  herald = undefined;
  const now = Date.now();
  // Ids in the rows are derived from these names; the main app's real id is patched in below.
  const apps: [string, number][] = [
    ["main", MAIN],
    ["noise1", NOISE],
    ["noise2", NOISE],
  ];
  if (store === "sqlite") await seedSqlite(databaseUrl.slice("sqlite:".length), apps, now);
  else await seedPostgres(databaseUrl, apps, now);
  // The rows were written under short names; give them the apps' real ids.
  const rename = [
    ["main", app.id],
    ["noise1", noise[0]!.app.id],
    ["noise2", noise[1]!.app.id],
  ];
  if (store === "sqlite") {
    const db = new Database(databaseUrl.slice("sqlite:".length));
    for (const [from, to] of rename) {
      db.prepare("UPDATE deliveries SET app_id = ? WHERE app_id = ?").run(to, from);
      db.prepare("UPDATE events SET app_id = ? WHERE app_id = ?").run(to, from);
    }
    db.close();
  } else {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    for (const [from, to] of rename) {
      await client.query("UPDATE deliveries SET app_id = $1 WHERE app_id = $2", [to, from]);
      await client.query("UPDATE events SET app_id = $1 WHERE app_id = $2", [to, from]);
    }
    await client.query("VACUUM ANALYZE deliveries");
    await client.query("VACUUM ANALYZE events");
    await client.end();
  }
  const seededIn = ((Date.now() - started) / 1000).toFixed(1);

  herald = await createHerald({
    env: {},
    databaseUrl,
    role: "api",
    host: "127.0.0.1",
    port: 0,
    logLevel: "warn",
    retentionDays: 0,
  });
  const url = await herald.listen();
  // A deep page: the cursor of page 2,000 of the unfiltered log.
  const deep = (await (
    await fetch(`${url}/v1/deliveries?limit=500`, { headers: { "api-token": apiToken } })
  ).json()) as { next_cursor: string };
  const cases: [string, string][] = [
    ...listings("main", now).map(([name, query]) => [name, `/v1/deliveries?${query}`] as [string, string]),
    ["next page (cursor)", `/v1/deliveries?cursor=${deep.next_cursor}`],
    ["events: no filter", "/v1/events"],
    ["events: type + window", `/v1/events?type=type:3&created_after=${new Date(now - 86_400_000).toISOString()}`],
  ];
  console.log(
    `\n## ${store}: ${MAIN.toLocaleString("en")} deliveries in one app, ${(2 * NOISE).toLocaleString("en")} in two others (seeded in ${seededIn} s)`,
  );
  console.log(`| listing | rows | median ms | p90 ms | under ${AIM_MS} ms |`);
  console.log("|---|---:|---:|---:|:---:|");
  let allUnder = true;
  for (const [name, path] of cases) {
    const { ms, count } = await time(url, path, apiToken);
    const mid = median(ms);
    const under = mid < AIM_MS;
    allUnder &&= under;
    console.log(
      `| ${name} | ${count} | ${mid.toFixed(2)} | ${percentile(ms, 90).toFixed(2)} | ${under ? "yes" : "NO"} |`,
    );
  }
  await herald.close();
  if (store === "sqlite") rmSync(dir, { recursive: true, force: true });
  else {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
  return allUnder;
}

export async function logBench(): Promise<void> {
  console.log(`# Delivery log: GET /v1/deliveries by every filter, median of ${RUNS} (limit 50 unless said)`);
  const results = [];
  for (const store of ["sqlite", "postgres"] as const) results.push(await benchStore(store));
  console.log(`\nEvery listing under ${AIM_MS} ms (median): ${results.every(Boolean) ? "yes" : "no"}`);
}
