import type { Profile } from "../profile.js";
import { sendbirdCallsCatalog, sendbirdChatCatalog, sendbirdVocabulary } from "./vocabulary.js";
import { sendbirdWireFormat } from "./wire-format.js";

export { sendbirdCallsCatalog, sendbirdChatCatalog, sendbirdVocabulary } from "./vocabulary.js";

/** Sendbird Chat's format: `app_id`, 5 s per attempt. */
export const sendbirdChatWire = sendbirdWireFormat({
  id: "sendbird",
  description: "Sendbird Chat: escaped JSON, x-sendbird-signature (HMAC of the body with the master API token)",
  catalog: sendbirdChatCatalog,
  appIdField: "app_id",
  timeoutMs: 5000,
});

/** Sendbird Calls' format: `application_id`, 1 s per attempt. */
export const sendbirdCallsWire = sendbirdWireFormat({
  id: "sendbird-calls",
  description: "Sendbird Calls: as Chat, with application_id and a 1 s timeout",
  catalog: sendbirdCallsCatalog,
  appIdField: "application_id",
  timeoutMs: 1000,
});

/** Sendbird: its vocabulary, the Chat and Calls wire formats, and their settings APIs. */
export const sendbird: Profile = {
  vocabularies: [sendbirdVocabulary],
  wireFormats: [sendbirdChatWire, sendbirdCallsWire],
  apis: [
    { prefix: "/v3/applications", loadPlugin: async () => (await import("./chat-api.js")).sendbirdChatApi },
    { prefix: "/v1/applications", loadPlugin: async () => (await import("./calls-api.js")).sendbirdCallsApi },
  ],
};
