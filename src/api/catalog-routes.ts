import type { FastifyPluginAsync } from "fastify";
import { PROFILES } from "../profiles/registry.js";
import type { ApiContext } from "./context.js";

/** `GET /v1/catalog`: every category each profile delivers, with a sample payload. No token needed. */
export const catalogRoutes: FastifyPluginAsync<ApiContext> = async (app) => {
  app.get("/catalog", async () => ({
    profiles: PROFILES.map((profile) => ({
      id: profile.id,
      timeout_ms: profile.policy.timeoutMs,
      max_attempts: profile.policy.maxAttempts,
      categories: profile.catalog.entries
        .filter((entry) => !entry.hidden)
        .map((entry) => ({
          category: entry.category,
          group: entry.group,
          description: entry.description,
          sample: entry.sample,
        })),
    })),
  }));
};
