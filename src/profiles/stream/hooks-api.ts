import type { FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import { appOf, useNativeAuthentication } from "../../api/auth.js";
import type { ApiContext } from "../../api/context.js";
import { useErrorFormat } from "../../api/error-format.js";
import { formatNativeError } from "../../api/native-errors.js";
import { responses } from "../../api/schemas.js";
import { sendWithPayloads } from "../../api/views.js";
import { HeraldError } from "../../core/errors.js";
import { formatStreamError, useStreamTiming } from "./errors.js";
import { beforeMessageSend, runCommand } from "./sync-hooks.js";

const JsonObject = Type.Object({}, { additionalProperties: true });
const BeforeSendBody = Type.Object(
  { message: JsonObject, user: JsonObject, channel: JsonObject, request_info: Type.Optional(JsonObject) },
  { additionalProperties: false },
);
const BeforeSendAnswer = Type.Object({
  outcome: Type.Union(["accepted", "modified", "rejected", "failed_open"].map((value) => Type.Literal(value))),
  message: JsonObject,
  error: Type.Optional(Type.String({ description: "rejected: the hook's text for the sender" })),
  reason: Type.Optional(Type.String({ description: "failed_open: why the hook gave no answer" })),
});
const CommandBody = Type.Object(
  { message: JsonObject, user: JsonObject, channel: Type.Optional(JsonObject), form_data: Type.Optional(JsonObject) },
  { additionalProperties: false },
);
const CommandAnswer = Type.Object({
  outcome: Type.Union([Type.Literal("message"), Type.Literal("dropped")]),
  message: Type.Union([JsonObject, Type.Null()]),
});

/**
 * `POST /v1/hooks/before-message-send` and `POST /v1/hooks/commands`: the chat backend's HTTP way
 * to run Stream's synchronous hooks (the in-process API is `herald.beforeMessageSend` and
 * `herald.runCommand`). A publish-scoped token suffices. Errors are Herald's, except the custom
 * command's own failures (44 no handler URL, 45 the handler failed), which come in Stream's format.
 */
export const streamHooksApi: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  useStreamTiming(app);
  useNativeAuthentication(app, ctx);
  useErrorFormat(
    app,
    (error, request) =>
      error.details.vendorCode === 44 || error.details.vendorCode === 45
        ? formatStreamError(error, request)
        : formatNativeError(error, request),
    ctx.logger,
  );

  app.post(
    "/before-message-send",
    {
      config: { access: "publish", bodyIsPayload: true },
      schema: {
        summary: "Run Stream's before-message-send hook for a message: accepted, modified, rejected or failed_open",
        tags: ["hooks"],
        body: BeforeSendBody,
        response: responses({ 200: BeforeSendAnswer }),
      },
    },
    async (request, reply) =>
      sendWithPayloads(reply, await beforeMessageSend(ctx.syncHooks, ctx.endpoints, appOf(request), request.body)),
  );

  app.post(
    "/commands",
    {
      config: { access: "publish", streamOperation: "RunCommand", bodyIsPayload: true },
      schema: {
        summary: "Run a Stream custom command through the app's handler (errors 44 and 45 in Stream's format)",
        tags: ["hooks"],
        body: CommandBody,
        // Its 400s are Stream's error body (codes 44 and 45), not Herald's: described in the summary.
        response: { 200: CommandAnswer },
      },
    },
    async (request, reply) => {
      if (!request.body) throw new HeraldError("malformed_json", "A JSON body is required.");
      return sendWithPayloads(reply, await runCommand(ctx.syncHooks, ctx.endpoints, appOf(request), request.body));
    },
  );
};
