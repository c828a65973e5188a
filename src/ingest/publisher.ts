import { createHash } from "node:crypto";
import { isPlainObject } from "../api/params.js";
import type { EndpointDirectory } from "../apps/endpoint-directory.js";
import { filterMatches, MAX_TYPE_LENGTH, suggestTypes, type Vocabulary, vocabularyHas } from "../catalog/index.js";
import { HeraldError } from "../core/errors.js";
import { yieldToEventLoop } from "../core/event-loop.js";
import { newDeliveryId, newEventId } from "../core/ids.js";
import { stringifyJson } from "../core/json.js";
import { TurnsPerKey } from "../core/turns-per-key.js";
import { policyOf } from "../delivery/retry.js";
import { VOCABULARIES, vocabularyOf, wireFormatById } from "../profiles/registry.js";
import type { App, Endpoint, IdempotencyRecord, NewDelivery, NewEvent } from "../storage/records.js";
import type { Store } from "../storage/store.js";
import { type GateTurn, PublishGate } from "./publish-gate.js";
import type { PublishRateLimiter } from "./publish-rate-limiter.js";

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

/** Events rendered between two yields to the event loop. */
const YIELD_EVERY_EVENTS = 50;

/**
 * `items.map(work)`, giving other requests a turn of the event loop every {@link YIELD_EVERY_EVENTS}
 * items: one app's 1,000 events must not hold the loop (and every other app's publish) for the whole
 * of their serialising or rendering.
 */
async function mapInSlices<T, R>(items: readonly T[], work: (item: T, index: number) => R): Promise<R[]> {
  const results: R[] = [];
  for (let index = 0; index < items.length; index++) {
    if (index > 0 && index % YIELD_EVERY_EVENTS === 0) await yieldToEventLoop();
    results.push(work(items[index]!, index));
  }
  return results;
}

