import type { Vocabulary } from "../catalog/index.js";
import type { ManagementApi, Profile, WireFormat } from "./profile.js";
import { sendbird } from "./sendbird/index.js";
import { standardWebhooks } from "./standard/index.js";
import { stream } from "./stream/index.js";

/** Every profile Herald speaks. Adding one is a folder under `src/profiles/` and a line here. */
const PROFILES: readonly Profile[] = [sendbird, standardWebhooks, stream];

export const VOCABULARIES: readonly Vocabulary[] = PROFILES.flatMap((profile) => profile.vocabularies);
export const WIRE_FORMATS: readonly WireFormat[] = PROFILES.flatMap((profile) => profile.wireFormats);
export const MANAGEMENT_APIS: readonly ManagementApi[] = PROFILES.flatMap((profile) => profile.apis);

/** The path a request is routed as, when a vendor API claims it (see `ManagementApi.route`). */
export function routedPath(url: string): string {
  const query = url.indexOf("?");
  const path = query === -1 ? url : url.slice(0, query);
  for (const api of MANAGEMENT_APIS) {
    const routed = api.route?.(path);
    if (routed !== undefined) return routed + (query === -1 ? "" : url.slice(query));
  }
  return url;
}

const wireFormatsById = new Map(WIRE_FORMATS.map((format) => [format.id, format]));
const vocabulariesById = new Map(VOCABULARIES.map((vocabulary) => [vocabulary.id, vocabulary]));

export function wireFormatById(id: string): WireFormat {
  const format = wireFormatsById.get(id);
  if (!format) throw new Error(`No wire format "${id}"`);
  return format;
}

export const findWireFormat = (id: string): WireFormat | undefined => wireFormatsById.get(id);
export const findVocabulary = (id: string): Vocabulary | undefined => vocabulariesById.get(id);

/** The vocabulary a published event is written in: the first whose type field it has. */
export const vocabularyOf = (event: Readonly<Record<string, unknown>>): Vocabulary | undefined =>
  VOCABULARIES.find((vocabulary) => event[vocabulary.typeField] !== undefined);
