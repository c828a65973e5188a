// What tests read back from Herald below fetch: its log lines, and answers to paths sent as written.
import { request } from "node:http";
import { Writable } from "node:stream";
import { createLogger } from "../../src/core/logger.js";

/** Herald's log as JSON lines, at `level` and above, to tell what it logged at which level. */
export function capturedLogger(level: "trace" | "info" = "trace") {
  let text = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += chunk;
      done();
    },
  });
  return {
    logger: createLogger(level, sink),
    text: () => text,
    lines: () =>
      text
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, any>),
  };
}

/**
 * A GET that sends the path exactly as written (fetch would resolve `..` and `%2e%2e` first) and reads
 * the body undecoded (fetch would gunzip it).
 */
export function rawGet(
  base: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: hostname, port, path, method: "GET", headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }),
      );
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}
