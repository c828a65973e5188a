#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by the package's `npm run build`; published packages include it).
import { existsSync } from "node:fs";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  console.error("herald-receiver: dist/ is missing; run `npm run build` first");
  process.exit(1);
}
await import(main.href);
