// The delivery log's queries read an index in order and stop at the page, for every combination of
// filters: EXPLAIN of the exact SQL the stores run (src/storage/log-query.ts), on a table big enough for
// the planner to care, on the store under test. No full scan of deliveries, and no sort above a scan
// unless a LIMIT sits between them (each merged range is cut at the page size before the sort), except
// for an event's handful of deliveries.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { type Bind, listDeliveriesSql, listEventsSql, typeEndpointsSql } from "../src/storage/log-query.js";
import { MIGRATIONS, migrationSql } from "../src/storage/migrations.js";
import { openStore } from "../src/storage/open-store.js";
import { pendingByEndpointSql, sampleQueueSql } from "../src/storage/queue-samples.js";
import type { DeliveryQuery, DeliveryState, EventQuery } from "../src/storage/records.js";
import { TEST_STORE, type TestDatabase, testDatabase } from "./helpers/herald.js";

const ROWS = 40_000;
const ENDPOINTS = ["E0", "E1", "E2", "E3"];

/** Every combination of the equality filters, each with and without a window and a cursor. */
function deliveryCombinations(): DeliveryQuery[] {
  const combos: DeliveryQuery[] = [];
  for (let mask = 0; mask < 16; mask++) {
    for (const windowed of [false, true]) {
      for (const paged of [false, true]) {
        const query: DeliveryQuery = { limit: 50 };
        if (mask & 1) query.endpointId = "E1";
        if (mask & 2) query.eventId = "e000123";
        if (mask & 4) query.type = "t1";
        if (mask & 8) query.state = "failed" as DeliveryState;
        if (windowed) Object.assign(query, { createdAfter: 1000, createdBefore: 30_000 });
        if (paged) query.before = { createdAt: 20_000, id: "d020000" };
        combos.push(query);
      }
    }
  }
  return combos;
}

/** The equality prefix the chosen index must be searched by. */
function expectedIndex(query: DeliveryQuery): { index: string; columns: string[] } {
  if (query.eventId !== undefined) return { index: "deliveries_by_event", columns: ["event_id"] };
  if (query.type !== undefined) {
    return { index: "deliveries_by_type", columns: ["app_id", "type", "endpoint_id", "state"] };
  }
  if (query.endpointId !== undefined) {
    return { index: "deliveries_by_endpoint", columns: ["app_id", "endpoint_id", "state"] };
  }
  return { index: "deliveries_by_app", columns: ["app_id", "state"] };
}

interface Explainer {
  /** Problems with the plan of a delivery listing; empty when it reads the expected index in order. */
  deliveryPlan(query: DeliveryQuery, typeEndpoints: string[]): Promise<string[]>;
  eventPlan(query: EventQuery): Promise<string[]>;
  /** The loose index scan finding the endpoints of a type. */
  typeEndpointsPlan(): Promise<string[]>;
  /** The queue sample: only the pending deliveries, read off the partial index deliveries_due. */
  queueSamplePlan(): Promise<string[]>;
  close(): Promise<void>;
}

const named = (): { bind: Bind; params: Record<string, unknown> } => {
  const params: Record<string, unknown> = {};
  let n = 0;
  return {
    params,
    bind: (value) => {
      n += 1;
      params[`p${n}`] = value;
      return `@p${n}`;
    },
  };
};

