import webpush from "web-push";
import type { Contact, Notification, NotificationChannel } from "./channel.js";
import { render } from "./template.js";

export interface WebPushChannelOptions {
  vapid: { subject: string; publicKey: string; privateKey: string };
  /** How long the push service keeps an undelivered notification. Default 1 day. */
  ttlSeconds?: number;
  /** Told when a subscription is gone (404/410), so it can be deleted; such a send is not retried. */
  onExpired?: (contact: Contact) => void;
}

/** Web Push with VAPID: `web-push` encrypts and signs; the request is sent with fetch. */
export function webPushChannel(options: WebPushChannelOptions): NotificationChannel {
  return {
    name: "web-push",
    reaches: (contact: Contact) => Boolean(contact.pushSubscription?.endpoint),
    async send({ message, recipient, contact, templates }: Notification) {
      const payload = JSON.stringify({
        title: render(templates.pushTitle, message, recipient),
        body: render(templates.pushBody, message, recipient),
        channel: message.channel.id,
        sender: message.sender.id,
      });
      const request = webpush.generateRequestDetails(contact.pushSubscription!, payload, {
        vapidDetails: options.vapid,
        TTL: options.ttlSeconds ?? 86_400,
        contentEncoding: "aes128gcm",
      });
      const response = await fetch(request.endpoint, {
        method: request.method,
        headers: request.headers as Record<string, string>,
        body: request.body ?? null,
      });
      if (response.status === 404 || response.status === 410) {
        options.onExpired?.(contact);
        return;
      }
      if (!response.ok) throw new Error(`push service answered ${response.status}: ${await response.text()}`);
    },
  };
}
