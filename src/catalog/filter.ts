import { HeraldError } from "../core/errors.js";
import { MAX_TYPE_LENGTH, nearest } from "./catalog.js";
import { heraldCatalog, isHeraldType } from "./herald-events.js";
import type { Vocabulary } from "./vocabulary.js";
import { suggestTypes, visibleTypes, vocabularyHas } from "./vocabulary.js";

/** Subscribes to every type, including ones added later. */
export const ALL_TYPES = "*";

/** A filter entry: an exact type, `*`, or a prefix ending in `*` such as `group_channel:*`. */
const isWildcard = (entry: string) => entry.endsWith(ALL_TYPES);

/**
 * Whether an endpoint's filter takes a type: exact names, `*`, and `prefix*` wildcards. Herald's own
 * operational types (`herald.…`) only by exact name: subscribing to everything is not asking for them.
 */
export function filterMatches(filter: readonly string[], type: string): boolean {
  if (isHeraldType(type)) return filter.includes(type);
  for (const entry of filter) {
    if (entry === type || entry === ALL_TYPES) return true;
    if (isWildcard(entry) && type.startsWith(entry.slice(0, -1))) return true;
  }
  return false;
}

/** The wildcards that match known types (`group_channel:*`, `message.*`), nearest to `entry` first. */
function suggestWildcards(known: readonly string[], entry: string, limit = 3): string[] {
  const wildcards = new Set<string>();
  for (const type of known) {
    const end = type.search(/[:.]/);
    if (end > 0) wildcards.add(`${type.slice(0, end + 1)}${ALL_TYPES}`);
  }
  return nearest(entry, wildcards, limit);
}

/**
 * Checks a native filter against a vocabulary: every exact entry must be a known type and every
 * wildcard must match at least one. An empty filter means every type. Names the bad entry.
 */
export function checkFilter(filter: readonly string[], vocabulary: Vocabulary, parameter = "filter"): string[] {
  if (filter.length === 0 || filter.includes(ALL_TYPES)) return [ALL_TYPES];
  const known = visibleTypes(vocabulary);
  filter.forEach((entry, index) => {
    const at = `${parameter}[${index}]`;
    if (entry.length > MAX_TYPE_LENGTH) {
      throw new HeraldError("invalid_value", `"${at}" is longer than ${MAX_TYPE_LENGTH} characters.`, {
        parameter: at,
      });
    }
    if (heraldCatalog.has(entry)) return;
    const valid = isWildcard(entry)
      ? known.some((type) => type.startsWith(entry.slice(0, -1)))
      : vocabularyHas(vocabulary, entry);
    if (valid) return;
    const suggestions = isWildcard(entry) ? suggestWildcards(known, entry) : suggestTypes([vocabulary], entry);
    const hint = suggestions.length > 0 ? ` Did you mean ${suggestions.map((s) => `"${s}"`).join(", ")}?` : "";
    throw new HeraldError("invalid_value", `"${at}" matches no ${vocabulary.id} event type: "${entry}".${hint}`, {
      parameter: at,
      suggestions,
    });
  });
  return [...new Set(filter)];
}
