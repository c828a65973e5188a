#!/usr/bin/env node
// Runs the compiled CLI: dist/ is built by `npm run build`, which `npm install`, `npm start` and `npm test` run.
import { existsSync } from "node:fs";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  console.error("herald: dist/ is missing; run `npm run build` (or `npm install`) first");
  process.exit(1);
}
await import(main.href);
