import { Agent, request } from "undici";

/** What one POST came to, before any profile judges it. */
export interface SendResult {
  statusCode: number | null;
  durationMs: number;
  /** Why no response arrived: timeout, refused, reset, … */
  error: string | null;
  /** The start of a non-2xx response body, kept for the delivery log. */
  responseBody: string | null;
}

const RESPONSE_BODY_CAP = 1024;

async function readCapped(body: AsyncIterable<Buffer>, cap = RESPONSE_BODY_CAP): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= cap) break;
  }
  return Buffer.concat(chunks).subarray(0, cap).toString("utf8");
}

function describeFailure(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (err.name === "TimeoutError" || err.name === "AbortError" || err.code === "UND_ERR_HEADERS_TIMEOUT") {
    return `timeout after ${timeoutMs} ms`;
  }
  const code = err.code ?? err.cause?.code;
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "connection reset";
    case "ENOTFOUND":
      return "host not found";
  }
  return [code, err.message].filter(Boolean).join(": ") || "request failed";
}

/**
 * Outbound webhook POSTs over HTTP/1.1 keep-alive, one connection pool per origin. Redirects are
 * not followed; every attempt has one deadline covering connect, send and response.
 */
export class HttpSender {
  readonly #agent: Agent;

  /**
   * No cap on connections per origin: the worker already bounds attempts per endpoint and per
   * process, and a second cap here would queue attempts inside the pool while their deadline runs.
   */
  constructor() {
    this.#agent = new Agent({ pipelining: 1, keepAliveTimeout: 30_000 });
  }

  async post(
    url: string,
    body: string | Buffer,
    headers: Record<string, string>,
    timeoutMs: number,
    /** Read a 2xx answer's body too, up to this many bytes (a synchronous hook's answer is its result). */
    successBodyBytes = 0,
  ): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const response = await request(url, {
        method: "POST",
        body,
        headers,
        dispatcher: this.#agent,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      let responseBody: string | null = null;
      if (!ok) responseBody = await readCapped(response.body);
      else if (successBodyBytes > 0) responseBody = await readCapped(response.body, successBodyBytes);
      else await response.body.dump();
      return { statusCode: response.statusCode, durationMs: elapsed(), error: null, responseBody };
    } catch (error) {
      return { statusCode: null, durationMs: elapsed(), error: describeFailure(error, timeoutMs), responseBody: null };
    }
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
