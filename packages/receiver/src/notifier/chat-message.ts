import type { ReceivedEvent } from "../handlers.js";

/** A chat message and who should hear about it, whichever vendor's payload it came from. */
export interface ChatMessage {
  /** Identifies this message for deduplicating notifications across handler retries. */
  key: string;
  sender: { id: string; name: string };
  channel: { id: string; name: string };
  text: string;
  /** Members other than the sender who are offline and have not muted the channel. */
  offlineRecipients: Recipient[];
}

export interface Recipient {
  userId: string;
  name: string;
  /** Vendor metadata on the member (Sendbird `metadata`, Stream custom user fields): may hold contact details. */
  metadata: Record<string, unknown>;
}

type Json = Record<string, any>;

/** Sendbird: `is_online: false`, joined, not muted (`push_trigger_option: "off"`), not do-not-disturb, not blocking the sender. */
function fromSendbird(event: ReceivedEvent<Json>): ChatMessage | undefined {
  const { payload } = event;
  if (event.type !== "group_channel:message_send" || !payload.sender) return undefined;
  const senderId = String(payload.sender.user_id);
  const members: Json[] = Array.isArray(payload.members) ? payload.members : [];
  return {
    key: event.key,
    sender: { id: senderId, name: payload.sender.nickname || senderId },
    channel: {
      id: payload.channel?.channel_url ?? "",
      name: payload.channel?.name || payload.channel?.channel_url || "",
    },
    text: String(payload.payload?.message ?? ""),
    offlineRecipients: members
      .filter(
        (m) =>
          String(m.user_id) !== senderId &&
          m.is_online === false &&
          m.state !== "invited" &&
          m.push_trigger_option !== "off" &&
          m.do_not_disturb !== true &&
          m.is_blocking_sender !== true,
      )
      .map((m) => ({ userId: String(m.user_id), name: m.nickname || String(m.user_id), metadata: m.metadata ?? {} })),
  };
}

/** Stream: `members[].user.online === false` and not `notifications_muted`. */
function fromStream(event: ReceivedEvent<Json>): ChatMessage | undefined {
  const { payload } = event;
  if (event.type !== "message.new" || !payload.message) return undefined;
  const sender: Json = payload.message.user ?? payload.user ?? {};
  const senderId = String(sender.id ?? "");
  const members: Json[] = Array.isArray(payload.members) ? payload.members : [];
  return {
    key: event.key,
    sender: { id: senderId, name: sender.name || senderId },
    channel: { id: payload.cid ?? "", name: payload.channel?.name || payload.channel_id || payload.cid || "" },
    text: String(payload.message.text ?? ""),
    offlineRecipients: members
      .filter((m) => String(m.user_id) !== senderId && m.user?.online === false && m.notifications_muted !== true)
      .map((m) => ({ userId: String(m.user_id), name: m.user?.name || String(m.user_id), metadata: m.user ?? {} })),
  };
}

const READERS: Partial<Record<ReceivedEvent["profile"], (event: ReceivedEvent) => ChatMessage | undefined>> = {
  sendbird: fromSendbird,
  stream: fromStream,
};

/** The message in a message event, or undefined for any other event. */
export function chatMessageOf(event: ReceivedEvent): ChatMessage | undefined {
  return READERS[event.profile]?.(event);
}

/** The types that carry a new message, for registering the notifier's handler. */
export const MESSAGE_EVENT_TYPES = ["group_channel:message_send", "message.new"] as const;
