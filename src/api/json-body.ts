import type { Readable } from "node:stream";
import { errorCodes, type FastifyRequest } from "fastify";
import { HeraldError } from "../core/errors.js";

/**
 * Reads a request body as UTF-8 text, decoding each chunk as it arrives. Decoding a 784 KB batch
 * with non-ASCII text at the end took about 6 ms in one block of the event loop; chunk by chunk it
 * takes a fraction of a millisecond at a time, while the rest of the body is still on the wire.
 * Enforces the body limit and the Content-Length as Fastify's own reader does, with its errors.
 * Bytes that are not UTF-8 are refused (`fatal`), not replaced.
 */
export function readUtf8Body(
  request: FastifyRequest,
  payload: Readable & { receivedEncodedLength?: number },
  done: (error: Error | null, text?: string) => void,
): void {
  const limit = request.routeOptions.bodyLimit ?? Number.POSITIVE_INFINITY;
  const contentLength = Number(request.headers["content-length"]);
  if (contentLength > limit) {
    done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    return;
  }
  // ignoreBOM keeps a byte order mark in the text, where the parser refuses it as before.
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const parts: string[] = [];
  let received = 0;
  const stop = (error: Error | null, text?: string) => {
    payload.removeListener("data", onData);
    payload.removeListener("end", onEnd);
    payload.removeListener("error", onEnd);
    done(error, text);
  };
  const decode = (chunk?: Buffer): boolean => {
    try {
      parts.push(chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode());
      return true;
    } catch {
      stop(new HeraldError("malformed_json", "The request body is not valid UTF-8."));
      return false;
    }
  };
  function onData(chunk: Buffer | string): void {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    received += bytes.length;
    if (received > limit || (payload.receivedEncodedLength ?? 0) > limit) {
      stop(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    decode(bytes);
  }
  function onEnd(error?: Error & { statusCode?: number }): void {
    if (error != null) {
      if (!(typeof error.statusCode === "number" && error.statusCode >= 400)) error.statusCode = 400;
      stop(error);
      return;
    }
    if (!Number.isNaN(contentLength) && (payload.receivedEncodedLength || received) !== contentLength) {
      stop(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      return;
    }
    if (decode()) stop(null, parts.join(""));
  }
  payload.on("data", onData);
  payload.on("end", onEnd);
  payload.on("error", onEnd);
  payload.resume();
}
