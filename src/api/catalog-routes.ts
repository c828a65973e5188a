import type { FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import { heraldVocabulary } from "../catalog/index.js";
import { VOCABULARIES, WIRE_FORMATS } from "../profiles/registry.js";
import type { ApiContext } from "./context.js";
import { NoQuery, responses } from "./schemas.js";

const CatalogJson = Type.Object({
  vocabularies: Type.Array(
    Type.Object({
      id: Type.String(),
      type_field: Type.String(),
      types: Type.Array(
        Type.Object({
          type: Type.String(),
          group: Type.String(),
          description: Type.String(),
          sample: Type.Record(Type.String(), Type.Unsafe<unknown>({})),
        }),
      ),
    }),
  ),
  profiles: Type.Array(
    Type.Object({
      id: Type.String(),
      description: Type.String(),
      timeout_ms: Type.Integer(),
      max_attempts: Type.Integer(),
      retry_delays_ms: Type.Array(Type.Integer()),
    }),
  ),
});

/** `GET /v1/catalog`: every event type of every vocabulary with a sample, and every wire format's policy. No token needed. */
export const catalogRoutes: FastifyPluginAsync<ApiContext> = async (app) => {
  const catalog = {
    // Herald's own operational events last: subscribable from every vocabulary, never published.
    vocabularies: [...VOCABULARIES, heraldVocabulary].map((vocabulary) => ({
      id: vocabulary.id,
      type_field: vocabulary.typeField,
      types: vocabulary.catalogs.flatMap((catalog) =>
        catalog.entries
          .filter((entry) => !entry.hidden)
          .map((entry) => ({
            type: entry.category,
            group: entry.group,
            description: entry.description,
            sample: entry.sample,
          })),
      ),
    })),
    profiles: WIRE_FORMATS.map((format) => ({
      id: format.id,
      description: format.description,
      timeout_ms: format.policy.timeoutMs,
      max_attempts: format.policy.maxAttempts,
      retry_delays_ms: [...format.policy.retryDelaysMs],
    })),
  };
  app.get(
    "/catalog",
    {
      config: { access: "public" },
      schema: {
        summary: "Every event type of every vocabulary, and every wire format",
        tags: ["catalog"],
        querystring: NoQuery,
        response: responses({ 200: CatalogJson }, [400]),
      },
    },
    async () => catalog,
  );
};
