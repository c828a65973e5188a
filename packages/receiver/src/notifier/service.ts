import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { handleNodeRequest } from "../adapters/node.js";
import type { ReceivedEvent } from "../handlers.js";
import { createReceiver, type InboxOption, parseInbox } from "../receiver.js";
import type { Contact, NotificationChannel } from "./channel.js";
import { MESSAGE_EVENT_TYPES } from "./chat-message.js";
import { emailChannel } from "./email.js";
import { type ContactLookup, contactsFromMetadata, createOfflineNotifier } from "./notifier.js";
import { smsChannel } from "./sms.js";
import { webPushChannel } from "./web-push.js";

/** The notifier service's settings; `notifierConfigFromEnv` reads them from HERALD_RECEIVER_* variables. */
export interface NotifierConfig {
  host: string;
  port: number;
  path: string;
  secrets: string[];
  inbox: InboxOption;
  /** A JSON file `{ "<user id>": { "email", "phone", "pushSubscription" } }`, over member metadata. */
  contactsFile?: string;
  smtp?: { url: string; from: string };
  sms?: { baseUrl?: string; accountSid: string; authToken: string; from: string };
  vapid?: { subject: string; publicKey: string; privateKey: string };
  rateLimit: { limit: number; windowMs: number };
}

/** Reads the configuration from the environment; each channel is on when its variables are set. */
export function notifierConfigFromEnv(env: NodeJS.ProcessEnv = process.env): NotifierConfig {
  const get = (name: string) => env[`HERALD_RECEIVER_${name}`] || undefined;
  const [limit, seconds] = (get("RATE_LIMIT") ?? "5/60").split("/").map(Number);
  const config: NotifierConfig = {
    host: get("HOST") ?? "127.0.0.1",
    // Not 8080: that is Herald's own port, and the two often run on one machine.
    port: Number(get("PORT") ?? 3000),
    path: get("PATH") ?? "/webhooks",
    secrets: (get("SECRETS") ?? "").split(",").filter(Boolean),
    inbox: parseInbox(get("INBOX") ?? "sqlite:notifier-inbox.db"),
    rateLimit: { limit: limit || 5, windowMs: (seconds || 60) * 1000 },
  };
  const contacts = get("CONTACTS");
  if (contacts) config.contactsFile = contacts;
  const smtp = get("SMTP_URL");
  if (smtp) config.smtp = { url: smtp, from: get("MAIL_FROM") ?? "notifications@localhost" };
  const sid = get("SMS_ACCOUNT_SID");
  if (sid) {
    const baseUrl = get("SMS_BASE_URL");
    config.sms = {
      accountSid: sid,
      authToken: get("SMS_AUTH_TOKEN") ?? "",
      from: get("SMS_FROM") ?? "",
      ...(baseUrl ? { baseUrl } : {}),
    };
  }
  const publicKey = get("VAPID_PUBLIC_KEY");
  if (publicKey) {
    config.vapid = {
      subject: get("VAPID_SUBJECT") ?? "mailto:admin@localhost",
      publicKey,
      privateKey: get("VAPID_PRIVATE_KEY") ?? "",
    };
  }
  return config;
}

function contactLookup(file: string | undefined): ContactLookup {
  if (!file) return contactsFromMetadata;
  const directory = JSON.parse(readFileSync(file, "utf8")) as Record<string, Contact>;
  return (recipient) => ({ ...contactsFromMetadata(recipient), ...directory[recipient.userId] });
}

/** Runs the receiver and the offline notifier on one port; resolves with its URL once listening. */
export async function startNotifierService(config: NotifierConfig) {
  if (config.secrets.length === 0) throw new Error("no secrets: set HERALD_RECEIVER_SECRETS or pass --secret-file");
  const channels: NotificationChannel[] = [];
  const email = config.smtp ? emailChannel({ smtp: config.smtp.url, from: config.smtp.from }) : undefined;
  if (email) channels.push(email);
  if (config.sms) channels.push(smsChannel(config.sms));
  if (config.vapid) channels.push(webPushChannel({ vapid: config.vapid }));
  if (channels.length === 0) throw new Error("no notification channel configured (SMTP, SMS or VAPID variables)");

  const notifier = createOfflineNotifier({
    channels,
    contacts: contactLookup(config.contactsFile),
    rateLimit: config.rateLimit,
  });
  const receiver = createReceiver({
    secrets: config.secrets,
    inbox: config.inbox,
    handlers: Object.fromEntries(
      MESSAGE_EVENT_TYPES.map((type) => [
        type,
        async (event: ReceivedEvent) => log({ event: event.key, type, outcomes: await notifier.notify(event) }),
      ]),
    ),
    onError: (error, event) => log({ event: event?.key, error: String(error) }),
  });
  await receiver.ready();
  const server = createServer((req, res) => {
    if (req.url?.split("?")[0] !== config.path) {
      res.writeHead(404).end();
      return;
    }
    handleNodeRequest(receiver, req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${config.host}:${port}${config.path}`,
    receiver,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await receiver.close();
      email?.close();
    },
  };
}

const log = (record: Record<string, unknown>) =>
  console.log(JSON.stringify({ time: new Date().toISOString(), ...record }));
