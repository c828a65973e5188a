// Runs every *.test.ts under test/ and packages/*/test with node's test runner (Node 20 does not
// expand globs itself). Files run in parallel; each starts its own Herald on its own temp database.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

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

const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=3", "--test-timeout=120000", ...selected.sort()],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
