export { Catalog, editDistance, MAX_TYPE_LENGTH } from "./catalog.js";
export type { CatalogEntry } from "./entry.js";
export { ALL_TYPES, checkFilter, filterMatches } from "./filter.js";
export {
  HERALD_DELIVERY_FAILED,
  HERALD_ENDPOINT_DISABLED,
  HERALD_ENDPOINT_ENABLED,
  heraldCatalog,
  heraldVocabulary,
  isHeraldType,
} from "./herald-events.js";
export { suggestTypes, type Vocabulary, visibleTypes, vocabularyHas } from "./vocabulary.js";
