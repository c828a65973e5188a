import { Catalog } from "./catalog.js";
import type { CatalogEntry } from "./entry.js";
import type { Vocabulary } from "./vocabulary.js";

/** Herald's own operational events: an app subscribes to them by name, like any other type. */
export const HERALD_ENDPOINT_DISABLED = "herald.endpoint.disabled";
export const HERALD_ENDPOINT_ENABLED = "herald.endpoint.enabled";
export const HERALD_DELIVERY_FAILED = "herald.delivery.failed";

const SAMPLE_ENDPOINT = {
  id: "ep_01J9Z6Q3W8X2K4M5N6P7R8S9T0",
  url: "https://example.com/webhooks",
  profile: "standard",
  description: "orders service",
};

const ENTRIES: readonly CatalogEntry[] = [
  {
    category: HERALD_ENDPOINT_DISABLED,
    group: "herald",
    description:
      "An endpoint of the app was disabled: by Herald (a 410 Gone, a long failure streak; `reason` says which) or through an API. Its pending deliveries are held until it is enabled again.",
    sample: {
      type: HERALD_ENDPOINT_DISABLED,
      app_id: "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
      endpoint: SAMPLE_ENDPOINT,
      reason: "100 deliveries in a row failed (HERALD_AUTO_DISABLE_FAILURES is 100)",
      disabled_at: "2026-01-01T12:00:00.000Z",
    },
  },
  {
    category: HERALD_ENDPOINT_ENABLED,
    group: "herald",
    description: "An endpoint of the app was enabled again; the deliveries it held go out.",
    sample: {
      type: HERALD_ENDPOINT_ENABLED,
      app_id: "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
      endpoint: SAMPLE_ENDPOINT,
      enabled_at: "2026-01-01T12:05:00.000Z",
    },
  },
  {
    category: HERALD_DELIVERY_FAILED,
    group: "herald",
    description:
      "A delivery ended failed: its last attempt was refused or its retries ran out. Never sent to the endpoint it is about; at most HERALD_FAILED_EVENTS_PER_MINUTE per app.",
    sample: {
      type: HERALD_DELIVERY_FAILED,
      app_id: "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
      endpoint: SAMPLE_ENDPOINT,
      delivery: {
        id: "msg_01J9Z6Q3W8X2K4M5N6P7R8S9T1",
        event_type: "group_channel:message_send",
        attempts: 8,
        last_status_code: 503,
        last_error: "status 503",
      },
      failed_at: "2026-01-01T12:00:00.000Z",
    },
  },
];

export const heraldCatalog = new Catalog(ENTRIES);

/**
 * Herald's vocabulary: the operational events, named in `type`. Every endpoint may subscribe to
 * them whatever its own vocabulary, by exact name only: `*` and `prefix*` never match them.
 */
export const heraldVocabulary: Vocabulary = { id: "herald", typeField: "type", catalogs: [heraldCatalog] };

/** Whether a type is one of Herald's own (`herald.` names are reserved). */
export const isHeraldType = (type: string): boolean => type.startsWith("herald.");
