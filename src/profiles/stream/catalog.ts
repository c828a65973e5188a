import type { CatalogEntry } from "../../catalog/entry.js";

// Sample building blocks, shaped like Stream's documented webhook payloads (webhook_events.md) and the
// stream-chat 9.53 types (Event, UserResponse, ChannelMemberResponse, MessageResponse, ChannelResponse, ...).

/** An RFC 3339 UTC timestamp with microseconds, as Stream writes them. */
const at = (clock: string, day = "2026-11-30") => `${day}T${clock}Z`;
/** When most sample events happen. */
const NOW = at("09:41:07.123456");

const CHANNEL_TYPE = "messaging";
const CHANNEL_ID = "trail-crew-7f3a9c";
const CID = `${CHANNEL_TYPE}:${CHANNEL_ID}`;
/** How an event names the channel it is about. */
const inChannel = { cid: CID, channel_id: CHANNEL_ID, channel_type: CHANNEL_TYPE };

const MESSAGE_ID = "5d0c8e47-3b1f-4a9e-8c62-0f7e4b9d2a13";
const REPLY_ID = "a61f0b2c-97d4-4e38-b5c1-3e8d7f20c964";

/** A request made by an end user's app, and one made by a backend with the API secret. */
const FROM_CLIENT = {
  type: "client",
  ip: "203.0.113.24",
  user_agent:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  sdk: "stream-chat-react-13.6.0-stream-chat-javascript-client-browser-9.53.0",
};
const FROM_SERVER = {
  type: "server",
  ip: "198.51.100.40",
  user_agent: "axios/1.21.1",
  sdk: "stream-chat-js-v9.53.0-node",
};

const PEOPLE = {
  amara: { name: "Amara Okafor", role: "user", since: "2025-02-11" },
  kenji: { name: "Kenji Watanabe", role: "user", since: "2025-04-03" },
  lucia: { name: "Lucía Fernández", role: "user", since: "2025-06-19" },
  maya: { name: "Maya Lindqvist", role: "admin", since: "2024-11-08" },
} as const;
type Person = keyof typeof PEOPLE;

const user = (id: Person, online = false) => ({
  id,
  name: PEOPLE[id].name,
  image: `https://cdn.example.com/avatars/${id}.png`,
  language: "",
  role: PEOPLE[id].role,
  teams: [],
  created_at: at("08:12:44.501233", PEOPLE[id].since),
  updated_at: at("17:03:29.877410", "2026-10-02"),
  last_active: at("09:40:58.310925"),
  banned: false,
  online,
  blocked_user_ids: [],
});

/** The unread counts of the one user a notification is for, at the event's top level. */
const unreadTotals = (total: number) => ({
  total_unread_count: total,
  unread_channels: total > 0 ? 1 : 0,
  unread_count: total,
});
/** The read state Stream adds to the event's user and to each member's user. */
const readState = (channelUnread: number, total = channelUnread) => ({
  ...unreadTotals(total),
  unread_threads: 0,
  unread_thread_messages: 0,
  channel_unread_count: channelUnread,
  channel_last_read_at: at("09:38:12.204518"),
});
const eventUser = (id: Person, channelUnread = 0, total = channelUnread) => ({
  ...user(id, true),
  ...readState(channelUnread, total),
});

const JOINED = at("10:02:17.448120", "2026-09-14");
const member = (id: Person, extra: object = {}) => ({
  user_id: id,
  user: user(id),
  status: "member",
  created_at: JOINED,
  updated_at: JOINED,
  banned: false,
  shadow_banned: false,
  role: "member",
  channel_role: "channel_member",
  notifications_muted: false,
  ...extra,
});
/** The channel's members as a channel object lists them. */
const CHANNEL_MEMBERS = [member("amara", { role: "owner" }), member("kenji"), member("lucia")];
/** The members a message or channel event carries (Stream sends at most 50), each with their read state. */
const MEMBERS = [
  member("amara", { role: "owner", user: { ...user("amara"), ...readState(0) } }),
  member("kenji", { user: { ...user("kenji"), ...readState(0, 3) } }),
  member("lucia", { notifications_muted: true, user: { ...user("lucia"), ...readState(2) } }),
];

