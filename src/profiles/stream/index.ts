import type { Profile } from "../profile.js";
import { STREAM_PREFIX, streamAppApi, streamPath } from "./app-api.js";
import { streamHooksApi } from "./hooks-api.js";
import { streamVocabulary } from "./vocabulary.js";
import { streamBeforeSendFormat, streamCommandsFormat, streamWireFormat } from "./wire-format.js";

export { streamChatCatalog, streamVocabulary } from "./vocabulary.js";
export { streamBeforeSendFormat, streamCommandsFormat, streamWireFormat } from "./wire-format.js";

/** Stream Chat: its vocabulary, its push and synchronous hook formats, and its `/app` settings API. */
export const stream: Profile = {
  vocabularies: [streamVocabulary],
  wireFormats: [streamWireFormat, streamBeforeSendFormat, streamCommandsFormat],
  apis: [
    { prefix: STREAM_PREFIX, plugin: streamAppApi, route: streamPath },
    { prefix: "/v1/hooks", plugin: streamHooksApi },
  ],
};
