import { Agent } from "undici";
import { AddressPolicy } from "./address-policy.js";
import { exchange } from "./exchange.js";
import { guardedConnector, type Resolver, SSRF_BLOCKED } from "./guarded-connector.js";
import { checkWebhookUrl, type WebhookUrlCheck } from "./webhook-url.js";

/**
 * Why an attempt did not end in a 2xx, in a few words that are safe as metric labels:
 * - `timeout`: no status line within the deadline (connect, send and response headers);
 * - `refused`: the connection was refused or the host unreachable;
 * - `reset`: the connection broke, or the answer was not valid HTTP, before a status line;
 * - `dns`: the name did not resolve;
 * - `tls`: the TLS handshake or the certificate failed;
 * - `ssrf_blocked`: the guard refused the address (or the URL), nothing was sent;
 * - `redirect`: a 3xx with a Location, not followed;
 * - `status`: any other non-2xx answer.
 * `null`: a 2xx, whatever became of its body.
 */
export type ErrorClass = "timeout" | "refused" | "reset" | "dns" | "tls" | "ssrf_blocked" | "redirect" | "status";

export const ERROR_CLASSES: readonly ErrorClass[] = [
  "timeout",
  "refused",
  "reset",
  "dns",
  "tls",
  "ssrf_blocked",
  "redirect",
  "status",
];

/** What one POST came to, before any caller judges it. */
export interface TransportResult {
  /** The response status; null when no status line arrived. */
  statusCode: number | null;
  /** Response headers, lower-case names, repeated ones joined with ", "; empty without a response. */
  responseHeaders: Record<string, string>;
  /** The start of the response body, up to the capture cap, as UTF-8 text; null without a response. */
  responseBody: string | null;
  /** The body went on past the cap, or stopped (deadline, broken connection) before its end. */
  truncated: boolean;
  /** From the call to the end of the body capture (or the failure). */
  durationMs: number;
  errorClass: ErrorClass | null;
  /** What went wrong, for people: `timeout after 5000 ms`, `connection refused`, …; null when nothing did. */
  error: string | null;
}

export interface PostOptions {
  /** One deadline for the whole attempt: connect, send, status line and body capture. */
  timeoutMs: number;
  /** How much of the response body to keep (default: the transport's, `HERALD_RESPONSE_CAPTURE_BYTES`). */
  maxResponseBytes?: number;
}

export interface OutboundTransportOptions {
  /** `HERALD_ALLOW_NETWORKS`: CIDRs, addresses and host names the SSRF guard lets through. */
  allowNetworks?: readonly string[];
  /** `HERALD_RESPONSE_CAPTURE_BYTES`: the default body capture cap (16 KiB). */
  responseCaptureBytes?: number;
  /** Replaces the system resolver (tests map names to chosen addresses). */
  resolver?: Resolver;
  /** Told about every result, and every refusal by the guard: where metrics hook in. */
  onResult?: (errorClass: ErrorClass | null) => void;
  onRefused?: (stage: "config" | "connect") => void;
}

export const DEFAULT_RESPONSE_CAPTURE_BYTES = 16 * 1024;
/** How many checked URLs the transport remembers before it starts over. */
const CHECKED_URLS_KEPT = 4096;

const SECRET_HEADER = /signature|authorization|token|secret|password|passwd|cookie|api[-_]?key|auth/i;
export const REDACTED = "[redacted]";

/** Request headers as they may be kept and shown: signatures, tokens and credentials redacted. */
export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) shown[name] = SECRET_HEADER.test(name) ? REDACTED : value;
  return shown;
}

/** The error codes of a failure, its own and its causes'. */
function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  for (let at = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; at && depth < 4; depth++) {
    if (typeof at.code === "string") codes.push(at.code);
    at = at.cause as typeof at;
  }
  return codes;
}

/** Names a failure that left no status line. */
export function describeFailure(error: unknown, timeoutMs: number): { errorClass: ErrorClass; error: string } {
  const err = error as { name?: string; message?: string };
  const codes = codesOf(error);
  const has = (...wanted: string[]) => codes.some((code) => wanted.includes(code));
  if (has(SSRF_BLOCKED)) return { errorClass: "ssrf_blocked", error: err.message ?? "refused by the SSRF guard" };
  // Only a deadline is a timeout: an abort from elsewhere keeps its own words (below).
  if (
    err.name === "TimeoutError" ||
    has("UND_ERR_HEADERS_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT")
  ) {
    return { errorClass: "timeout", error: `timeout after ${timeoutMs} ms` };
  }
  if (has("ECONNREFUSED")) return { errorClass: "refused", error: "connection refused" };
  if (has("EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL")) return { errorClass: "refused", error: "host unreachable" };
  if (has("ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NODATA", "EAI_NONAME", "ENODATA")) {
    return { errorClass: "dns", error: "host not found" };
  }
  if (
    codes.some((code) => /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/.test(code))
  ) {
    return { errorClass: "tls", error: `TLS: ${err.message ?? codes[0]}` };
  }
  if (has("ECONNRESET", "UND_ERR_SOCKET", "EPIPE")) return { errorClass: "reset", error: "connection reset" };
  if (has("UND_ERR_HEADERS_OVERFLOW")) return { errorClass: "reset", error: "the answer's headers are too large" };
  const detail = [codes[0], err.message].filter(Boolean).join(": ") || "request failed";
  return { errorClass: "reset", error: detail };
}

