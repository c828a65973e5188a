import { Catalog, type Vocabulary } from "../../catalog/index.js";
import { SENDBIRD_CALLS_CATALOG } from "./calls-catalog.js";
import { SENDBIRD_CHAT_CATALOG } from "./chat-catalog.js";

export const sendbirdChatCatalog = new Catalog(SENDBIRD_CHAT_CATALOG);
export const sendbirdCallsCatalog = new Catalog(SENDBIRD_CALLS_CATALOG);

/** Sendbird's events name their type in `category`: Chat's and Calls' catalogs. */
export const sendbirdVocabulary: Vocabulary = {
  id: "sendbird",
  typeField: "category",
  catalogs: [sendbirdChatCatalog, sendbirdCallsCatalog],
};