const CHANNEL_CONFIG = {
  created_at: at("15:20:03.118406", "2024-11-08"),
  updated_at: at("11:47:52.930117", "2026-08-21"),
  name: "messaging",
  typing_events: true,
  read_events: true,
  delivery_events: true,
  connect_events: true,
  search: true,
  reactions: true,
  replies: true,
  quotes: true,
  mutes: true,
  uploads: true,
  url_enrichment: true,
  custom_events: true,
  push_notifications: true,
  reminders: true,
  polls: true,
  mark_messages_pending: false,
  message_retention: "infinite",
  max_message_length: 5000,
  automod: "disabled",
  automod_behavior: "flag",
  blocklist_behavior: "flag",
  commands: [{ name: "giphy", description: "Post a random gif to the channel", args: "[text]", set: "fun_set" }],
};
const channel = (extra: object = {}) => ({
  id: CHANNEL_ID,
  type: CHANNEL_TYPE,
  cid: CID,
  last_message_at: at("09:41:07.098211"),
  created_at: at("10:02:17.431907", "2026-09-14"),
  updated_at: at("10:02:17.431907", "2026-09-14"),
  created_by: user("amara"),
  frozen: false,
  disabled: false,
  member_count: 3,
  config: CHANNEL_CONFIG,
  name: "Trail crew",
  ...extra,
});
const TRUNCATED = { truncated_at: at("09:30:00.000412"), truncated_by_id: "amara", truncated_by: user("amara") };
const DELETED = { deleted_at: at("09:41:07.120330") };

const text = (words: string) => ({ text: words, html: `<p>${words}</p>\n` });
const message = (extra: object = {}) => ({
  id: MESSAGE_ID,
  ...text("Trailhead at 7:00 on Saturday, bring layers: 3°C at the top"),
  type: "regular",
  user: user("kenji", true),
  attachments: [],
  latest_reactions: [],
  own_reactions: [],
  reaction_counts: {},
  reaction_scores: {},
  reply_count: 0,
  deleted_reply_count: 0,
  cid: CID,
  created_at: at("09:41:07.098211"),
  updated_at: at("09:41:07.098211"),
  shadowed: false,
  mentioned_users: [],
  silent: false,
  pinned: false,
  pinned_at: null,
  pinned_by: null,
  pin_expires: null,
  ...extra,
});
const REPLY = message({
  id: REPLY_ID,
  ...text("Count me in, bringing the stove"),
  type: "reply",
  user: user("lucia", true),
  parent_id: MESSAGE_ID,
  show_in_channel: false,
  created_at: at("09:44:51.602731"),
  updated_at: at("09:44:51.602731"),
});

/** A message event: the message, who acted, and the channel's members with their read state. */
const messageEvent = (msg: object, extra: object = {}, request_info: object = FROM_CLIENT) => ({
  ...inChannel,
  message_id: MESSAGE_ID,
  message: msg,
  user: eventUser("kenji", 0, 3),
  ...extra,
  members: MEMBERS,
  request_info,
});
/** A channel event: the channel, who acted, and its members with their read state. */
const channelEvent = (channelData: object, extra: object = {}, request_info: object = FROM_CLIENT) => ({
  ...inChannel,
  channel: channel(channelData),
  user: eventUser("amara"),
  ...extra,
  members: MEMBERS,
  request_info,
});

const reaction = (type: string) => ({
  message_id: MESSAGE_ID,
  user_id: "lucia",
  user: user("lucia", true),
  type,
  score: 1,
  created_at: at("09:42:31.550874"),
  updated_at: at("09:42:31.550874"),
});
/** `counted`: the message still carries the reaction (new, updated), or no longer does (deleted). */
const reactionEvent = (type: string, counted: boolean) => ({
  ...inChannel,
  message: message({
    updated_at: at("09:42:31.561208"),
    ...(counted
      ? { latest_reactions: [reaction(type)], reaction_counts: { [type]: 1 }, reaction_scores: { [type]: 1 } }
      : {}),
  }),
  reaction: reaction(type),
  user: eventUser("lucia", 0, 2),
  created_at: at("09:42:31.564019"),
  request_info: FROM_CLIENT,
});

/** Someone's membership as a notification to that one user tells it. */
const membershipNotice = (memberExtra: object, extra: object = {}) => ({
  ...inChannel,
  channel: channel(),
  member: member("lucia", memberExtra),
  user: user("lucia"),
  ...extra,
});