/**
 * Every outbound webhook POST Herald makes, the queue worker's and the synchronous hooks': HTTP/1.1
 * keep-alive with one pool per origin, one deadline per attempt, redirects never followed, the
 * response captured up to a cap, and the SSRF guard on every connection.
 *
 * ### Example
 * ```ts
 * const result = await transport.post(url, body, { "content-type": "application/json" }, { timeoutMs: 5000 });
 * if (result.errorClass === null) … // a 2xx
 * ```
 */
export class OutboundTransport {
  readonly policy: AddressPolicy;
  readonly #agent: Agent;
  readonly #captureBytes: number;
  readonly #onResult: ((errorClass: ErrorClass | null) => void) | undefined;
  readonly #onRefused: ((stage: "config" | "connect") => void) | undefined;
  readonly #checkedUrls = new Map<string, WebhookUrlCheck>();

  /**
   * No cap on connections per origin: the worker already bounds attempts per endpoint and per
   * process, and a second cap here would queue attempts inside the pool while their deadline runs.
   */
  constructor(options: OutboundTransportOptions = {}) {
    this.policy = new AddressPolicy(options.allowNetworks);
    this.#captureBytes = options.responseCaptureBytes ?? DEFAULT_RESPONSE_CAPTURE_BYTES;
    this.#onResult = options.onResult;
    this.#onRefused = options.onRefused;
    this.#agent = new Agent({
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: guardedConnector(this.policy, options.resolver, () => this.#onRefused?.("connect")),
    });
  }

  /**
   * Why a webhook URL must be refused when it is configured, or null: the URL rules, then its host
   * if it is an IP literal (or `localhost`) the guard refuses. Names are judged when sending.
   */
  refusalAtConfig(value: string): string | null {
    const checked = checkWebhookUrl(value);
    if (!checked.ok) return checked.problem;
    const refusal = this.policy.literalRefusal(checked.url);
    if (refusal === null) return null;
    this.#onRefused?.("config");
    return `is refused: ${refusal}, and Herald does not send webhooks to internal networks (HERALD_ALLOW_NETWORKS opens exceptions)`;
  }

  /**
   * Whether this process can send to `url` now. Always for an HTTP URL; a relay (`herald listen`)
   * says no for a session another process holds, so this process's worker leaves its work alone.
   */
  sendsTo(_url: string): boolean {
    return true;
  }

  /** POSTs `body` once. Never throws: every failure is a result with its error class. */
  async post(
    url: string,
    body: string | Buffer,
    headers: Record<string, string>,
    options: PostOptions,
  ): Promise<TransportResult> {
    const { timeoutMs } = options;
    const cap = options.maxResponseBytes ?? this.#captureBytes;
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const checked = this.#checkUrl(url);
    if (!checked.ok) {
      this.#onRefused?.("connect");
      return this.#failed(elapsed(), "ssrf_blocked", `refused: the URL ${checked.problem}`);
    }
    const answer = await exchange(this.#agent, { url: checked.url, body, headers, timeoutMs, captureBytes: cap });
    if (!answer.answered) {
      const failure = describeFailure(answer.cause, timeoutMs);
      return this.#failed(elapsed(), failure.errorClass, failure.error);
    }
    const { statusCode, headers: responseHeaders } = answer;
    let errorClass: ErrorClass | null = null;
    let error: string | null = null;
    if (statusCode >= 300 && statusCode < 400 && responseHeaders.location !== undefined) {
      errorClass = "redirect";
      error = `redirect to ${responseHeaders.location} not followed`;
    } else if (statusCode < 200 || statusCode >= 300) {
      errorClass = "status";
    }
    // The status line decides: a body cut off after it changes nothing but `truncated`.
    if (answer.stopped !== undefined && error === null) {
      error = `response body incomplete (${describeFailure(answer.stopped, timeoutMs).error}); the status decided`;
    }
    this.#onResult?.(errorClass);
    return {
      statusCode,
      responseHeaders,
      responseBody: answer.text,
      truncated: answer.truncated,
      durationMs: elapsed(),
      errorClass,
      error,
    };
  }

  /** The URL rules, remembered per URL: a worker sends to the same few URLs over and over. */
  #checkUrl(url: string): WebhookUrlCheck {
    let checked = this.#checkedUrls.get(url);
    if (checked === undefined) {
      if (this.#checkedUrls.size >= CHECKED_URLS_KEPT) this.#checkedUrls.clear();
      checked = checkWebhookUrl(url);
      this.#checkedUrls.set(url, checked);
    }
    return checked;
  }

  #failed(durationMs: number, errorClass: ErrorClass, error: string): TransportResult {
    this.#onResult?.(errorClass);
    return {
      statusCode: null,
      responseHeaders: {},
      responseBody: null,
      truncated: false,
      durationMs,
      errorClass,
      error,
    };
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
