import { pino } from "pino";

/** Paths that may hold a secret; pino replaces them before anything is written. */
const REDACTED_PATHS = [
  "req.headers['api-token']",
  "req.headers.authorization",
  "headers['api-token']",
  "*.apiToken",
  "*.api_token",
  "*.signingKey",
  "*.token",
];

export type Logger = pino.Logger;

const LEVEL_NAMES: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO ",
  40: "WARN ",
  50: "ERROR",
  60: "FATAL",
};
/** Fields every line has, or that the pretty line shows in its own place. */
const SHOWN_APART = new Set(["level", "time", "msg", "service", "pid", "hostname", "err"]);

/**
 * One JSON record as a line for people: `12:00:01.234 INFO  POST /v1/events 202 … key=value`, with
 * an error's stack on the lines after it. Only for terminals: the JSON lines are what machines read.
 */
export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = new Date(Number(record.time)).toISOString().slice(11, 23);
  const level = LEVEL_NAMES[Number(record.level)] ?? String(record.level);
  let line = `${time} ${level} ${String(record.msg ?? "")}`;
  for (const [key, value] of Object.entries(record)) {
    if (SHOWN_APART.has(key) || value === undefined) continue;
    line += ` ${key}=${typeof value === "string" ? value : JSON.stringify(value)}`;
  }
  const err = record.err as { stack?: string; message?: string } | undefined;
  if (err) line += `\n    ${(err.stack ?? err.message ?? "").split("\n").join("\n    ")}`;
  return `${line}\n`;
}

/** A destination that turns each JSON record into a {@link prettyLine} on `out`. */
function prettyDestination(out: NodeJS.WritableStream): pino.DestinationStream {
  return {
    write(chunk: string) {
      for (const json of chunk.split("\n")) if (json !== "") out.write(prettyLine(json));
    },
  };
}

/**
 * Herald's logger, secrets redacted: JSON lines to stdout, or lines for people when `format` is
 * `pretty` (or `auto` and stdout is a terminal); or JSON to `destination` (tests capture it there).
 */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  format: "auto" | "json" | "pretty" = "json",
): Logger {
  const options = { level, base: { service: "herald" }, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } };
  if (destination) return pino(options, destination);
  const pretty = format === "pretty" || (format === "auto" && process.stdout.isTTY === true);
  return pretty ? pino(options, prettyDestination(process.stdout)) : pino(options);
}
