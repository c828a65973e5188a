export { hmacSha256, safeEqual } from "./hmac.js";
export {
  encodeSendbirdJson,
  escapeSendbirdJson,
  SENDBIRD_LEGACY_SIGNATURE_HEADER,
  SENDBIRD_SIGNATURE_HEADER,
  signSendbird,
  verifySendbird,
} from "./sendbird.js";
export {
  STANDARD_WEBHOOK_ID_HEADER,
  STANDARD_WEBHOOK_SIGNATURE_HEADER,
  STANDARD_WEBHOOK_TIMESTAMP_HEADER,
  STANDARD_WEBHOOK_TOLERANCE_SECONDS,
  type StandardWebhookCheck,
  type StandardWebhookRequest,
  signStandardWebhook,
  standardWebhookKey,
  verifyStandardWebhook,
} from "./standard-webhooks.js";
export {
  STREAM_API_KEY_HEADER,
  STREAM_ATTEMPT_HEADER,
  STREAM_SIGNATURE_HEADER,
  STREAM_WEBHOOK_ID_HEADER,
  signStream,
  verifyStream,
} from "./stream.js";
