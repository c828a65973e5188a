import { sendbirdCallsCatalog, sendbirdChatCatalog } from "../../catalog/index.js";
import { sendbirdCallsApi } from "./calls-api.js";
import { sendbirdChatApi } from "./chat-api.js";
import { sendbirdProfile } from "./sendbird-profile.js";

/** Sendbird Chat: `app_id`, 5 s per attempt, settings at `/v3/applications/settings/webhook`. */
export const sendbirdChatProfile = sendbirdProfile({
  id: "sendbird-chat",
  catalog: sendbirdChatCatalog,
  appIdField: "app_id",
  timeoutMs: 5000,
  api: { prefix: "/v3/applications", plugin: sendbirdChatApi },
});

/** Sendbird Calls: `application_id`, 1 s per attempt, settings at `/v1/applications/{id}/settings/webhook`. */
export const sendbirdCallsProfile = sendbirdProfile({
  id: "sendbird-calls",
  catalog: sendbirdCallsCatalog,
  appIdField: "application_id",
  timeoutMs: 1000,
  api: { prefix: "/v1/applications", plugin: sendbirdCallsApi },
});
