import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Herald's version from its package.json, found by walking up from this module: it sits one level
 * up from `src/cli` and two from a `dist/cli` build.
 */
export function heraldVersion(from: string = import.meta.dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "herald" && pkg.version) return pkg.version;
    } catch {}
    if (dirname(dir) === dir) return "unknown";
  }
}
