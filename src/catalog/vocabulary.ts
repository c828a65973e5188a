import type { Catalog } from "./catalog.js";
import { editDistance, MAX_TYPE_LENGTH } from "./catalog.js";

/**
 * A vendor's event language: where a published event names its type (Sendbird: `category`;
 * Stream: `type`) and the types it has, grouped in catalogs (Sendbird: Chat and Calls).
 */
export interface Vocabulary {
  readonly id: string;
  /** The field of a published event that holds its type. */
  readonly typeField: string;
  readonly catalogs: readonly Catalog[];
}

/** Whether a vocabulary knows a type. */
export const vocabularyHas = (vocabulary: Vocabulary, type: string): boolean =>
  vocabulary.catalogs.some((catalog) => catalog.has(type));

/** Every type a vocabulary lists for subscription, legacy ones left out. */
export const visibleTypes = (vocabulary: Vocabulary): string[] =>
  vocabulary.catalogs.flatMap((catalog) => catalog.visibleCategories);

/** The known types closest to an unknown one, over several vocabularies, best first. */
export function suggestTypes(vocabularies: readonly Vocabulary[], type: string, limit = 3): string[] {
  if (type.length > MAX_TYPE_LENGTH) return [];
  const candidates = vocabularies.flatMap((vocabulary) =>
    vocabulary.catalogs.flatMap((catalog) => catalog.suggest(type, limit)),
  );
  return [...new Set(candidates)]
    .map((known) => ({ known, distance: editDistance(type, known) }))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, limit)
    .map(({ known }) => known);
}
