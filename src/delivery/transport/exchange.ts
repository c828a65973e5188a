import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";

/** The answer to one POST, its body captured up to a cap. */
export interface Answer {
  statusCode: number;
  /** Lower-case names, repeated ones joined with ", ". */
  headers: Record<string, string>;
  /** The body's start as UTF-8 text, NUL bytes replaced. */
  text: string;
  /** The body went on past the cap, or stopped before its end. */
  truncated: boolean;
  /** Why the body stopped before its end (the deadline, a broken connection); undefined if it ended. */
  stopped: unknown;
}

/** An answer, or the error that came before any status line (a deadline is named `TimeoutError`). */
export type Exchange = ({ answered: true } & Answer) | { answered: false; cause: unknown };

export interface ExchangeRequest {
  url: URL;
  body: string | Buffer;
  headers: Record<string, string>;
  /** One deadline for connect, send, status line and body capture. */
  timeoutMs: number;
  /** How many bytes of the response body to keep. */
  captureBytes: number;
}

function headerRecord(headers: IncomingHttpHeaders): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) record[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return record;
}

const deadlinePassed = (timeoutMs: number) =>
  Object.assign(new Error(`the attempt's ${timeoutMs} ms deadline passed`), { name: "TimeoutError" });

/**
 * Undici's dispatch handler for one webhook POST. It reads the answer straight off the connection
 * (no stream, no promise per step: half the CPU of `request()` per attempt, measured), keeps the
 * body up to the cap, and ends the attempt at its deadline wherever it has got to. A connection
 * whose answer was cut short (cap, deadline) is closed, never reused mid-body.
 */
class CapturingHandler implements Dispatcher.DispatchHandler {
  readonly #request: ExchangeRequest;
  readonly #settle: (exchange: Exchange) => void;
  readonly #deadline: NodeJS.Timeout;
  #controller: Dispatcher.DispatchController | undefined;
  #statusCode = 0;
  #headers: Record<string, string> = {};
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #settled = false;

  constructor(request: ExchangeRequest, settle: (exchange: Exchange) => void) {
    this.#request = request;
    this.#settle = settle;
    this.#deadline = setTimeout(() => this.#expire(), request.timeoutMs);
    // A pending deadline must not keep a stopping process alive, as AbortSignal.timeout's does not.
    this.#deadline.unref();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // The deadline passed while connecting: nothing may be sent now.
    if (this.#settled) controller.abort(deadlinePassed(this.#request.timeoutMs));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx answers are informational; the final status follows.
    if (statusCode < 200) return;
    this.#statusCode = statusCode;
    this.#headers = headerRecord(headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return;
    const room = this.#request.captureBytes - this.#size;
    if (chunk.length <= room) {
      this.#chunks.push(chunk);
      this.#size += chunk.length;
      return;
    }
    this.#chunks.push(chunk.subarray(0, room));
    this.#answer(true, undefined);
    // The rest is not kept. An abort now would close the connection even when the answer's end is
    // in this same read, and undici would then open an empty connection for the aborted request;
    // after this read, a finished answer leaves the connection to be reused, an unfinished one is cut.
    queueMicrotask(() => controller.abort(new Error("the response capture cap was reached")));
  }

  onResponseEnd(): void {
    this.#answer(false, undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#statusCode === 0) this.#fail(error);
    else this.#answer(true, error);
  }

  #expire(): void {
    const passed = deadlinePassed(this.#request.timeoutMs);
    if (this.#statusCode === 0) this.#fail(passed);
    else this.#answer(true, passed);
    this.#controller?.abort(passed);
  }

  #answer(truncated: boolean, stopped: unknown): void {
    if (this.#settled) return;
    const bytes = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#finish({
      answered: true,
      statusCode: this.#statusCode,
      headers: this.#headers,
      // PostgreSQL text cannot hold NUL: a binary answer is kept readable rather than unstorable.
      text: bytes.toString("utf8").replaceAll("\u0000", "\uFFFD"),
      truncated,
      stopped,
    });
  }

  #fail(cause: unknown): void {
    if (!this.#settled) this.#finish({ answered: false, cause });
  }

  #finish(exchange: Exchange): void {
    this.#settled = true;
    clearTimeout(this.#deadline);
    this.#settle(exchange);
  }
}

/** POSTs once through `dispatcher`; never rejects: a failure before the status line is an `Exchange` too. */
export function exchange(dispatcher: Dispatcher, request: ExchangeRequest): Promise<Exchange> {
  return new Promise((resolve) => {
    const { url, body, headers, timeoutMs } = request;
    dispatcher.dispatch(
      {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: "POST",
        body,
        headers,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      },
      new CapturingHandler(request, resolve),
    );
  });
}
