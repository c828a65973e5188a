// For tests that drive a Store directly: the least an app needs to own events.
import type { Store } from "../../src/storage/store.js";

/** Creates app `id` with a master token, as `POST /v1/apps` would. */
export async function createBareApp(store: Store, id: string, createdAt: number): Promise<void> {
  await store.createApp(
    { id, name: id, signingKey: "k", createdAt },
    {
      tokenHash: `master-${id}`,
      appId: id,
      kind: "master",
      preview: "mast…",
      scopes: ["publish", "read", "manage"],
      createdAt,
      expiresAt: null,
    },
  );
}
