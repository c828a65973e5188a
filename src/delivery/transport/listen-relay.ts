import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { HeraldError } from "../../core/errors.js";
import { writeOrCut } from "../../core/stream-backpressure.js";
import {
  type ErrorClass,
  OutboundTransport,
  type OutboundTransportOptions,
  type TransportResult,
} from "./outbound-transport.js";

/**
 * `herald listen`: a listen endpoint is an ordinary endpoint whose URL is `listen://<session id>`.
 * Its attempts go to the CLI that holds the session, over the one server-sent-events stream the CLI
 * opened to Herald (so Herald never connects to the laptop); the CLI POSTs the bytes to its local
 * URL and reports what came back, which settles the attempt like an HTTP answer would.
 *
 * Sessions live in the memory of the process the CLI talks to: with several Herald processes, only
 * that one sends for the session (`sendsTo`), and its worker must run (role `all`).
 */
export const LISTEN_URL_PREFIX = "listen://";

export const listenUrl = (sessionId: string) => `${LISTEN_URL_PREFIX}${sessionId}`;

/** The listen session an endpoint URL belongs to; undefined for an ordinary endpoint. */
export const listenSessionOf = (url: string): string | undefined =>
  url.startsWith(LISTEN_URL_PREFIX) ? url.slice(LISTEN_URL_PREFIX.length) : undefined;

/** What the CLI reports about one forwarded attempt. */
export interface ListenReport {
  statusCode: number | null;
  headers: Record<string, string>;
  body: string | null;
  /** Why no status came back (the local URL refused, timed out…), as the CLI saw it. */
  errorClass: ErrorClass | null;
  error: string | null;
}

interface Waiting {
  sentAt: number;
  settle: (result: TransportResult) => void;
}

interface Session {
  id: string;
  appId: string;
  endpointId: string;
  /** The CLI's open stream, if connected. */
  stream: ServerResponse | undefined;
  waiting: Map<string, Waiting>;
  /** Removes the session once it has been disconnected for the grace period. */
  expiry: NodeJS.Timeout | undefined;
  heartbeat: NodeJS.Timeout | undefined;
}

export interface ListenRelayOptions {
  graceMs: number;
  /** How much of a reported response body the delivery log keeps. */
  captureBytes: number;
  /** Bytes a CLI's stream may have waiting to go out before it is cut off (default `LISTEN_MAX_UNSENT_BYTES`). */
  maxUnsentBytes?: number;
  /** A session (re)connected: its held deliveries can go now. */
  onConnected(endpointId: string): void;
  /** A session expired: delete its endpoint, if its URL is still the session's (`url`): it may have been changed since. */
  onExpired(appId: string, endpointId: string, url: string): Promise<void>;
}

/** Sessions one app may hold in this process, and the process in all: each is an endpoint and, connected, a stream. */
export const MAX_LISTEN_SESSIONS_PER_APP = 10;
export const MAX_LISTEN_SESSIONS = 100;

const HEARTBEAT_MS = 15_000;
/**
 * A CLI that stops reading is cut off once this much waits for it: the session detaches and its grace
 * period runs, as when the connection drops. Large, since one delivery may be about 1 MB (1.4 MB as base64).
 */
export const LISTEN_MAX_UNSENT_BYTES = 8 * 1024 * 1024;
/** Error classes a CLI may report for an attempt that got no status. */
const NO_STATUS_CLASSES = new Set<ErrorClass>(["timeout", "refused", "reset", "dns", "tls"]);

const noAnswer = (durationMs: number, errorClass: ErrorClass, error: string): TransportResult => ({
  statusCode: null,
  responseHeaders: {},
  responseBody: null,
  truncated: false,
  durationMs,
  errorClass,
  error,
});

/** Listen sessions held by this process, and the attempts waiting for their CLI's report. */
export class ListenRelay {
  readonly #sessions = new Map<string, Session>();

  constructor(private readonly options: ListenRelayOptions) {}

