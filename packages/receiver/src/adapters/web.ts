import type { Receiver, ReceiverResponse } from "../receiver.js";

/** Reads a Web request body, stopping once it passes `limit`; undefined when too large. */
async function readLimited(request: Request, limit: number): Promise<Uint8Array | undefined> {
  if (Number(request.headers.get("content-length")) > limit) return undefined;
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

const toResponse = ({ status, body, headers }: ReceiverResponse) => new Response(body, { status, headers });

/**
 * A Web-standard handler, `(Request) => Promise<Response>`, for Hono, Bun, Deno and workers:
 * `app.post("/webhooks", (c) => handler(c.req.raw))`.
 */
export function webHandler(receiver: Receiver): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== "POST") return new Response(null, { status: 405, headers: { allow: "POST" } });
    const body = await readLimited(request, receiver.maxBodyBytes);
    if (!body) return toResponse(receiver.tooLarge());
    return toResponse(await receiver.handle({ headers: request.headers, body }));
  };
}
