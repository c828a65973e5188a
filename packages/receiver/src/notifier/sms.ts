import type { Contact, Notification, NotificationChannel } from "./channel.js";
import { render } from "./template.js";

export interface SmsChannelOptions {
  /** Default Twilio's; any provider with the same REST shape works. */
  baseUrl?: string;
  accountSid: string;
  authToken: string;
  /** The sending number. */
  from: string;
}

/** SMS through a Twilio-style REST API: form-encoded `To`, `From`, `Body`, HTTP Basic auth. */
export function smsChannel(options: SmsChannelOptions): NotificationChannel {
  const base = (options.baseUrl ?? "https://api.twilio.com").replace(/\/$/, "");
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString("base64")}`;
  return {
    name: "sms",
    reaches: (contact: Contact) => Boolean(contact.phone),
    async send({ message, recipient, contact, templates }: Notification) {
      const response = await fetch(url, {
        method: "POST",
        headers: { authorization, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          To: contact.phone!,
          From: options.from,
          Body: render(templates.sms, message, recipient),
        }),
      });
      if (!response.ok) throw new Error(`SMS provider answered ${response.status}: ${await response.text()}`);
    },
  };
}
