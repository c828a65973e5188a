import { editDistance } from "../catalog/catalog.js";
import type { Credential, HeraldClient } from "./client.js";

/** `GET /v1/catalog` as the CLI reads it. */
export interface CatalogJson {
  vocabularies: {
    id: string;
    type_field: string;
    types: { type: string; description: string; sample: Record<string, unknown> }[];
  }[];
}

export const catalogTypes = (catalog: CatalogJson) =>
  catalog.vocabularies.flatMap((vocabulary) => vocabulary.types.map((entry) => entry.type));

export const fetchCatalog = async (client: HeraldClient, credential: Credential) =>
  (await client.call("GET", "/v1/catalog", credential)) as CatalogJson;

/** Known types like a misspelt one: the same family or a few edits away, closest first (the likely fix leads). */
export function closeTypes(known: readonly string[], type: string, limit = 8): string[] {
  const prefix = type.split(/[:.]/)[0] ?? type;
  return known
    .map((candidate) => ({ candidate, distance: editDistance(type, candidate) }))
    .filter(({ candidate, distance }) => candidate.startsWith(prefix) || distance <= 3)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, limit)
    .map(({ candidate }) => candidate);
}
