import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SCRIPT = join(import.meta.dirname, "../fixtures/sendbird_verify.py");
/** The fixture's exit code when the snippet ran and its assert found the signature wrong. */
const MISMATCH = 3;
/** It answers in about 30 ms; far past that, it is stuck. */
const SNIPPET_TIMEOUT_MS = 30_000;
const scratch = mkdtempSync(join(tmpdir(), "seed-snippet-"));
let files = 0;

/**
 * Runs the seed's Python verification snippet on exactly these bytes: true when it accepts the
 * signature, false when it ran and said the signature does not match. Anything else (python
 * missing, a crash, a syntax error, an unreadable body file) throws: a snippet that did not run
 * has refused nothing. Asynchronous on purpose: a synchronous child would freeze an in-process Herald.
 */
export async function seedSnippetAccepts(token: string, body: Buffer, signature: string): Promise<boolean> {
  const file = join(scratch, `body-${files++}`);
  writeFileSync(file, body);
  // -E: no PYTHON* variables from the environment (PYTHONOPTIMIZE would strip the snippet's assert).
  const args = ["-E", SCRIPT, token, file, signature];
  // A run that hangs (python3 is a pyenv shim here, several processes deep) is tried once more, then fails.
  for (let tries = 1; ; tries++) {
    try {
      return await verdict(args);
    } catch (error) {
      if (!(error instanceof SnippetTimeout) || tries === 2) throw error;
    }
  }
}

class SnippetTimeout extends Error {}

function verdict(args: string[]): Promise<boolean> {
  return new Promise((resolve, reject) => {
    execFile("python3", args, { timeout: SNIPPET_TIMEOUT_MS, killSignal: "SIGKILL" }, (error, stdout, stderr) => {
      const said = stdout.trim();
      if (!error && said === "verified") return resolve(true);
      if (error?.code === MISMATCH && said === "signature mismatch") return resolve(false);
      if (error?.killed) return reject(new SnippetTimeout(`python3 gave no verdict in ${SNIPPET_TIMEOUT_MS} ms`));
      const how = error ? `failed (${error.code ?? error.signal ?? error.message})` : `exited 0 saying "${said}"`;
      reject(new Error(`the seed's snippet did not run to a verdict: python3 ${how}\n${stderr}`));
    });
  });
}
