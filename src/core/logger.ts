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

/** Herald's logger: JSON lines to stdout, or to `destination` (tests capture it there), secrets redacted. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, base: { service: "herald" }, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } };
  return destination ? pino(options, destination) : pino(options);
}
