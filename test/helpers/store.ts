// For tests that drive a Store directly: the least an app needs to own events.
import type { ApiTokenRecord, Endpoint } from "../../src/storage/records.js";
import type { Store } from "../../src/storage/store.js";

/** App `id`'s master token record, as `POST /v1/apps` makes it. */
export const masterToken = (appId: string, createdAt = 0): ApiTokenRecord => ({
  tokenHash: `master-${appId}`,
  appId,
  kind: "master",
  preview: "mast…",
  scopes: ["publish", "read", "manage"],
  createdAt,
  expiresAt: null,
});

/** Creates app `id` with a master token, as `POST /v1/apps` would. */
export async function createBareApp(store: Store, id: string, createdAt: number): Promise<void> {
  await store.createApp({ id, name: id, signingKey: "k", createdAt }, masterToken(id, createdAt));
}

/** A Sendbird endpoint record of app `appId`, enabled, taking every type; `overrides` change any field. */
export const endpointRecord = (appId: string, id: string, overrides: Partial<Endpoint> = {}): Endpoint => ({
  id,
  appId,
  vocabulary: "sendbird",
  profile: "sendbird",
  url: `https://example.test/${id}`,
  description: "",
  enabled: true,
  disabledReason: null,
  retryPolicy: "profile",
  rateLimit: null,
  maxConcurrency: null,
  eventTypes: ["*"],
  headers: {},
  options: {},
  createdAt: 0,
  updatedAt: 0,
  ...overrides,
});
