export type { Contact, Notification, NotificationChannel, PushSubscription } from "./channel.js";
export { type ChatMessage, chatMessageOf, MESSAGE_EVENT_TYPES, type Recipient } from "./chat-message.js";
export { type EmailChannelOptions, emailChannel } from "./email.js";
export {
  type ContactLookup,
  contactsFromMetadata,
  createOfflineNotifier,
  type NotifyOutcome,
  type OfflineNotifier,
  type OfflineNotifierOptions,
} from "./notifier.js";
export { PerUserRateLimit } from "./rate-limit.js";
export { type SmsChannelOptions, smsChannel } from "./sms.js";
export { DEFAULT_TEMPLATES, render, type Templates } from "./template.js";
export { type WebPushChannelOptions, webPushChannel } from "./web-push.js";
