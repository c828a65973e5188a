import type { ChatMessage, Recipient } from "./chat-message.js";

/** Message texts with `{sender}`, `{channel}`, `{message}` and `{recipient}` placeholders. */
export interface Templates {
  emailSubject: string;
  emailText: string;
  sms: string;
  pushTitle: string;
  pushBody: string;
}

export const DEFAULT_TEMPLATES: Templates = {
  emailSubject: "New message from {sender} in {channel}",
  emailText: "Hi {recipient},\n\n{sender} wrote in {channel}:\n\n{message}\n",
  sms: "{sender} in {channel}: {message}",
  pushTitle: "{sender} in {channel}",
  pushBody: "{message}",
};

export function render(template: string, message: ChatMessage, recipient: Recipient): string {
  const values: Record<string, string> = {
    sender: message.sender.name,
    channel: message.channel.name,
    message: message.text,
    recipient: recipient.name,
  };
  return template.replace(/\{(sender|channel|message|recipient)\}/g, (_, name: string) => values[name]!);
}