const CHANNEL_MUTE = {
  user: user("lucia"),
  channel: channel(),
  expires: at("17:41:07.123456"),
  created_at: NOW,
  updated_at: NOW,
};
/** A user muting or unmuting a channel: the mute says which (no `cid` at the top level). */
const channelMuteEvent = { user: user("lucia", true), mute: CHANNEL_MUTE, request_info: FROM_CLIENT };
const USER_MUTE = { user: user("lucia"), target: user("kenji"), created_at: NOW, updated_at: NOW };
/** The user an event is about as their own connection sees them (`me`). */
const me = (extra: object) => ({
  ...user("lucia", true),
  channel_mutes: [],
  devices: [],
  mutes: [],
  ...unreadTotals(2),
  unread_threads: 0,
  ...extra,
});
/** One user acting on another (mute, unmute, flag). */
const towardsUser = {
  user: user("lucia", true),
  target_user: "kenji",
  target_users: ["kenji"],
  request_info: FROM_CLIENT,
};

const POLL_ID = "b0d4c7e2-8a61-4f3b-9e05-6c2a9d1f7e38";
const POLL_MESSAGE_ID = "e7a3d915-0c4b-4f62-8d2e-91b5c3a7f046";
const RIDGE = "3c9f1a7e-52d8-4b06-a4e1-d8b2f6c0e915";
const LAKE = "8e2b6d04-1f7a-4c93-b5d8-07a1c4e9f3b2";
const poll = (votes: { ridge: number; lake: number }, extra: object = {}) => ({
  id: POLL_ID,
  name: "Which trail on Saturday?",
  description: "",
  voting_visibility: "public",
  enforce_unique_vote: true,
  max_votes_allowed: 1,
  allow_user_suggested_options: false,
  allow_answers: false,
  is_closed: false,
  options: [
    { id: RIDGE, text: "Ridge loop (14 km)", custom: {} },
    { id: LAKE, text: "Lake path (9 km)", custom: {} },
  ],
  vote_count: votes.ridge + votes.lake,
  vote_counts_by_option: { [RIDGE]: votes.ridge, [LAKE]: votes.lake },
  answers_count: 0,
  latest_answers: [],
  own_votes: [],
  created_by_id: "amara",
  created_by: user("amara"),
  created_at: at("18:05:12.733018", "2026-11-29"),
  updated_at: NOW,
  custom: {},
  ...extra,
});
const pollEvent = (pollData: object, extra: object = {}) => ({
  ...inChannel,
  message_id: POLL_MESSAGE_ID,
  poll: pollData,
  ...extra,
});
const voteEvent = (option_id: string, votes: { ridge: number; lake: number }) =>
  pollEvent(poll(votes), {
    poll_vote: {
      id: "4f8a2c61-b9d3-4e07-a615-c2e9d0b7f384",
      poll_id: POLL_ID,
      option_id,
      user_id: "lucia",
      user: user("lucia", true),
      created_at: NOW,
      updated_at: NOW,
    },
    user: user("lucia", true),
    request_info: FROM_CLIENT,
  });

const reminderEvent = (remind_at: string, extra: object = {}) => ({
  cid: CID,
  message_id: MESSAGE_ID,
  user_id: "lucia",
  reminder: {
    channel_cid: CID,
    channel: channel(),
    message_id: MESSAGE_ID,
    message: message(),
    user_id: "lucia",
    user: user("lucia"),
    remind_at,
    created_at: at("09:45:20.318245"),
    updated_at: at("09:45:20.318245"),
  },
  ...extra,
});

const draftEvent = {
  ...inChannel,
  draft: {
    channel_cid: CID,
    created_at: NOW,
    message: { id: "0b7d3e95-6a2f-4c18-9e40-d5f1a8c2b763", text: "Should we carpool from the station", silent: false },
  },
  user: user("lucia", true),
  request_info: FROM_CLIENT,
};

const exportEvent = (outcome: object) => ({
  task_id: "55e445f2-0987-42a5-ab1f-4c76e896173c",
  started_at: at("09:40:51.625385"),
  finished_at: at("09:41:07.120469"),
  ...outcome,
});
const EXPORT_URL = { url: "https://exports.example.com/chat/55e445f2.json.gz?X-Amz-Expires=86400" };
const EXPORT_ERROR = { error: "export timed out after 30m0s" };