/** Called at each commit: how many events, and which endpoints got deliveries (so a worker starts at once). */
export type OnPublished = (eventCount: number, endpointIds: ReadonlySet<string>) => void;

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
  // An app's concurrent publishes render in turn, so a flood of big batches holds the event loop for
  // one batch's slice at a time, not one per request in flight, and another app's event goes in between.
  readonly #renderTurns = new TurnsPerKey();

  constructor(
    private readonly store: Store,
    private readonly endpoints: EndpointDirectory,
    private readonly idempotencyTtlMs: number,
    private readonly onPublished: OnPublished,
    private readonly rateLimiter?: PublishRateLimiter,
    private readonly gate = new PublishGate(),
  ) {}

  /** Refuses an app over its rate before its events are read (the rate limiter says when). */
  async refuseOverRate(appId: string): Promise<void> {
    await this.rateLimiter?.refuseIfEmpty(appId);
  }

  /** An upload of `bytes` to publish to the app takes its turn (see {@link PublishGate}) before it is read. */
  enterGate(appId: string, bytes: number): GateTurn {
    return this.gate.enter(appId, bytes);
  }

  async publish(app: App, events: readonly unknown[], options: PublishOptions = {}): Promise<PublishResult> {
    const key = options.idempotencyKey;
    const now = Date.now();
    // Each event is serialised once: stored as is, and (with a key) fingerprinted. In slices, but not
    // in turn: taking turns here too cost a flooding app a third of its rate and gave others nothing.
    const payloads = await mapInSlices(events, (event) => stringifyJson(event) ?? "null");
    let idempotency: Omit<IdempotencyRecord, "response"> | undefined;
    if (key !== undefined) {
      idempotency = {
        // The same function serves the in-process API, which publishes as these routes do.
        scope: options.batch ? "POST /v1/events/batch" : "POST /v1/events",
        key,
        // Serialised JSON holds no raw newline, so the joined text names one list of events.
        requestSha256: createHash("sha256").update(payloads.join("\n")).digest("hex"),
        createdAt: now,
        expiredBefore: now - this.idempotencyTtlMs,
      };
      const earlier = await this.#replay(app.id, idempotency, now);
      if (earlier) return earlier;
    }
    const typed = events.map((event, index) =>
      validateEvent(event, events.length === 1 ? "event" : `events[${index}]`),
    );
    // After validation (bad input is a 400 whatever the rate) and replays (a retry costs nothing).
    await this.rateLimiter?.take(app.id, events.length);
    // Rendering is CPU work in one thread: an app's publishes take turns (the commits may overlap).
    const { newEvents, deliveries, touched } = await this.#renderTurns.run(app.id, () =>
      this.#render(app, events, typed, payloads, now),
    );
    const eventIds = newEvents.map((event) => event.id);
    const published = await this.store.publish(
      {
        appId: app.id,
        events: newEvents,
        deliveries,
        idempotency: idempotency && { ...idempotency, response: JSON.stringify(eventIds) },
      },
      // Workers start as soon as the rows can be claimed; the 202 waits for the flush to disk.
      () => this.onPublished(newEvents.length, touched),
    );
    if (!published) {
      // Another request with the same key committed first: answer as it did.
      const earlier = await this.#replay(app.id, idempotency!, now);
      if (earlier) return earlier;
      throw new HeraldError("conflict", "A request with this Idempotency-Key is in progress; try again.");
    }
    return { eventIds, replayed: false };
  }

  /** Each event's row, and a delivery per subscribed endpoint rendered in its wire format. */
  async #render(
    app: App,
    events: readonly unknown[],
    typed: readonly { vocabulary: Vocabulary; type: string }[],
    payloads: readonly string[],
    now: number,
  ): Promise<{ newEvents: NewEvent[]; deliveries: NewDelivery[]; touched: Set<string> }> {
    const endpoints = await this.endpoints.forApp(app.id);
    const deliveries: NewDelivery[] = [];
    const touched = new Set<string>();
    const newEvents = await mapInSlices(events, (event, index) => {
      const payload = event as Record<string, unknown>;
      const { vocabulary, type } = typed[index]!;
      const stored: NewEvent = {
        id: newEventId(),
        appId: app.id,
        type,
        payload: payloads[index]!,
        createdAt: now,
      };
      // This event's renderings by format and what of the endpoint the format reads, each with the
      // delivery that stores it: endpoints alike share the rendering and the stored body.
      let renderings: Map<string, { body: string; storedBy: string }> | undefined;
      for (const endpoint of endpoints) {
        if (!subscribes(endpoint, vocabulary, type)) continue;
        const wire = wireFormatById(endpoint.profile);
        const id = newDeliveryId();
        const variant = wire.renderVariant && `${wire.id}:${wire.renderVariant(endpoint)}`;
        const earlier = variant === undefined ? undefined : renderings?.get(variant);
        const body = earlier?.body ?? wire.render({ id: stored.id, type, createdAt: now, payload }, endpoint, app);
        if (variant !== undefined && earlier === undefined) {
          renderings ??= new Map();
          renderings.set(variant, { body, storedBy: id });
        }
        deliveries.push({
          id,
          appId: app.id,
          eventId: stored.id,
          endpointId: endpoint.id,
          body,
          bodyOf: earlier?.storedBy,
          maxAttempts: policyOf(wire.policy, endpoint).maxAttempts,
          createdAt: now,
        });
        touched.add(endpoint.id);
      }
      return stored;
    });
    return { newEvents, deliveries, touched };
  }

  /** The earlier request's answer under this key; a 422 when that request had another body. */
  async #replay(
    appId: string,
    request: Omit<IdempotencyRecord, "response">,
    now: number,
  ): Promise<PublishResult | undefined> {
    const earlier = await this.store.findIdempotentResponse(
      appId,
      request.scope,
      request.key,
      now - this.idempotencyTtlMs,
    );
    if (earlier === undefined) return undefined;
    if (earlier.requestSha256 !== null && earlier.requestSha256 !== request.requestSha256) {
      throw new HeraldError(
        "idempotency_mismatch",
        `This Idempotency-Key was used with a different request body on ${request.scope}; ` +
          "a key names one request: use a new key for a new one.",
        { parameter: "Idempotency-Key" },
      );
    }
    return { eventIds: JSON.parse(earlier.response) as string[], replayed: true };
  }
}
