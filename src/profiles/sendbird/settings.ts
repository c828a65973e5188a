import {
  optionalBoolean,
  optionalString,
  optionalStringArray,
  requireObject,
  requireWebhookUrl,
  type WebhookUrlGuard,
} from "../../api/params.js";
import { type Catalog, MAX_TYPE_LENGTH } from "../../catalog/index.js";
import { HeraldError } from "../../core/errors.js";
import type { Endpoint } from "../../storage/records.js";
import { sendbirdCallsCatalog, sendbirdChatCatalog, sendbirdVocabulary } from "./vocabulary.js";

/** Which settings fields a Sendbird product has: Chat has member options, Calls has none. */
export interface SettingsShape {
  /** The product, as it appears in its endpoint's id. */
  product: "sendbird-chat" | "sendbird-calls";
  /** The wire format its endpoint speaks. */
  wireFormat: string;
  catalog: Catalog;
  memberOptions: boolean;
}

export const CHAT_SETTINGS: SettingsShape = {
  product: "sendbird-chat",
  wireFormat: "sendbird",
  catalog: sendbirdChatCatalog,
  memberOptions: true,
};
export const CALLS_SETTINGS: SettingsShape = {
  product: "sendbird-calls",
  wireFormat: "sendbird-calls",
  catalog: sendbirdCallsCatalog,
  memberOptions: false,
};

export const ALL_EVENTS = "*";

/** A Sendbird app has one webhook per product, so its endpoint id follows from the app. */
export const sendbirdEndpointId = (shape: SettingsShape, appId: string): string => `ep_${shape.product}_${appId}`;

/** The `{"webhook": {...}}` body Sendbird's settings routes answer with. */
export function settingsView(endpoint: Endpoint | undefined, shape: SettingsShape, displayAllCategories: boolean) {
  const webhook: Record<string, unknown> = {
    enabled: endpoint?.enabled ?? false,
    url: endpoint?.url ?? "",
  };
  if (shape.memberOptions) {
    webhook.include_members = endpoint?.options.include_members === true;
    webhook.include_unread_count = endpoint?.options.include_unread_count === true;
  }
  webhook.enabled_events = endpoint?.eventTypes ?? [];
  if (displayAllCategories) webhook.all_webhook_categories = shape.catalog.visibleCategories;
  return { webhook };
}

function checkCategories(categories: string[], catalog: Catalog): string[] {
  categories.forEach((category, index) => {
    if (category.length > MAX_TYPE_LENGTH) {
      throw new HeraldError(
        "invalid_value",
        `"enabled_events[${index}]" is longer than ${MAX_TYPE_LENGTH} characters: no category is.`,
        { parameter: `enabled_events[${index}]` },
      );
    }
    if (category === ALL_EVENTS || catalog.has(category)) return;
    const suggestions = catalog.suggest(category);
    const hint = suggestions.length > 0 ? ` Did you mean ${suggestions.map((s) => `"${s}"`).join(", ")}?` : "";
    throw new HeraldError(
      "invalid_value",
      `"enabled_events[${index}]" is not a known category: "${category}".${hint}`,
      {
        parameter: `enabled_events[${index}]`,
        suggestions,
      },
    );
  });
  // "*" means every category, including ones added later, so it is stored as itself.
  return categories.includes(ALL_EVENTS) ? [ALL_EVENTS] : [...new Set(categories)];
}

/** Applies a (partial) PUT body to the current settings; fields the body leaves out keep their value. */
export function applySettingsUpdate(
  current: Endpoint | undefined,
  rawBody: unknown,
  shape: SettingsShape,
  appId: string,
  now: number,
  guard: WebhookUrlGuard,
): Endpoint {
  const body = requireObject(rawBody, "body");
  const enabled = optionalBoolean(body.enabled, "enabled");
  const url = optionalString(body.url, "url");
  const events = optionalStringArray(body.enabled_events, "enabled_events");
  const options = { ...current?.options };
  if (shape.memberOptions) {
    const includeMembers = optionalBoolean(body.include_members, "include_members");
    const includeUnreadCount = optionalBoolean(body.include_unread_count, "include_unread_count");
    if (includeMembers !== undefined) options.include_members = includeMembers;
    if (includeUnreadCount !== undefined) options.include_unread_count = includeUnreadCount;
  }
  const next: Endpoint = {
    id: sendbirdEndpointId(shape, appId),
    appId,
    vocabulary: sendbirdVocabulary.id,
    profile: shape.wireFormat,
    url: url === undefined ? (current?.url ?? "") : requireWebhookUrl(url, "url", guard),
    description: current?.description ?? `Sendbird ${shape.product === "sendbird-chat" ? "Chat" : "Calls"} webhook`,
    enabled: enabled ?? current?.enabled ?? false,
    disabledReason: current?.disabledReason ?? null,
    retryPolicy: current?.retryPolicy ?? "profile",
    eventTypes: events === undefined ? (current?.eventTypes ?? []) : checkCategories(events, shape.catalog),
    headers: current?.headers ?? {},
    options,
    createdAt: current?.createdAt ?? now,
    updatedAt: now,
  };
  // An empty subscription turns webhooks off, as Sendbird documents.
  if (events !== undefined && events.length === 0) next.enabled = false;
  if (next.enabled && next.url === "") {
    throw new HeraldError("missing_parameter", '"url" is required to turn webhooks on.', { parameter: "url" });
  }
  return next;
}