async function sqliteExplainer(database: TestDatabase): Promise<Explainer> {
  const db = new Database(database.url.slice("sqlite:".length));
  db.exec("INSERT INTO apps (id, name, signing_key, created_at) VALUES ('A', 'a', 'k', 0), ('B', 'b', 'k', 0)");
  db.exec(`
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS - 1})
    INSERT INTO deliveries (id, app_id, event_id, endpoint_id, type, row_body, state, attempts, max_attempts,
      next_attempt_at, created_at, updated_at)
    SELECT printf('d%06d', i), CASE WHEN i % 10 = 9 THEN 'B' ELSE 'A' END, printf('e%06d', i / 2), 'E' || (i % 4),
      't' || (i % 5), 'b', CASE i % 10 WHEN 0 THEN 'pending' WHEN 1 THEN 'failed' ELSE 'succeeded' END, 1, 3, i, i, i
    FROM n;
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS / 2 - 1})
    INSERT INTO events (id, app_id, type, payload, created_at)
    SELECT printf('e%06d', i), 'A', 't' || (i % 5), '{}', i * 2 FROM n;
    ANALYZE;`);
  const plan = (sql: string, params: Record<string, unknown> | unknown[]) =>
    db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { id: number; parent: number; detail: string }[];
  /** No table scan; a top-level sort only where allowed; every search by the expected prefix. */
  const check = (rows: { parent: number; detail: string }[], table: string, prefix: string | null, sortOk: boolean) => {
    const problems: string[] = [];
    const text = rows.map((row) => row.detail).join(" | ");
    for (const row of rows) {
      if (new RegExp(`^SCAN ${table}\\b`).test(row.detail)) problems.push(`full scan: ${text}`);
      if (row.detail.startsWith(`SEARCH ${table} `) && prefix && !row.detail.includes(prefix)) {
        problems.push(`not searched by (${prefix}): ${text}`);
      }
      // Below the top level, a temp b-tree orders a merged range's few rows (cut at the page size).
      if (row.detail.startsWith("USE TEMP B-TREE") && row.parent === 0 && !sortOk) problems.push(`sorted: ${text}`);
    }
    if (!rows.some((row) => row.detail.startsWith(`SEARCH ${table} `))) problems.push(`no index search: ${text}`);
    return problems;
  };
  return {
    async deliveryPlan(query, typeEndpoints) {
      const { bind, params } = named();
      const sql = listDeliveriesSql("sqlite", "A", query, bind, typeEndpoints);
      const { index, columns } = expectedIndex(query);
      const prefix = `USING INDEX ${index} (${columns.map((c) => `${c}=?`).join(" AND ")}`;
      return check(plan(sql, params), "deliveries", prefix, query.eventId !== undefined);
    },
    async eventPlan(query) {
      const { bind, params } = named();
      const index = query.type ? "events_by_type (app_id=? AND type=?" : "events_by_app (app_id=?";
      return check(plan(listEventsSql("sqlite", "A", query, bind), params), "events", index, false);
    },
    async typeEndpointsPlan() {
      const rows = plan(typeEndpointsSql("sqlite", ["?", "?", "?", "?"]), ["A", "t1", "A", "t1"]);
      return check(rows, "deliveries", "INDEX deliveries_by_type (app_id=? AND type=?", false);
    },
    async queueSamplePlan() {
      // Also without ANALYZE, as Herald runs: then SQLite would rather walk deliveries_by_endpoint whole.
      const bare = new Database(":memory:");
      for (const migration of MIGRATIONS) bare.exec(migrationSql(migration, "sqlite"));
      // SQLite counts on its checkpoint thread, then inserts what that read returned.
      const sql = `EXPLAIN QUERY PLAN ${pendingByEndpointSql("sqlite")}`;
      const plans = [plan(pendingByEndpointSql("sqlite"), []), bare.prepare(sql).all() as { detail: string }[]];
      bare.close();
      // Scanning deliveries_due whole is the point: it holds the pending deliveries only.
      return plans.flatMap((rows) => {
        const reads = rows.filter((row) => / deliveries\b/.test(row.detail));
        const ok = reads.length === 1 && reads[0]!.detail === "SCAN deliveries USING INDEX deliveries_due";
        return ok ? [] : [rows.map((row) => row.detail).join(" | ")];
      });
    },
    async close() {
      db.close();
    },
  };
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Index Cond"?: string;
  Plans?: PlanNode[];
}

