import { editDistance as editDistanceOf } from "../catalog/index.js";
import type { ProfileId } from "../storage/records.js";
import type { Profile } from "./profile.js";
import { sendbirdCallsProfile, sendbirdChatProfile } from "./sendbird/index.js";

/** Every wire profile Herald speaks. Adding one is adding it here; the engine needs no change. */
export const PROFILES: readonly Profile[] = [sendbirdChatProfile, sendbirdCallsProfile];

const byId = new Map<ProfileId, Profile>(PROFILES.map((profile) => [profile.id, profile]));

export function profileById(id: ProfileId): Profile {
  const profile = byId.get(id);
  if (!profile) throw new Error(`No profile "${id}"`);
  return profile;
}

/** Whether any profile delivers this category. */
export const isKnownCategory = (category: string): boolean => PROFILES.some((profile) => profile.catalog.has(category));

/** The known categories closest to an unknown one, over every profile. */
export function suggestCategories(category: string, limit = 3): string[] {
  const scored = PROFILES.flatMap((profile) => profile.catalog.suggest(category, limit));
  return [...new Set(scored)]
    .map((known) => ({ known, distance: editDistanceOf(category, known) }))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, limit)
    .map(({ known }) => known);
}
