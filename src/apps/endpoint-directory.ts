import type { Endpoint } from "../storage/records.js";
import type { Store } from "../storage/store.js";

/**
 * Endpoints read through a short-lived cache: publishing fans out over them and the worker sends to
 * them on every attempt. Changes made in this process show at once; changes made by another
 * process sharing the database show within `ttlMs`.
 */
export class EndpointDirectory {
  readonly #byApp = new Map<string, { endpoints: Endpoint[]; loadedAt: number }>();
  readonly #byId = new Map<string, { endpoint: Endpoint; loadedAt: number }>();

  constructor(
    private readonly store: Store,
    private readonly ttlMs = 1000,
  ) {}

  async forApp(appId: string): Promise<Endpoint[]> {
    const cached = this.#byApp.get(appId);
    if (cached && Date.now() - cached.loadedAt < this.ttlMs) return cached.endpoints;
    const endpoints = await this.store.listEndpoints(appId);
    this.#byApp.set(appId, { endpoints, loadedAt: Date.now() });
    return endpoints;
  }

  async get(endpointId: string): Promise<Endpoint | undefined> {
    const cached = this.#byId.get(endpointId);
    if (cached && Date.now() - cached.loadedAt < this.ttlMs) return cached.endpoint;
    const endpoint = await this.store.getEndpoint(endpointId);
    if (endpoint) this.#byId.set(endpointId, { endpoint, loadedAt: Date.now() });
    return endpoint;
  }

  async save(endpoint: Endpoint): Promise<void> {
    await this.store.saveEndpoint(endpoint);
    this.#byApp.delete(endpoint.appId);
    this.#byId.delete(endpoint.id);
  }
}