const entry = (type: string, description: string, sample: Record<string, unknown>): CatalogEntry => ({
  category: type,
  group: type.slice(0, type.indexOf(".")),
  description,
  sample: { type, created_at: NOW, ...sample },
});

/**
 * Every Stream Chat event a push webhook (or SQS/SNS hook) can carry: the documented webhook list and the
 * server-sent names of stream-chat's EVENT_MAP.
 *
 * Left out of EVENT_MAP: its "local events" (`message.read_locally`, `channels.queried`, `connection.*`,
 * `transport.changed`, `capabilities.changed`, `live_location_sharing.*`, `offline_reactions.queried`), which
 * the client raises for itself and no server sends; and the events that describe a live WebSocket rather
 * than stored data: `health.check` (the heartbeat), `typing.start`/`typing.stop` and `ai_indicator.*`
 * (relayed to watching connections as they happen, kept nowhere) and `user.watching.start`/`stop` (a
 * connection starting or stopping watching a channel). None of these is in Stream's webhook event list.
 */
export const STREAM_CHAT_CATALOG: readonly CatalogEntry[] = [
  entry("message.new", "A new message is added to a channel.", {
    ...messageEvent(message({ priority: "high" }), { watcher_count: 2 }),
    created_at: at("09:41:07.104532"),
  }),
  entry(
    "message.updated",
    "A message is updated.",
    messageEvent(
      message({
        ...text("Trailhead at 7:30 on Saturday, bring layers: 3°C at the top"),
        updated_at: at("09:47:15.220791"),
        message_text_updated_at: at("09:47:15.220791"),
      }),
      {
        created_at: at("09:47:15.231004"),
        message_update: {
          old_text: "Trailhead at 7:00 on Saturday, bring layers: 3°C at the top",
          change_set: {
            custom: false,
            text: true,
            html: true,
            attachments: false,
            mentioned_user_ids: false,
            quoted_message_id: false,
            silent: false,
            pin: false,
          },
        },
      },
    ),
  ),
  entry(
    "message.deleted",
    "A message is deleted.",
    messageEvent(message({ type: "deleted", deleted_at: NOW, updated_at: NOW }), { hard_delete: false }),
  ),
  entry(
    "message.undeleted",
    "A soft-deleted message is restored.",
    messageEvent(message({ updated_at: NOW }), {}, FROM_SERVER),
  ),
  entry("message.read", "A user marks a channel as read.", {
    ...inChannel,
    user: eventUser("lucia"),
    last_read_message_id: MESSAGE_ID,
    request_info: FROM_CLIENT,
  }),
  entry("message.delivered", "A user's device confirms delivery of a channel's messages.", {
    ...inChannel,
    user: eventUser("lucia", 2),
    last_delivered_at: at("09:41:07.981204"),
    last_delivered_message_id: MESSAGE_ID,
    request_info: FROM_CLIENT,
  }),

  entry("reaction.new", "A reaction is added to a message.", reactionEvent("like", true)),
  entry(
    "reaction.updated",
    "A reaction is replaced (channels enforcing one reaction a user).",
    reactionEvent("love", true),
  ),
  entry("reaction.deleted", "A reaction is removed from a message.", reactionEvent("like", false)),

  entry("member.added", "A member is added to a channel.", {
    ...inChannel,
    member: member("lucia"),
    user: eventUser("lucia"),
    request_info: FROM_SERVER,
  }),
  entry("member.updated", "A channel member is updated, e.g. their channel role.", {
    ...inChannel,
    member: member("lucia", {
      role: "moderator",
      channel_role: "channel_moderator",
      is_moderator: true,
      updated_at: NOW,
    }),
    user: eventUser("lucia"),
    request_info: FROM_SERVER,
  }),
  entry("member.removed", "A member is removed from a channel.", {
    ...inChannel,
    user: user("lucia"),
    request_info: FROM_SERVER,
  }),

  entry("channel.created", "A channel is created.", channelEvent({ members: CHANNEL_MEMBERS }, {}, FROM_SERVER)),
  entry(
    "channel.updated",
    "A channel's data or settings are updated.",
    channelEvent({ name: "Trail crew 🥾", updated_at: NOW }),
  ),
  entry("channel.deleted", "A channel is deleted.", channelEvent(DELETED, {}, FROM_SERVER)),
  entry(
    "channel.truncated",
    "A channel's messages are removed, up to a time or all of them.",
    channelEvent(TRUNCATED, {}, FROM_SERVER),
  ),
  entry(
    "channel.hidden",
    "A user hides a channel from their channel list.",
    channelEvent({ hidden: true }, { user: eventUser("lucia", 2), clear_history: false }),
  ),
  entry(
    "channel.visible",
    "A hidden channel is shown again to a user.",
    channelEvent({ hidden: false }, { user: eventUser("lucia", 2) }),
  ),
  entry("channel.muted", "A user mutes a channel.", channelMuteEvent),
  entry("channel.unmuted", "A user unmutes a channel.", channelMuteEvent),
  entry("channel.kicked", "A user is removed from a channel they were watching.", {
    ...inChannel,
    user: user("lucia"),
  }),

  entry("user.updated", "A user's data is updated.", {
    user: { ...user("lucia"), name: "Lucía F.", updated_at: NOW },
    members: [],
    request_info: FROM_SERVER,
  }),
  entry("user.deleted", "A user is deleted.", {
    user: { ...user("kenji"), deleted_at: NOW },
    hard_delete: false,
    mark_messages_deleted: false,
    request_info: FROM_SERVER,
  }),
  entry("user.deactivated", "A user is deactivated.", {
    user: { ...user("kenji"), deactivated_at: NOW },
    created_by: user("maya"),
    request_info: FROM_SERVER,
  }),
  entry("user.reactivated", "A deactivated user is reactivated.", {
    user: user("kenji"),
    created_by: user("maya"),
    request_info: FROM_SERVER,
  }),
  entry("user.banned", "A user is banned, from one channel (with `cid`) or from the app.", {
    ...inChannel,
    user: user("kenji"),
    created_by: user("maya"),
    reason: "Repeated spam links",
    expiration: at("09:41:07.120113", "2026-12-07"),
    shadow: false,
    request_info: FROM_SERVER,
  }),
  entry("user.unbanned", "A user's ban is lifted.", {
    ...inChannel,
    user: user("kenji"),
    shadow: false,
    request_info: FROM_SERVER,
  }),
  entry("user.muted", "A user mutes another user.", towardsUser),
  entry("user.unmuted", "A user unmutes another user.", towardsUser),
  entry("user.flagged", "A user flags another user for moderation.", towardsUser),
  entry("user.presence.changed", "A user goes online or offline.", {
    user: { ...user("lucia", true), last_active: NOW },
  }),
  entry("user.messages.deleted", "A user's messages are deleted, in one channel (with `cid`) or everywhere.", {
    ...inChannel,
    user: eventUser("kenji", 0, 3),
    soft_delete: true,
    hard_delete: false,
    channel_last_message_at: at("09:40:12.004387"),
  }),
  entry("user.unread_message_reminder", "A user still has unread messages after the app's reminder interval.", {
    user: user("lucia"),
    channels: { [CID]: { channel: channel({ members: CHANNEL_MEMBERS }), messages: [message()] } },
  }),

  entry("notification.message_new", "A new message in a channel the user is a member of but not watching.", {
    ...inChannel,
    channel: channel(),
    message_id: MESSAGE_ID,
    message: message(),
    channel_member_count: 3,
    ...unreadTotals(2),
  }),
  entry("notification.thread_message_new", "A new reply in a thread the user takes part in.", {
    ...inChannel,
    channel: channel(),
    message_id: REPLY_ID,
    message: REPLY,
    unread_threads: 1,
    unread_thread_messages: 1,
  }),
  entry("notification.added_to_channel", "The user is added to a channel.", membershipNotice({})),
  entry("notification.removed_from_channel", "The user is removed from a channel.", membershipNotice({})),
  entry(
    "notification.invited",
    "The user is invited to a channel.",
    membershipNotice({ invited: true, status: "pending" }),
  ),
  entry(
    "notification.invite_accepted",
    "The user accepts an invitation to a channel.",
    membershipNotice({ invited: true, invite_accepted_at: NOW }, { request_info: FROM_CLIENT }),
  ),
  entry(
    "notification.invite_rejected",
    "The user rejects an invitation to a channel.",
    membershipNotice({ invited: true, status: "rejected", invite_rejected_at: NOW }, { request_info: FROM_CLIENT }),
  ),
  entry("notification.mark_read", "The user marks a channel, or all channels, as read.", {
    ...inChannel,
    user: eventUser("lucia"),
    last_read_message_id: MESSAGE_ID,
    ...unreadTotals(0),
    request_info: FROM_CLIENT,
  }),
  entry("notification.mark_unread", "The user marks a channel as unread from a message on.", {
    ...inChannel,
    user: eventUser("lucia", 2),
    first_unread_message_id: MESSAGE_ID,
    last_read_at: at("09:38:12.204518"),
    last_read_message_id: "2f6c9b30-d7e1-4a85-8c04-b1e3f5a9d726",
    unread_messages: 2,
    ...unreadTotals(2),
    request_info: FROM_CLIENT,
  }),
  entry("notification.channel_deleted", "A channel the user is a member of is deleted.", {
    ...inChannel,
    channel: channel(DELETED),
  }),
  entry("notification.channel_truncated", "A channel the user is a member of is truncated.", {
    ...inChannel,
    channel: channel(TRUNCATED),
  }),
  entry("notification.channel_mutes_updated", "The user's channel mutes change.", {
    me: me({ channel_mutes: [CHANNEL_MUTE] }),
    request_info: FROM_CLIENT,
  }),
  entry("notification.mutes_updated", "The user's user mutes change.", {
    me: me({ mutes: [USER_MUTE] }),
    request_info: FROM_CLIENT,
  }),
  entry(
    "notification.reminder_due",
    "A message reminder's time is reached.",
    reminderEvent(at("09:00:00.000000", "2026-12-01"), { created_at: at("09:00:00.412907", "2026-12-01") }),
  ),

  entry("reminder.created", "A message reminder is created.", {
    ...reminderEvent(at("09:00:00.000000", "2026-12-01")),
    request_info: FROM_CLIENT,
  }),
  entry("reminder.updated", "A message reminder is updated.", {
    ...reminderEvent(at("07:00:00.000000", "2026-12-01")),
    request_info: FROM_CLIENT,
  }),
  entry("reminder.deleted", "A message reminder is deleted.", {
    ...reminderEvent(at("07:00:00.000000", "2026-12-01")),
    request_info: FROM_CLIENT,
  }),

  entry("thread.updated", "A thread's title or custom data is updated.", {
    ...inChannel,
    thread: {
      channel_cid: CID,
      parent_message_id: MESSAGE_ID,
      parent_message: message({ reply_count: 1, thread_participants: [user("kenji"), user("lucia")] }),
      title: "Saturday hike",
      created_by_user_id: "kenji",
      created_by: user("kenji"),
      reply_count: 1,
      participant_count: 2,
      active_participant_count: 2,
      latest_replies: [REPLY],
      last_message_at: at("09:44:51.602731"),
      created_at: at("09:44:51.602731"),
      updated_at: NOW,
      custom: {},
    },
    user: user("kenji", true),
    request_info: FROM_CLIENT,
  }),

  entry("draft.updated", "A user saves a draft message.", draftEvent),
  entry("draft.deleted", "A user's draft message is deleted.", draftEvent),

  entry("poll.updated", "A poll is updated.", pollEvent(poll({ ridge: 1, lake: 1 }, { description: "Meet at 7:30" }))),
  entry(
    "poll.closed",
    "A poll is closed to further votes.",
    pollEvent(poll({ ridge: 1, lake: 1 }, { is_closed: true })),
  ),
  entry("poll.vote_casted", "A user votes in a poll.", voteEvent(RIDGE, { ridge: 2, lake: 1 })),
  entry("poll.vote_changed", "A user changes their vote in a poll.", voteEvent(LAKE, { ridge: 1, lake: 2 })),
  entry("poll.vote_removed", "A user removes their vote from a poll.", voteEvent(LAKE, { ridge: 1, lake: 1 })),

  entry("export.users.success", "An asynchronous users export finishes.", exportEvent(EXPORT_URL)),
  entry("export.users.error", "An asynchronous users export fails.", exportEvent(EXPORT_ERROR)),
  entry("export.channels.success", "An asynchronous channels export finishes.", exportEvent(EXPORT_URL)),
  entry("export.channels.error", "An asynchronous channels export fails.", exportEvent(EXPORT_ERROR)),
];