async function postgresExplainer(database: TestDatabase): Promise<Explainer> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query(
    "INSERT INTO apps (id, name, signing_key, created_at) VALUES ('A', 'a', 'k', 0), ('B', 'b', 'k', 0)",
  );
  await client.query(`
    INSERT INTO deliveries (id, app_id, event_id, endpoint_id, type, row_body, state, attempts, max_attempts,
      next_attempt_at, created_at, updated_at)
    SELECT 'd' || lpad(i::text, 6, '0'), CASE WHEN i % 10 = 9 THEN 'B' ELSE 'A' END,
      'e' || lpad((i / 2)::text, 6, '0'), 'E' || (i % 4), 't' || (i % 5), 'b',
      CASE i % 10 WHEN 0 THEN 'pending' WHEN 1 THEN 'failed' ELSE 'succeeded' END, 1, 3, i, i, i
    FROM generate_series(0, ${ROWS - 1}) AS i`);
  await client.query(`
    INSERT INTO events (id, app_id, type, payload, created_at)
    SELECT 'e' || lpad(i::text, 6, '0'), 'A', 't' || (i % 5), '{}', i * 2 FROM generate_series(0, ${ROWS / 2 - 1}) AS i`);
  await client.query("ANALYZE deliveries; ANALYZE events");
  const explain = async (sql: string, params: unknown[]): Promise<PlanNode> => {
    const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${sql}`, params);
    return rows[0]["QUERY PLAN"][0].Plan as PlanNode;
  };
  const positional = () => {
    const params: unknown[] = [];
    return {
      params,
      bind: (value: unknown) => {
        params.push(value);
        return `$${params.length}`;
      },
    };
  };
  /** Walks the plan: scans of `table` use an index; no sort sits above one without a LIMIT between. */
  const check = (root: PlanNode, table: string, index: RegExp, sortOk: boolean): string[] => {
    const problems: string[] = [];
    let searched = false;
    const walk = (node: PlanNode, sortAbove: boolean) => {
      const type = node["Node Type"];
      if (node["Relation Name"] === table) {
        if (type === "Seq Scan") problems.push(`full scan of ${table}`);
        if (sortAbove && !sortOk) problems.push(`sort above the scan of ${node["Index Name"] ?? table}`);
      }
      if (node["Index Name"] !== undefined && index.test(node["Index Name"])) searched = true;
      if (node["Index Name"] !== undefined && !index.test(node["Index Name"])) {
        problems.push(`index ${node["Index Name"]} instead of ${index}`);
      }
      const nextSort = type === "Limit" ? false : sortAbove || type === "Sort" || type === "Incremental Sort";
      for (const child of node.Plans ?? []) walk(child, nextSort);
    };
    walk(root, false);
    if (!searched) problems.push(`no ${index} search`);
    return problems.length ? [...problems, JSON.stringify(root)] : [];
  };
  return {
    async deliveryPlan(query, typeEndpoints) {
      const { bind, params } = positional();
      const sql = listDeliveriesSql("postgres", "A", query, bind, typeEndpoints);
      const { index } = expectedIndex(query);
      return check(await explain(sql, params), "deliveries", new RegExp(`^${index}$`), query.eventId !== undefined);
    },
    async eventPlan(query) {
      const { bind, params } = positional();
      const index = query.type ? /^events_by_type$/ : /^events_by_app$/;
      return check(await explain(listEventsSql("postgres", "A", query, bind), params), "events", index, false);
    },
    async typeEndpointsPlan() {
      const root = await explain(typeEndpointsSql("postgres", ["$1", "$2", "$1", "$2"]), ["A", "t1"]);
      return check(root, "deliveries", /^deliveries_by_type$/, false);
    },
    async queueSamplePlan() {
      return check(
        await explain(sampleQueueSql("postgres", "$1::bigint"), [1]),
        "deliveries",
        /^deliveries_due$/,
        true,
      );
    },
    async close() {
      await client.end();
    },
  };
}

describe(`the delivery log's query plans (${TEST_STORE})`, () => {
  let database: TestDatabase;
  let explainer: Explainer;
  before(async () => {
    database = testDatabase();
    const store = openStore(database.url, { sqliteSynchronous: "normal", databasePoolSize: 2 });
    await store.migrate();
    await store.close();
    explainer = TEST_STORE === "postgres" ? await postgresExplainer(database) : await sqliteExplainer(database);
  });
  after(async () => {
    await explainer.close();
    await database.drop();
  });

  it("reads every combination of endpoint, event, type, status, window and cursor off an index, in order", async () => {
    const combos = deliveryCombinations();
    assert.equal(combos.length, 64);
    const failures: string[] = [];
    for (const query of combos) {
      // A type without an endpoint merges one range per endpoint of that type (found by typeEndpointsPlan).
      const problems = await explainer.deliveryPlan(query, ENDPOINTS);
      if (problems.length) failures.push(`${JSON.stringify(query)}: ${problems.join("; ")}`);
    }
    assert.deepEqual(failures, []);
  });

  it("finds the endpoints of a type with index probes", async () => {
    assert.deepEqual(await explainer.typeEndpointsPlan(), []);
  });

  it("samples the queue from the pending deliveries alone, off the partial index", async () => {
    assert.deepEqual(await explainer.queueSamplePlan(), []);
  });

  it("reads events by type, window and cursor off an index, in order", async () => {
    const failures: string[] = [];
    for (const type of [undefined, "t1"]) {
      for (const window of [{}, { createdAfter: 1000, createdBefore: 30_000 }]) {
        for (const page of [{}, { before: { createdAt: 20_000, id: "e010000" } }]) {
          const query: EventQuery = { limit: 50, ...(type ? { type } : {}), ...window, ...page };
          const problems = await explainer.eventPlan(query);
          if (problems.length) failures.push(`${JSON.stringify(query)}: ${problems.join("; ")}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });
});
