import type { Profile } from "../profile.js";
import { STREAM_PREFIX, streamPath } from "./app-path.js";
import { streamVocabulary } from "./vocabulary.js";
import { streamBeforeSendFormat, streamCommandsFormat, streamWireFormat } from "./wire-format.js";

export { streamChatCatalog, streamVocabulary } from "./vocabulary.js";
export { streamBeforeSendFormat, streamCommandsFormat, streamWireFormat } from "./wire-format.js";

/** Stream Chat: its vocabulary, its push and synchronous hook formats, and its `/app` settings API. */
export const stream: Profile = {
  vocabularies: [streamVocabulary],
  wireFormats: [streamWireFormat, streamBeforeSendFormat, streamCommandsFormat],
  apis: [
    {
      prefix: STREAM_PREFIX,
      loadPlugin: async () => (await import("./app-api.js")).streamAppApi,
      route: streamPath,
    },
    { prefix: "/v1/hooks", loadPlugin: async () => (await import("./hooks-api.js")).streamHooksApi },
  ],
};
