import type { ChatMessage, Recipient } from "./chat-message.js";
import type { Templates } from "./template.js";

/** A browser's Push API subscription, as `PushManager.subscribe()` returns it. */
export interface PushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** Where a user can be reached; any field may be missing. */
export interface Contact {
  email?: string;
  phone?: string;
  pushSubscription?: PushSubscription;
}

export interface Notification {
  message: ChatMessage;
  recipient: Recipient;
  contact: Contact;
  templates: Templates;
}

/** One way of notifying: email, SMS, Web Push, or your own. */
export interface NotificationChannel {
  readonly name: string;
  /** Whether this contact has an address for this channel. */
  reaches(contact: Contact): boolean;
  /** Throws to have the event retried; channels already sent for it are not sent again. */
  send(notification: Notification): Promise<void>;
}
