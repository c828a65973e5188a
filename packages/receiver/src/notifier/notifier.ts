import type { Handler, ReceivedEvent } from "../handlers.js";
import type { Contact, NotificationChannel } from "./channel.js";
import { type ChatMessage, chatMessageOf, MESSAGE_EVENT_TYPES, type Recipient } from "./chat-message.js";
import { PerUserRateLimit } from "./rate-limit.js";
import { DEFAULT_TEMPLATES, type Templates } from "./template.js";

export type ContactLookup = (recipient: Recipient) => Promise<Contact | undefined> | Contact | undefined;

export interface OfflineNotifierOptions {
  channels: readonly NotificationChannel[];
  /** Where each user is reached. Default: `email`, `phone` and `push_subscription` in the member's metadata. */
  contacts?: ContactLookup;
  templates?: Partial<Templates>;
  /** Per user, across channels and chats. Default 5 notifications a minute. */
  rateLimit?: { limit: number; windowMs: number };
}

/** What happened to one recipient of one message. */
export interface NotifyOutcome {
  userId: string;
  status: "sent" | "rate-limited" | "no-contact";
  channels: string[];
}

export interface OfflineNotifier {
  /** Register with `createReceiver({ handlers: notifier.handlers })`. */
  readonly handlers: Record<string, Handler>;
  notify(event: ReceivedEvent): Promise<NotifyOutcome[]>;
}

/** Reads contacts from the member's metadata, where many apps keep them. */
export const contactsFromMetadata: ContactLookup = ({ metadata }) => {
  const text = (value: unknown) => (typeof value === "string" && value ? value : undefined);
  let push = metadata.push_subscription;
  if (typeof push === "string") {
    try {
      push = JSON.parse(push);
    } catch {
      push = undefined;
    }
  }
  const contact: Contact = {};
  const email = text(metadata.email);
  const phone = text(metadata.phone);
  if (email) contact.email = email;
  if (phone) contact.phone = phone;
  if (push && typeof push === "object") contact.pushSubscription = push as Contact["pushSubscription"];
  return contact;
};

/** Remembers a bounded number of keys, oldest forgotten first. */
class RecentKeys<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity = 50_000) {}
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): void {
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }
}

/**
 * The tutorial's service: on each new message, notify every member other than the sender who is
 * offline and has not muted the channel, through every channel that can reach them. A handler
 * retry resends only the channels that failed, and does not count against the rate limit twice.
 */
export function createOfflineNotifier(options: OfflineNotifierOptions): OfflineNotifier {
  const templates = { ...DEFAULT_TEMPLATES, ...options.templates };
  const lookup = options.contacts ?? contactsFromMetadata;
  const { limit, windowMs } = options.rateLimit ?? { limit: 5, windowMs: 60_000 };
  const limiter = new PerUserRateLimit(limit, windowMs);
  const admitted = new RecentKeys<boolean>();
  const sent = new RecentKeys<true>();

  async function notifyRecipient(message: ChatMessage, recipient: Recipient): Promise<NotifyOutcome> {
    const contact = (await lookup(recipient)) ?? {};
    const channels = options.channels.filter((channel) => channel.reaches(contact));
    if (channels.length === 0) return { userId: recipient.userId, status: "no-contact", channels: [] };
    const admissionKey = `${message.key}|${recipient.userId}`;
    let isAdmitted = admitted.get(admissionKey);
    if (isAdmitted === undefined) {
      isAdmitted = limiter.take(recipient.userId);
      admitted.set(admissionKey, isAdmitted);
    }
    if (!isAdmitted) return { userId: recipient.userId, status: "rate-limited", channels: [] };
    const failures: unknown[] = [];
    for (const channel of channels) {
      const sentKey = `${admissionKey}|${channel.name}`;
      if (sent.get(sentKey)) continue;
      try {
        await channel.send({ message, recipient, contact, templates });
        sent.set(sentKey, true);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, `notifying ${recipient.userId} failed`);
    return { userId: recipient.userId, status: "sent", channels: channels.map((channel) => channel.name) };
  }

  async function notify(event: ReceivedEvent): Promise<NotifyOutcome[]> {
    const message = chatMessageOf(event);
    if (!message) return [];
    const results = await Promise.allSettled(message.offlineRecipients.map((r) => notifyRecipient(message, r)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed.length > 0)
      throw new AggregateError(
        failed.map((r) => r.reason),
        "some notifications failed",
      );
    return results.map((r) => (r as PromiseFulfilledResult<NotifyOutcome>).value);
  }

  const handler: Handler = async (event) => void (await notify(event));
  return { handlers: Object.fromEntries(MESSAGE_EVENT_TYPES.map((type) => [type, handler])), notify };
}
