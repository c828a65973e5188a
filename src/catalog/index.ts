import { Catalog } from "./catalog.js";
import { SENDBIRD_CALLS_CATALOG } from "./sendbird-calls.js";
import { SENDBIRD_CHAT_CATALOG } from "./sendbird-chat.js";

export { Catalog, editDistance } from "./catalog.js";
export type { CatalogEntry } from "./entry.js";

export const sendbirdChatCatalog = new Catalog(SENDBIRD_CHAT_CATALOG);
export const sendbirdCallsCatalog = new Catalog(SENDBIRD_CALLS_CATALOG);
