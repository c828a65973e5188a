import type { IncomingMessage, ServerResponse } from "node:http";
import type { Receiver, ReceiverResponse } from "../receiver.js";

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

/** Reads the request's bytes exactly as sent, refusing early once they pass `limit`. */
export function readRawBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers["content-length"]);
    if (declared > limit) {
      request.resume();
      reject(new BodyTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners("data");
        request.resume();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    request.on("error", reject);
  });
}

export function sendNodeResponse(res: ServerResponse, response: ReceiverResponse): void {
  res.writeHead(response.status, response.headers).end(response.body);
}

/** Verifies, stores and answers one request on a `node:http` request/response pair. */
export async function handleNodeRequest(receiver: Receiver, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "POST") {
    res.writeHead(405, { allow: "POST" }).end();
    return;
  }
  let body: Buffer;
  try {
    body = await readRawBody(req, receiver.maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) sendNodeResponse(res, receiver.tooLarge());
    else res.destroy();
    return;
  }
  sendNodeResponse(res, await receiver.handle({ headers: req.headers, body }));
}

/** A `node:http` request listener: `http.createServer(nodeListener(receiver))`. */
export function nodeListener(receiver: Receiver): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handleNodeRequest(receiver, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  };
}
