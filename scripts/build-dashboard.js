// Builds the web dashboard (dashboard/, Vite) into dist/dashboard-ui, which Herald serves at /dashboard.
// Part of `npm run build`, so `npm install`/`npm ci` and `npm start` build it; skipped when nothing under
// dashboard/ changed since the last build (tests run `npm run build` before every run).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const SOURCE = "dashboard";
const BUILT = join("dist", "dashboard-ui", "index.html");

const newestUnder = (dir) => {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestUnder(path) : stat.mtimeMs);
  }
  return newest;
};

const inputs = Math.max(newestUnder(SOURCE), statSync("package-lock.json").mtimeMs);
if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= inputs && !process.argv.includes("--force")) process.exit(0);
const result = spawnSync(
  process.execPath,
  ["node_modules/vite/bin/vite.js", "build", "--config", join(SOURCE, "vite.config.mjs")],
  {
    stdio: "inherit",
  },
);
process.exit(result.status ?? 1);
