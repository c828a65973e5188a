import type { ApiKey, App, Endpoint, SigningKey } from "../storage/records.js";
import type { Store } from "../storage/store.js";

/** An endpoint saved in this process: as it was (absent when new) and as it is now. */
export type EndpointSaved = (before: Endpoint | undefined, after: Endpoint) => void;

interface Cached<T> {
  value: T;
  loadedAt: number;
}

/**
 * Apps, endpoints and signing keys read through a short-lived cache: publishing fans out over
 * endpoints and the worker signs with their keys on every attempt. Changes made in this process
 * show at once (they go through here); changes made by another process sharing the database show
 * within `ttlMs`.
 */
export class EndpointDirectory {
  readonly #byApp = new Map<string, Cached<Endpoint[]>>();
  readonly #byId = new Map<string, Cached<Endpoint>>();
  readonly #apps = new Map<string, Cached<App>>();
  readonly #keys = new Map<string, Cached<SigningKey[]>>();
  readonly #apiKeys = new Map<string, Cached<ApiKey[]>>();
  readonly #settings = new Map<string, Cached<Record<string, unknown> | undefined>>();
  readonly #changeListeners: ((endpointId: string) => void)[] = [];
  readonly #saveListeners: EndpointSaved[] = [];

  constructor(
    private readonly store: Store,
    private readonly ttlMs = 1000,
  ) {}

  #fresh<T>(entry: Cached<T> | undefined): entry is Cached<T> {
    return entry !== undefined && Date.now() - entry.loadedAt < this.ttlMs;
  }

  async forApp(appId: string): Promise<Endpoint[]> {
    const cached = this.#byApp.get(appId);
    if (this.#fresh(cached)) return cached.value;
    const endpoints = await this.store.listEndpoints(appId);
    this.#byApp.set(appId, { value: endpoints, loadedAt: Date.now() });
    return endpoints;
  }

  async get(endpointId: string): Promise<Endpoint | undefined> {
    const cached = this.#byId.get(endpointId);
    if (this.#fresh(cached)) return cached.value;
    const endpoint = await this.store.getEndpoint(endpointId);
    if (endpoint) this.#byId.set(endpointId, { value: endpoint, loadedAt: Date.now() });
    else this.#byId.delete(endpointId);
    return endpoint;
  }

  /** An endpoint of this app, or nothing: another app's endpoint is as absent as a missing one. */
  async ofApp(appId: string, endpointId: string): Promise<Endpoint | undefined> {
    const endpoint = await this.store.getEndpoint(endpointId);
    return endpoint?.appId === appId ? endpoint : undefined;
  }

  async app(appId: string): Promise<App | undefined> {
    const cached = this.#apps.get(appId);
    if (this.#fresh(cached)) return cached.value;
    const app = await this.store.getApp(appId);
    if (app) this.#apps.set(appId, { value: app, loadedAt: Date.now() });
    return app;
  }

  /** The keys that sign an endpoint's deliveries now, newest first. */
  async signingKeys(endpointId: string): Promise<SigningKey[]> {
    const now = Date.now();
    const cached = this.#keys.get(endpointId);
    if (this.#fresh(cached)) return cached.value.filter((key) => key.expiresAt === null || key.expiresAt > now);
    const keys = await this.store.listSigningKeys(endpointId, now);
    this.#keys.set(endpointId, { value: keys, loadedAt: now });
    return keys;
  }

  /** An app's API keys, newest first (the first signs). */
  async apiKeys(appId: string): Promise<ApiKey[]> {
    const cached = this.#apiKeys.get(appId);
    if (this.#fresh(cached)) return cached.value;
    const keys = await this.store.listApiKeys(appId);
    this.#apiKeys.set(appId, { value: keys, loadedAt: Date.now() });
    return keys;
  }

  /** An app's settings in one namespace (its own publish rate, …): read on every publish. */
  async appSettings(appId: string, namespace: string): Promise<Record<string, unknown> | undefined> {
    const key = `${appId}\u0000${namespace}`;
    const cached = this.#settings.get(key);
    if (this.#fresh(cached)) return cached.value;
    const settings = await this.store.getAppSettings(appId, namespace);
    this.#settings.set(key, { value: settings, loadedAt: Date.now() });
    return settings;
  }

  async saveAppSettings(appId: string, namespace: string, settings: Record<string, unknown>): Promise<void> {
    await this.store.saveAppSettings(appId, namespace, settings, Date.now());
    this.#settings.delete(`${appId}\u0000${namespace}`);
  }

  /** Saves an endpoint as given, whatever is stored: a `change` that ignores the current one. */
  async save(endpoint: Endpoint): Promise<void> {
    await this.change(endpoint.id, () => endpoint);
  }

  /**
   * Changes an endpoint as `change` makes it from what is stored now, concurrent changes one after
   * the other (see `Store.changeEndpoint`). Returns the endpoint saved, or undefined (nothing written).
   */
  async change(
    endpointId: string,
    change: (current: Endpoint | undefined) => Endpoint | undefined,
  ): Promise<Endpoint | undefined> {
    const { before, after } = await this.store.changeEndpoint(endpointId, change);
    if (!after) return undefined;
    this.forgetEndpoint(after.appId, after.id);
    for (const listener of this.#saveListeners) listener(before, after);
    return after;
  }

  /** Saves a new endpoint with its first signing keys in one transaction: nothing ever reads it keyless. */
  async create(endpoint: Endpoint, keys: SigningKey[]): Promise<void> {
    await this.store.createEndpoint(endpoint, keys);
    this.forgetEndpoint(endpoint.appId, endpoint.id);
    for (const listener of this.#saveListeners) listener(undefined, endpoint);
  }

  /**
   * Calls back whenever an endpoint changes in this process (saved, deleted, disabled, its keys
   * rotated), after the cache forgot it: the worker applies the change to its queued work at once.
   */
  onEndpointChange(listener: (endpointId: string) => void): void {
    this.#changeListeners.push(listener);
  }

  /** Calls back after each save through this directory, with the endpoint before and after. */
  onEndpointSaved(listener: EndpointSaved): void {
    this.#saveListeners.push(listener);
  }

  /**
   * Deletes a `herald listen` session's endpoint, only while it still has the session's URL: no API
   * changes it (PATCH /v1/endpoints refuses, Stream's PATCH /app leaves it out), but an endpoint with
   * an ordinary URL is never deleted with a session.
   */
  async deleteListenEndpoint(appId: string, endpointId: string, sessionUrl: string): Promise<void> {
    if ((await this.store.getEndpoint(endpointId))?.url !== sessionUrl) return;
    await this.delete(appId, endpointId);
  }

  /** Deletes an app's endpoint (its pending deliveries end failed); false when it has none of that id. */
  async delete(appId: string, endpointId: string): Promise<boolean> {
    const deleted = await this.store.deleteEndpoint(appId, endpointId, Date.now());
    if (deleted) this.forgetEndpoint(appId, endpointId);
    return deleted;
  }

  forgetEndpoint(appId: string, endpointId: string): void {
    this.#byApp.delete(appId);
    this.#byId.delete(endpointId);
    this.#keys.delete(endpointId);
    for (const listener of this.#changeListeners) listener(endpointId);
  }

  forgetApp(appId: string): void {
    this.#apps.delete(appId);
    this.#byApp.delete(appId);
    this.#apiKeys.delete(appId);
    for (const key of this.#settings.keys()) if (key.startsWith(`${appId}\u0000`)) this.#settings.delete(key);
  }
}