  get #maxUnsentBytes(): number {
    return this.options.maxUnsentBytes ?? LISTEN_MAX_UNSENT_BYTES;
  }

  /** A new session for an endpoint about to be created; it expires unless a CLI connects within the grace period. */
  open(appId: string, endpointId: string): string {
    this.#refuseBeyondCaps(appId);
    const id = `lsn_${randomBytes(12).toString("base64url")}`;
    const session: Session = {
      id,
      appId,
      endpointId,
      stream: undefined,
      waiting: new Map(),
      expiry: undefined,
      heartbeat: undefined,
    };
    this.#sessions.set(id, session);
    this.#expireLater(session);
    return id;
  }

  /** The session of this app held here; undefined for another app's, or another process's. */
  find(appId: string, sessionId: string): { id: string; endpointId: string } | undefined {
    const session = this.#sessions.get(sessionId);
    return session && session.appId === appId ? { id: session.id, endpointId: session.endpointId } : undefined;
  }

  /** Attaches the CLI's stream; a second connection replaces the first. */
  attach(sessionId: string, stream: ServerResponse): void {
    const session = this.#sessions.get(sessionId)!;
    const previous = session.stream;
    session.stream = stream;
    clearTimeout(session.expiry);
    session.expiry = undefined;
    previous?.end();
    const write = (chunk: string) => writeOrCut(stream, chunk, this.#maxUnsentBytes);
    stream.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    write(`event: ready\ndata: ${JSON.stringify({ session_id: session.id, endpoint_id: session.endpointId })}\n\n`);
    clearInterval(session.heartbeat);
    // A comment now and then keeps proxies from closing an idle stream, and finds dead ones.
    session.heartbeat = setInterval(() => write(": keep-alive\n\n"), HEARTBEAT_MS);
    session.heartbeat.unref();
    stream.once("close", () => this.#detach(session, stream));
    this.options.onConnected(session.endpointId);
  }

  /** The CLI's report for one attempt; false when no attempt waits under that id (timed out, or unknown). */
  report(sessionId: string, attemptId: string, report: ListenReport): boolean {
    const waiting = this.#sessions.get(sessionId)?.waiting.get(attemptId);
    if (!waiting) return false;
    waiting.settle(this.#result(report, Date.now() - waiting.sentAt));
    return true;
  }

  /** Ends a session now (the CLI exits): its waiting attempts end as refused. */
  close(sessionId: string): void {
    const session = this.#sessions.get(sessionId);
    if (!session) return;
    this.#sessions.delete(sessionId);
    clearTimeout(session.expiry);
    clearInterval(session.heartbeat);
    session.stream?.end();
    for (const waiting of session.waiting.values()) {
      waiting.settle(noAnswer(Date.now() - waiting.sentAt, "refused", "the listen session ended"));
    }
  }

  /** The endpoints of every session held here, connected or within its grace period. */
  heldEndpointIds(): string[] {
    return [...this.#sessions.values()].map((session) => session.endpointId);
  }

  /** Whether an attempt to `url` can go through this relay now: its session is here and connected. */
  connected(url: string): boolean {
    return this.#sessions.get(url.slice(LISTEN_URL_PREFIX.length))?.stream !== undefined;
  }

  /** Hands one attempt to the session's CLI and waits for its report, or the deadline. */
  send(
    url: string,
    body: string | Buffer,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<TransportResult> {
    const session = this.#sessions.get(url.slice(LISTEN_URL_PREFIX.length));
    const stream = session?.stream;
    if (!session || !stream) {
      return Promise.resolve(noAnswer(0, "refused", "the listen session is not connected"));
    }
    const attemptId = randomBytes(9).toString("base64url");
    const sentAt = Date.now();
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => settle(noAnswer(timeoutMs, "timeout", `timeout after ${timeoutMs} ms: the listening CLI did not report`)),
        timeoutMs,
      );
      const settle = (result: TransportResult) => {
        clearTimeout(timer);
        session.waiting.delete(attemptId);
        resolve(result);
      };
      session.waiting.set(attemptId, { sentAt, settle });
      // The exact bytes, as base64: the CLI sends them on untouched (gzip included).
      const bytes = typeof body === "string" ? Buffer.from(body) : body;
      const message = { attempt_id: attemptId, headers, body: bytes.toString("base64") };
      if (!writeOrCut(stream, `event: delivery\ndata: ${JSON.stringify(message)}\n\n`, this.#maxUnsentBytes)) {
        // Never sent: the CLI stopped reading (cut off now) or its stream had just ended.
        settle(
          noAnswer(Date.now() - sentAt, "refused", "the listen session's stream was cut off: the CLI stopped reading"),
        );
      }
    });
  }

  /** Ends every session and deletes its endpoint (shutdown): a new process cannot resume them. */
  async closeAll(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    for (const session of sessions) this.close(session.id);
    await Promise.allSettled(
      sessions.map((session) => this.options.onExpired(session.appId, session.endpointId, listenUrl(session.id))),
    );
  }

  /** Too many sessions: 429 with Retry-After, in the API's format. */
  #refuseBeyondCaps(appId: string): void {
    if (this.#sessions.size >= MAX_LISTEN_SESSIONS) {
      throw new HeraldError("rate_limited", "Too many listen sessions are open on this server; try again later.", {
        retryAfterSeconds: 30,
      });
    }
    let ofApp = 0;
    for (const session of this.#sessions.values()) if (session.appId === appId) ofApp += 1;
    if (ofApp >= MAX_LISTEN_SESSIONS_PER_APP) {
      throw new HeraldError(
        "rate_limited",
        `This app already has ${MAX_LISTEN_SESSIONS_PER_APP} listen sessions; end one (DELETE /v1/listen/{id}) and try again.`,
        { retryAfterSeconds: 30 },
      );
    }
  }

  #detach(session: Session, stream: ServerResponse): void {
    if (session.stream !== stream) return;
    session.stream = undefined;
    clearInterval(session.heartbeat);
    if (this.#sessions.has(session.id)) this.#expireLater(session);
  }

  #expireLater(session: Session): void {
    clearTimeout(session.expiry);
    session.expiry = setTimeout(() => {
      this.close(session.id);
      this.options.onExpired(session.appId, session.endpointId, listenUrl(session.id)).catch(() => {});
    }, this.options.graceMs);
    session.expiry.unref();
  }

  /** A report as the worker sees a send: the status decides, as for an HTTP answer. */
  #result(report: ListenReport, durationMs: number): TransportResult {
    const { statusCode } = report;
    if (statusCode === null) {
      const errorClass = report.errorClass && NO_STATUS_CLASSES.has(report.errorClass) ? report.errorClass : "refused";
      return noAnswer(durationMs, errorClass, `forwarding failed: ${report.error ?? errorClass}`);
    }
    const body = report.body === null ? null : Buffer.from(report.body);
    const truncated = body !== null && body.length > this.options.captureBytes;
    // Names as the reporting client wrote them: any case.
    const location = Object.entries(report.headers).find(([name]) => name.toLowerCase() === "location")?.[1];
    const redirect = statusCode >= 300 && statusCode < 400 && location !== undefined;
    return {
      statusCode,
      responseHeaders: report.headers,
      responseBody: body === null ? null : body.subarray(0, this.options.captureBytes).toString("utf8"),
      truncated,
      durationMs,
      errorClass: redirect ? "redirect" : statusCode < 200 || statusCode >= 300 ? "status" : null,
      error: redirect ? `redirect to ${location} not followed` : null,
    };
  }
}

/** The outbound transport, with `listen://` URLs sent through the relay instead of HTTP. */
export class RelayingTransport extends OutboundTransport {
  constructor(
    readonly relay: ListenRelay,
    options: OutboundTransportOptions,
  ) {
    super(options);
  }

  override sendsTo(url: string): boolean {
    return url.startsWith(LISTEN_URL_PREFIX) ? this.relay.connected(url) : true;
  }

  override post(...args: Parameters<OutboundTransport["post"]>): Promise<TransportResult> {
    const [url, body, headers, options] = args;
    if (url.startsWith(LISTEN_URL_PREFIX)) return this.relay.send(url, body, headers, options.timeoutMs);
    return super.post(...args);
  }

  override async close(): Promise<void> {
    await this.relay.closeAll();
    await super.close();
  }
}
