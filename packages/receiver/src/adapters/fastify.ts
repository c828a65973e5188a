import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import type { Receiver, ReceiverResponse } from "../receiver.js";

export interface FastifyReceiverOptions {
  receiver: Receiver;
  /** Default `/webhooks`. */
  path?: string;
}

/**
 * A Fastify plugin: `app.register(fastifyReceiver, { receiver, path })`. It is encapsulated:
 * inside it every content type is read as raw bytes, and the rest of the app keeps its parsers.
 */
export const fastifyReceiver: FastifyPluginAsync<FastifyReceiverOptions> = async (
  app: FastifyInstance,
  { receiver, path = "/webhooks" },
) => {
  const send = (reply: { code(status: number): any }, response: ReceiverResponse) =>
    reply.code(response.status).headers(response.headers).send(response.body);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: receiver.maxBodyBytes }, (_request, body, done) =>
    done(null, body),
  );
  app.setErrorHandler((error: { code?: string; statusCode?: number }, _request, reply) => {
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") return send(reply, receiver.tooLarge());
    return reply.code(error.statusCode ?? 500).send({ ok: false, message: String(error) });
  });
  app.post(path, async (request, reply) =>
    send(reply, await receiver.handle({ headers: request.headers, body: request.body ?? Buffer.alloc(0) })),
  );
};
