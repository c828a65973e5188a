import type { CatalogEntry } from "./entry.js";

/**
 * The longest event type any API takes. Longer ones are refused before any comparison, so no
 * request buys an expensive "did you mean" (edit distance grows with the input's length).
 */
export const MAX_TYPE_LENGTH = 256;

/** A set of webhook categories with lookup and "did you mean" suggestions. */
export class Catalog {
  readonly #byCategory: ReadonlyMap<string, CatalogEntry>;
  /** The categories a client may list and subscribe to, without legacy ones, in catalog order. */
  readonly visibleCategories: readonly string[];

  constructor(readonly entries: readonly CatalogEntry[]) {
    this.#byCategory = new Map(entries.map((entry) => [entry.category, entry]));
    this.visibleCategories = entries.filter((entry) => !entry.hidden).map((entry) => entry.category);
  }

  has(category: string): boolean {
    return this.#byCategory.has(category);
  }

  get(category: string): CatalogEntry | undefined {
    return this.#byCategory.get(category);
  }

  /** The known categories closest to a misspelt one, best first. */
  suggest(category: string, limit = 3): string[] {
    // Past this, no known name is close, and comparing would cost time proportional to the input.
    if (category.length > MAX_TYPE_LENGTH) return [];
    return nearest(category, this.visibleCategories, limit);
  }
}

/** Levenshtein distance, two rows at a time. */
/** Up to `limit` of the candidates close enough to `input` to be what was meant, nearest first. */
export function nearest(input: string, candidates: Iterable<string>, limit: number): string[] {
  const maxDistance = Math.max(3, Math.floor(input.length / 3));
  return [...candidates]
    .map((known) => ({ known, distance: editDistance(input, known) }))
    .filter(({ distance }) => distance <= maxDistance)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, limit)
    .map(({ known }) => known);
}

export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length]!;
}
