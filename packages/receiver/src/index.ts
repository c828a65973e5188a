export { expressHandler } from "./adapters/express.js";
export { type FastifyReceiverOptions, fastifyReceiver } from "./adapters/fastify.js";
export { BodyTooLargeError, handleNodeRequest, nodeListener, readRawBody } from "./adapters/node.js";
export { webHandler } from "./adapters/web.js";
export type { DispatchOptions } from "./dispatcher.js";
export type { Handler, ReceivedEvent } from "./handlers.js";
export type { Inbox, InboxEvent, NewInboxEvent } from "./inbox/inbox.js";
export {
  createReceiver,
  type InboxOption,
  openInbox,
  parseInbox,
  type Receiver,
  type ReceiverOptions,
  type ReceiverResponse,
} from "./receiver.js";
export type { HeaderSource } from "./verify/headers.js";
export {
  FAILURE_STATUS,
  type ProfileName,
  type Verification,
  type VerifiedWebhook,
  type VerifyFailureReason,
} from "./verify/outcome.js";
export { type RawWebhookRequest, type SecretsOption, type VerifyOptions, verifyWebhook } from "./verify/verify.js";
