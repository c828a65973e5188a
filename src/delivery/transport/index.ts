/** The one module every outbound webhook request goes through: SSRF guard, URL rules, response capture. */
export { AddressPolicy } from "./address-policy.js";
export { type Resolver, SSRF_BLOCKED, SsrfBlockedError } from "./guarded-connector.js";
export {
  DEFAULT_RESPONSE_CAPTURE_BYTES,
  ERROR_CLASSES,
  type ErrorClass,
  OutboundTransport,
  type OutboundTransportOptions,
  type PostOptions,
  REDACTED,
  redactHeaders,
  type TransportResult,
} from "./outbound-transport.js";
export { checkWebhookUrl, MAX_WEBHOOK_URL_BYTES, type WebhookUrlCheck } from "./webhook-url.js";
