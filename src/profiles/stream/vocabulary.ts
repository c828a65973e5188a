import { Catalog, type Vocabulary } from "../../catalog/index.js";
import { STREAM_CHAT_CATALOG } from "./catalog.js";

export const streamChatCatalog = new Catalog(STREAM_CHAT_CATALOG);

/** Stream's events name their type in `type`: one catalog, Chat's. */
export const streamVocabulary: Vocabulary = {
  id: "stream",
  typeField: "type",
  catalogs: [streamChatCatalog],
};

/** The `GET /hook/events` list: every type a hook can subscribe to, each for the `chat` product. */
export function hookEvents(): { name: string; description: string; products: string[] }[] {
  return streamChatCatalog.visibleCategories.map((name) => ({
    name,
    description: streamChatCatalog.get(name)!.description,
    products: ["chat"],
  }));
}
