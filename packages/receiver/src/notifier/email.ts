import nodemailer from "nodemailer";
import type { Contact, Notification, NotificationChannel } from "./channel.js";
import { render } from "./template.js";

export interface EmailChannelOptions {
  /** `smtp://user:pass@host:587`, `smtps://…`, or nodemailer's SMTP transport options. */
  smtp: string | Parameters<typeof nodemailer.createTransport>[0];
  from: string;
}

/** Email over SMTP, through nodemailer. */
export function emailChannel(options: EmailChannelOptions): NotificationChannel & { close(): void } {
  const transport = nodemailer.createTransport(options.smtp as never);
  return {
    name: "email",
    reaches: (contact: Contact) => Boolean(contact.email),
    async send({ message, recipient, contact, templates }: Notification) {
      await transport.sendMail({
        from: options.from,
        to: contact.email,
        subject: render(templates.emailSubject, message, recipient),
        text: render(templates.emailText, message, recipient),
      });
    },
    close: () => transport.close(),
  };
}
