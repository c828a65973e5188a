import type { FastifyError, FastifyInstance, FastifyRequest } from "fastify";
import { errorFromFramework, HeraldError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";

// The database is busy, full, read-only, restarting or unreachable: the request can be retried
// later, unchanged. SQLite result codes; PostgreSQL SQLSTATEs (connection exceptions 08xxx, lock
// timeout 55P03, shutdown 57P0x, out of resources 53xxx); socket errors from the pg driver.
const UNAVAILABLE_CODES =
  /^(SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY)|08...|55P03|57P0[1-3]|53...|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE)$|^SQLITE_(BUSY|IOERR)_/;
const isStorageUnavailable = (error: { code?: string; message?: string }) =>
  (typeof error.code === "string" && UNAVAILABLE_CODES.test(error.code)) ||
  /^Connection terminated/.test(error.message ?? "");

// A row this request adds names one (an app, an endpoint) deleted while the request ran.
const FOREIGN_KEY_VIOLATIONS = new Set(["23503", "SQLITE_CONSTRAINT_FOREIGNKEY"]);

/**
 * The client went away (closed the connection, or was cut off by the request timeout) before its
 * request was complete: nothing to answer, and nothing wrong on Herald's side. Reading the body then
 * fails with ECONNRESET, which must not pass for a database's.
 */
const clientAborted = (request: FastifyRequest): boolean =>
  request.raw.readableAborted || request.raw.socket?.destroyed === true;

/** How long an answered request's unread body may go on arriving before its connection is cut. */
const UNREAD_BODY_LINGER_MS = 1000;

/**
 * An answer given before the request's body has all arrived (401 from the authentication step, 404,
 * 413): Node reads and drops the rest to keep the connection alive, so a caller without credentials
 * could still send gigabytes. A body that has not ended a second later is cut off with its
 * connection. Not at once: closing a socket with data still coming resets it, and the client may
 * then lose the answer it has not read yet.
 */
function cutOffUnreadBody(request: FastifyRequest): void {
  const incoming = request.raw;
  if (incoming.complete) return;
  const timer = setTimeout(() => {
    if (!incoming.complete) incoming.socket.destroy();
  }, UNREAD_BODY_LINGER_MS);
  timer.unref();
  incoming.once("end", () => clearTimeout(timer));
}

/** How much of a path an error message echoes: enough to recognise it, not a 16 KiB URL sent back. */
const ECHOED_PATH_CHARS = 200;
const shortened = (path: string): string =>
  path.length > ECHOED_PATH_CHARS ? `${path.slice(0, ECHOED_PATH_CHARS)}…` : path;

/** How one API writes an error: its status code and its body. */
export type ErrorFormatter = (error: HeraldError, request?: FastifyRequest) => { status: number; body: unknown };

/**
 * Makes every error under a plugin, including Fastify's own (bad JSON, body too large) and unknown
 * routes, come out in that API's format. Anything unexpected is logged and answered opaquely.
 */
export function useErrorFormat(instance: FastifyInstance, format: ErrorFormatter, logger: Logger): void {
  instance.setErrorHandler((raw: FastifyError, request, reply) => {
    let error: HeraldError;
    if (clientAborted(request) && !(raw instanceof HeraldError)) {
      logger.info({ method: request.method, route: request.routeOptions.url }, "client aborted the request");
      // The socket is gone; answering only completes Fastify's bookkeeping.
      error = new HeraldError("malformed_json", "The request was aborted before it was complete.");
    } else if (raw instanceof HeraldError) {
      error = raw;
    } else if (typeof raw.code === "string" && raw.code.startsWith("FST_")) {
      error = errorFromFramework(raw);
    } else if (FOREIGN_KEY_VIOLATIONS.has(String(raw.code))) {
      logger.info(
        { method: request.method, route: request.routeOptions.url },
        "what the request writes to was deleted",
      );
      error = new HeraldError(
        "not_found",
        "What this request writes to (its app or endpoint) was deleted while it ran; nothing was stored.",
      );
    } else if (isStorageUnavailable(raw)) {
      logger.error({ err: raw, method: request.method, route: request.routeOptions.url }, "storage unavailable");
      error = new HeraldError("unavailable", "Storage is unavailable; nothing was changed. Try again shortly.");
    } else {
      // The route pattern, not the URL: a path can carry a token (DELETE /v3/applications/api_tokens/{token}).
      logger.error({ err: raw, method: request.method, route: request.routeOptions.url }, "request failed");
      error = new HeraldError("internal", "Internal error.");
    }
    const { status, body } = format(error, request);
    cutOffUnreadBody(request);
    const retryAfter = error.details.retryAfterSeconds;
    if (retryAfter !== undefined) reply.header("retry-after", String(retryAfter));
    return reply.status(status).type("application/json").send(body);
  });
  instance.setNotFoundHandler((request, reply) => {
    // The URL as sent, not as rewritten for routing (Stream's `{base}/app` is routed under /stream).
    const path = shortened((request.originalUrl ?? request.url).split("?")[0] ?? "");
    const { status, body } = format(new HeraldError("not_found", `No route ${request.method} ${path}.`), request);
    cutOffUnreadBody(request);
    return reply.status(status).type("application/json").send(body);
  });
}
