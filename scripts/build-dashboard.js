// Builds the web dashboard (dashboard/, Vite) into dist/dashboard-ui, which Herald serves at /dashboard.
// Part of `npm run build`, so `npm install`/`npm ci` and `npm start` build it; skipped when nothing under
// dashboard/ changed since the last build (tests run `npm run build` before every run).
// Each file is also written gzipped (.gz) and in brotli (.br) beside itself: Herald serves those to
// clients that accept them (@fastify/static's preCompressed), without compressing on every request.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const SOURCE = "dashboard";
const OUTPUT = join("dist", "dashboard-ui");
const BUILT = join(OUTPUT, "index.html");
const COMPRESSED = [".gz", ".br"];

const filesUnder = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });

/** Writes the .gz and .br of every built file that lacks them (after a build, every file). */
function compressAll() {
  for (const path of filesUnder(OUTPUT)) {
    if (COMPRESSED.some((suffix) => path.endsWith(suffix))) continue;
    const bytes = readFileSync(path);
    if (!existsSync(`${path}.gz`)) writeFileSync(`${path}.gz`, gzipSync(bytes, { level: 9 }));
    if (!existsSync(`${path}.br`)) {
      const params = { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length };
      writeFileSync(`${path}.br`, brotliCompressSync(bytes, { params }));
    }
  }
}

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
if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= inputs && !process.argv.includes("--force")) {
  compressAll();
  process.exit(0);
}
const result = spawnSync(
  process.execPath,
  ["node_modules/vite/bin/vite.js", "build", "--config", join(SOURCE, "vite.config.mjs")],
  {
    stdio: "inherit",
  },
);
// Vite empties the output directory first: every file is new, and compressed afresh.
if (result.status === 0) compressAll();
process.exit(result.status ?? 1);
