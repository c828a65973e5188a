import { isPlainObject } from "../api/params.js";
import type { EndpointDirectory } from "../apps/endpoint-directory.js";
import { filterMatches, suggestTypes, type Vocabulary, vocabularyHas } from "../catalog/index.js";
import { HeraldError } from "../core/errors.js";
import { newDeliveryId, newEventId } from "../core/ids.js";
import { VOCABULARIES, vocabularyOf, wireFormatById } from "../profiles/registry.js";
import type { App, Endpoint, NewDelivery, NewEvent } from "../storage/records.js";
import type { Store } from "../storage/store.js";

export interface PublishOptions {
  /** Makes a repeated publish with the same key a no-op that answers as the first one did. */
  idempotencyKey?: string;
  /** Name events in errors as `events[i]`, as the batch API's body does. */
  batch?: boolean;
}

export interface PublishResult {
  eventIds: string[];
  /** True when an earlier publish with the same idempotency key answered. */
  replayed: boolean;
}

/** Called after each commit: how many events, and which endpoints got deliveries (so a worker starts at once). */
export type OnPublished = (eventCount: number, endpointIds: ReadonlySet<string>) => void;

/** Longer type names are refused before any comparison, so no request buys an expensive suggestion. */
const MAX_TYPE_LENGTH = 256;

const subscribes = (endpoint: Endpoint, vocabulary: Vocabulary, type: string): boolean =>
  endpoint.enabled &&
  endpoint.url !== "" &&
  endpoint.vocabulary === vocabulary.id &&
  (wireFormatById(endpoint.profile).carries?.(type) ?? true) &&
  filterMatches(endpoint.eventTypes, type);

/** Checks one event and returns its vocabulary and type; `at` names it in errors, e.g. `events[3]`. */
function validateEvent(event: unknown, at: string): { vocabulary: Vocabulary; type: string } {
  if (!isPlainObject(event)) {
    throw new HeraldError("invalid_type", `"${at}" must be a JSON object.`, { parameter: at, expected: "object" });
  }
  const vocabulary = vocabularyOf(event);
  const field = (name: string) => `${at === "event" ? "" : `${at}.`}${name}`;
  if (!vocabulary) {
    const fields = VOCABULARIES.map((known) => `"${field(known.typeField)}"`).join(" or ");
    throw new HeraldError("missing_parameter", `${fields} is required.`, {
      parameter: field(VOCABULARIES[0]!.typeField),
    });
  }
  const parameter = field(vocabulary.typeField);
  const type = event[vocabulary.typeField];
  if (typeof type !== "string") {
    throw new HeraldError("invalid_type", `"${parameter}" must be a string.`, { parameter, expected: "string" });
  }
  if (type.length > MAX_TYPE_LENGTH) {
    throw new HeraldError("invalid_value", `"${parameter}" is longer than ${MAX_TYPE_LENGTH} characters.`, {
      parameter,
    });
  }
  if (!vocabularyHas(vocabulary, type)) {
    const suggestions = suggestTypes([vocabulary], type);
    const hint = suggestions.length > 0 ? ` Did you mean ${suggestions.map((s) => `"${s}"`).join(", ")}?` : "";
    throw new HeraldError("invalid_value", `Unknown ${vocabulary.typeField} "${type}" in "${parameter}".${hint}`, {
      parameter,
      suggestions,
    });
  }
  return { vocabulary, type };
}

/**
 * The one way events enter Herald (HTTP API, in-process API): validate every event, fan each out to
 * the endpoints that subscribe to it, and commit events and deliveries together before answering.
 */
export class Publisher {
  constructor(
    private readonly store: Store,
    private readonly endpoints: EndpointDirectory,
    private readonly idempotencyTtlMs: number,
    private readonly onPublished: OnPublished,
  ) {}

  async publish(app: App, events: readonly unknown[], options: PublishOptions = {}): Promise<PublishResult> {
    const key = options.idempotencyKey;
    const now = Date.now();
    if (key !== undefined) {
      const earlier = await this.#replay(app.id, key, now);
      if (earlier) return earlier;
    }
    const typed = events.map((event, index) =>
      validateEvent(event, events.length === 1 ? "event" : `events[${index}]`),
    );
    const endpoints = await this.endpoints.forApp(app.id);
    const newEvents: NewEvent[] = [];
    const deliveries: NewDelivery[] = [];
    const touched = new Set<string>();
    events.forEach((event, index) => {
      const payload = event as Record<string, unknown>;
      const { vocabulary, type } = typed[index]!;
      const stored: NewEvent = {
        id: newEventId(),
        appId: app.id,
        type,
        payload: JSON.stringify(payload),
        createdAt: now,
      };
      newEvents.push(stored);
      for (const endpoint of endpoints) {
        if (!subscribes(endpoint, vocabulary, type)) continue;
        const wire = wireFormatById(endpoint.profile);
        deliveries.push({
          id: newDeliveryId(),
          appId: app.id,
          eventId: stored.id,
          endpointId: endpoint.id,
          body: wire.render({ id: stored.id, type, createdAt: now, payload }, endpoint, app),
          maxAttempts: wire.policy.maxAttempts,
          createdAt: now,
        });
        touched.add(endpoint.id);
      }
    });
    const eventIds = newEvents.map((event) => event.id);
    const idempotency =
      key === undefined
        ? undefined
        : {
            key,
            response: JSON.stringify(eventIds),
            createdAt: now,
            expiredBefore: now - this.idempotencyTtlMs,
          };
    const published = await this.store.publish({ appId: app.id, events: newEvents, deliveries, idempotency });
    if (!published) {
      // Another request with the same key committed first: answer as it did.
      const earlier = await this.#replay(app.id, key!, now);
      if (earlier) return earlier;
      throw new HeraldError("conflict", "A request with this Idempotency-Key is in progress; try again.");
    }
    this.onPublished(newEvents.length, touched);
    return { eventIds, replayed: false };
  }

  async #replay(appId: string, key: string, now: number): Promise<PublishResult | undefined> {
    const response = await this.store.findIdempotentResponse(appId, key, now - this.idempotencyTtlMs);
    return response === undefined ? undefined : { eventIds: JSON.parse(response) as string[], replayed: true };
  }
}
