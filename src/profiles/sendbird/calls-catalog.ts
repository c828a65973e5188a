import type { CatalogEntry } from "../../catalog/entry.js";

const APPLICATION_ID = "C5A9F2E4-1B7D-4E8A-9C3F-2D6B8A1E4F70";
const participantUser = (user_id: string, nickname: string) => ({
  user_id,
  nickname,
  profile_url: `https://static.example.com/profiles/${user_id.toLowerCase()}.png`,
  metadata: {},
  is_active: true,
});
const directCall = (extra: object) => ({
  call_id: "b3f1c3a0-6a0e-4a34-8f5f-0c9c7e1d2a11",
  caller_id: "alice",
  callee_id: "bob",
  is_video_call: false,
  custom_items: { ticket: "T-1024" },
  ...extra,
});
const sendbirdCall = (extra: object) => ({
  call_id: "b3f1c3a0-6a0e-4a34-8f5f-0c9c7e1d2a11",
  payload: { is_video_call: false, constraints: { audio: true, video: false } },
  participants: [
    { ...participantUser("alice", "Alice"), role: "dc_caller" },
    { ...participantUser("bob", "Bob"), role: "dc_callee" },
  ],
  ...extra,
});
const room = {
  room_id: "91e3c6d2-5a44-4f0b-9e57-7b1c2f3a4d5e",
  room_type: "small_room_for_video",
  state: "open",
  created_at: 1732350000123,
  created_by: "alice",
  custom_items: { topic: "Stand-up" },
};
const participant = (state: string) => ({
  participant_id: "0c1f2e3d-4b5a-6978-8a9b-ac0bd1e2f3a4",
  user: participantUser("bob", "Bob"),
  state,
  entered_at: 1732350000123,
  is_audio_enabled: true,
  is_video_enabled: false,
});
const invitation = (state: string) => ({
  invitation_id: "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f",
  inviter_id: "alice",
  invitee_id: "bob",
  state,
  created_at: 1732350000123,
});

const entry = (category: string, description: string, sample: Record<string, unknown>): CatalogEntry => ({
  category,
  group: category.slice(0, category.indexOf(":")),
  description,
  sample: { category, occurred_at: 1732350000123, application_id: APPLICATION_ID, ...sample },
});

/** Every Sendbird Calls webhook category: three direct-call events and ten group-call (room) events. */
export const SENDBIRD_CALLS_CATALOG: readonly CatalogEntry[] = [
  entry("direct_call:dial", "A direct call's signal is forwarded to the callee.", {
    direct_call: directCall({}),
    sendbird_call: sendbirdCall({ started_by: "alice" }),
  }),
  entry("direct_call:accept", "A direct call is accepted by the callee.", {
    direct_call: directCall({ accepted_at: 1732350003123 }),
    sendbird_call: sendbirdCall({}),
  }),
  entry("direct_call:end", "A direct call is ended by either the caller or the callee.", {
    direct_call: directCall({ ended_at: 1732350063123, duration: 60000, end_result: "completed", ended_by: "bob" }),
    sendbird_call: sendbirdCall({}),
    result: "completed",
  }),
  entry("room:create", "A room is created.", { room }),
  entry("room:delete", "A room is deleted.", { room: { ...room, state: "deleted", deleted_at: 1732353600123 } }),
  entry("room:participant_enter", "A participant entered a room.", { room, participant: participant("entered") }),
  entry("room:participant_exit", "A participant exited a room.", { room, participant: participant("exited") }),
  entry("room:participant_disconnect", "A participant is disconnected from a room.", {
    room,
    participant: participant("disconnected"),
  }),
  entry("room:invitation_send", "An invitation is sent to a participant to join a room.", {
    room,
    invitation: invitation("sent"),
  }),
  entry("room:invitation_cancel", "An invitation to join a room has been canceled.", {
    room,
    invitation: invitation("canceled"),
  }),
  entry("room:invitation_accept", "A participant has accepted an invitation to join a room.", {
    room,
    invitation: invitation("accepted"),
  }),
  entry("room:invitation_decline", "A participant has declined an invitation to join a room.", {
    room,
    invitation: invitation("declined"),
  }),
  entry("room:invitation_no_answer", "A participant has neither accepted nor declined an invitation.", {
    room,
    invitation: invitation("no_answer"),
  }),
];
