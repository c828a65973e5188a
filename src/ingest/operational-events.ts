import type { EndpointDirectory } from "../apps/endpoint-directory.js";
import {
  filterMatches,
  HERALD_DELIVERY_FAILED,
  HERALD_ENDPOINT_DISABLED,
  HERALD_ENDPOINT_ENABLED,
  isHeraldType,
} from "../catalog/index.js";
import { newDeliveryId, newEventId } from "../core/ids.js";
import { stringifyJson } from "../core/json.js";
import type { Logger } from "../core/logger.js";
import { policyOf } from "../delivery/retry.js";
import type { FailedDelivery } from "../delivery/worker.js";
import { findVocabulary, findWireFormat } from "../profiles/registry.js";
import type { Endpoint, NewDelivery } from "../storage/records.js";
import { AppGoneError, type Store } from "../storage/store.js";

const MINUTE_MS = 60_000;

/** How an operational event names the endpoint it is about: never its headers or secrets. */
const endpointSummary = (endpoint: Endpoint) => ({
  id: endpoint.id,
  url: endpoint.url,
  profile: endpoint.profile,
  description: endpoint.description,
});

/**
 * Publishes Herald's own operational events (`herald.endpoint.disabled`, `herald.endpoint.enabled`,
 * `herald.delivery.failed`) to the app's endpoints that name them in their filter, each in its own
 * wire format. They are ordinary events and deliveries: logged, retried, signed as any other.
 */
export class OperationalEvents {
  /** `herald.delivery.failed` events per app in the current minute: a dead endpoint cannot flood. */
  readonly #failedThisMinute = new Map<string, { since: number; count: number }>();

  constructor(
    private readonly store: Store,
    private readonly endpoints: EndpointDirectory,
    private readonly failedPerMinute: number,
    private readonly logger: Logger,
    /** Deliveries were committed for these endpoints: wake the worker. */
    private readonly onPublished: (endpointIds: ReadonlySet<string>) => void,
  ) {}

  endpointDisabled(endpoint: Endpoint, reason: string | null, now = Date.now()): void {
    this.#emit(endpoint.appId, HERALD_ENDPOINT_DISABLED, now, {
      app_id: endpoint.appId,
      endpoint: endpointSummary(endpoint),
      reason,
      disabled_at: new Date(now).toISOString(),
    });
  }

  endpointEnabled(endpoint: Endpoint, now = Date.now()): void {
    this.#emit(endpoint.appId, HERALD_ENDPOINT_ENABLED, now, {
      app_id: endpoint.appId,
      endpoint: endpointSummary(endpoint),
      enabled_at: new Date(now).toISOString(),
    });
  }

  /** A dead letter: told to the app's other subscribed endpoints, never to the one that failed. */
  deliveryFailed(failed: FailedDelivery): void {
    // A failed report about a failed report would let two dead endpoints feed each other.
    if (isHeraldType(failed.type) || !this.#withinCap(failed.endpoint.appId, failed.endedAt)) return;
    this.#emit(
      failed.endpoint.appId,
      HERALD_DELIVERY_FAILED,
      failed.endedAt,
      {
        app_id: failed.endpoint.appId,
        endpoint: endpointSummary(failed.endpoint),
        delivery: {
          id: failed.deliveryId,
          event_type: failed.type,
          attempts: failed.attempts,
          last_status_code: failed.statusCode,
          last_error: failed.error,
        },
        failed_at: new Date(failed.endedAt).toISOString(),
      },
      failed.endpoint.id,
    );
  }

  #withinCap(appId: string, now: number): boolean {
    const window = this.#failedThisMinute.get(appId);
    if (!window || now - window.since >= MINUTE_MS) {
      this.#failedThisMinute.set(appId, { since: now, count: 1 });
      return this.failedPerMinute > 0;
    }
    window.count++;
    return window.count <= this.failedPerMinute;
  }

  #emit(appId: string, type: string, now: number, data: Record<string, unknown>, skipEndpointId?: string): void {
    this.#publish(appId, type, now, data, skipEndpointId).catch((error: unknown) => {
      // Deleting an app while its endpoints fail is no fault: nobody is left to tell.
      if (error instanceof AppGoneError) this.logger.debug({ appId, type }, "operational event dropped: app deleted");
      else this.logger.error({ err: error, appId, type }, "publishing an operational event failed");
    });
  }

  async #publish(
    appId: string,
    type: string,
    now: number,
    data: Record<string, unknown>,
    skipEndpointId?: string,
  ): Promise<void> {
    const app = await this.endpoints.app(appId);
    if (!app) return;
    const subscribed = (await this.endpoints.forApp(appId)).filter(
      (endpoint) =>
        endpoint.enabled &&
        endpoint.url !== "" &&
        endpoint.id !== skipEndpointId &&
        filterMatches(endpoint.eventTypes, type),
    );
    if (subscribed.length === 0) return;
    const eventId = newEventId();
    const deliveries: NewDelivery[] = [];
    for (const endpoint of subscribed) {
      const wire = findWireFormat(endpoint.profile);
      const vocabulary = findVocabulary(endpoint.vocabulary);
      if (!wire || wire.synchronous || !vocabulary) continue;
      // Named the way the endpoint's own vocabulary names types: Sendbird's `category`, Stream's `type`.
      const payload = { [vocabulary.typeField]: type, ...data };
      deliveries.push({
        id: newDeliveryId(),
        appId,
        eventId,
        endpointId: endpoint.id,
        body: wire.render({ id: eventId, type, createdAt: now, payload }, endpoint, app),
        maxAttempts: policyOf(wire.policy, endpoint).maxAttempts,
        createdAt: now,
      });
    }
    const event = { id: eventId, appId, type, payload: stringifyJson({ type, ...data }) ?? "{}", createdAt: now };
    await this.store.publish({ appId, events: [event], deliveries });
    this.onPublished(new Set(deliveries.map((delivery) => delivery.endpointId)));
  }
}
