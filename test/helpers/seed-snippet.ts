import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const SCRIPT = join(import.meta.dirname, "../fixtures/sendbird_verify.py");
const scratch = mkdtempSync(join(tmpdir(), "seed-snippet-"));
let files = 0;

/**
 * Runs the seed's Python verification snippet on exactly these bytes; true when it accepts the
 * signature. Asynchronous on purpose: a synchronous child would freeze an in-process Herald.
 */
export async function seedSnippetAccepts(token: string, body: Buffer, signature: string): Promise<boolean> {
  const file = join(scratch, `body-${files++}`);
  writeFileSync(file, body);
  return promisify(execFile)("python3", [SCRIPT, token, file, signature]).then(
    () => true,
    () => false,
  );
}
