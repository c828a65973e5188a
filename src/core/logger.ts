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

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "herald" }, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } });
}
