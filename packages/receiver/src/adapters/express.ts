import type { IncomingMessage, ServerResponse } from "node:http";
import type { Receiver } from "../receiver.js";
import { handleNodeRequest, sendNodeResponse } from "./node.js";

type ExpressRequest = IncomingMessage & { body?: unknown; rawBody?: unknown };
type Next = (error?: unknown) => void;

/**
 * Express middleware: `app.post("/webhooks", expressHandler(receiver))`. Mount it before any
 * body parser, or behind `express.raw()`. If `express.json()` already consumed the stream, the
 * request is refused with `body-not-raw`, since the signed bytes are gone.
 */
export function expressHandler(receiver: Receiver) {
  return (req: ExpressRequest, res: ServerResponse, next: Next): void => {
    // body-parser sets `req.body = {}` without reading a type it does not handle: only a read stream is gone.
    const consumed = req.readableEnded || Buffer.isBuffer(req.body);
    const task = consumed
      ? receiver
          .handle({ headers: req.headers, body: req.rawBody ?? req.body })
          .then((response) => sendNodeResponse(res, response))
      : handleNodeRequest(receiver, req, res);
    task.catch(next);
  };
}
