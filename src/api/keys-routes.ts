import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { HeraldError } from "../core/errors.js";
import type { ApiKey } from "../storage/records.js";
import { appOf } from "./auth.js";
import type { ApiContext } from "./context.js";
import { isoTime } from "./pagination.js";
import { absentBodyIsEmpty, IdParams, responses } from "./schemas.js";

const ApiKeyJson = Type.Object(
  {
    api_key: Type.String(),
    created_at: Type.String({ format: "date-time" }),
    signing: Type.Boolean({ description: "true for the newest key, which signs Stream webhooks" }),
  },
  { $id: "ApiKey" },
);
const CreatedApiKey = Type.Object({
  ...ApiKeyJson.properties,
  api_secret: Type.String({ description: "shown only here; it signs webhooks and the server JWTs of Stream's API" }),
});
const NoFields = Type.Object({}, { additionalProperties: false });
const KeyParams = Type.Object({ key: Type.String({ minLength: 1, maxLength: 128 }) });
const AppKeyParams = Type.Object({ ...IdParams.properties, ...KeyParams.properties });

const keyJson = (key: ApiKey, signing: boolean) => ({
  api_key: key.apiKey,
  created_at: isoTime(key.createdAt),
  signing,
});

/**
 * Stream-style API keys of an app, under two prefixes: `/v1/apps/{id}/keys` for the admin and
 * `/v1/keys` for the app's own master token. The newest key signs; every key authenticates.
 */
export const keysRoutes: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  const appOwned = async (id: string) => {
    if (!(await ctx.store.getApp(id))) throw new HeraldError("not_found", `No app "${id}".`);
    return id;
  };
  const routesFor = (
    path: string,
    access: "admin" | "master",
    appIdOf: (request: FastifyRequest) => Promise<string>,
  ) => {
    const params = access === "admin" ? { params: IdParams } : {};
    const keyParams = access === "admin" ? AppKeyParams : KeyParams;
    app.post(
      path,
      {
        config: { access },
        // The key and secret are Herald's to make: a body may be absent or `{}`, nothing else.
        preValidation: absentBodyIsEmpty,
        schema: {
          summary:
            "Create a Stream API key and secret; the secret is in this response only, and the new key signs from now on",
          body: NoFields,
          tags: ["keys"],
          ...params,
          response: responses({ 201: CreatedApiKey }),
        },
      },
      async (request, reply) => {
        const key = await ctx.apps.createApiKey(await appIdOf(request));
        return reply.status(201).send({ ...keyJson(key, true), api_secret: key.secret });
      },
    );
    app.get(
      path,
      {
        config: { access },
        schema: {
          summary: "List the app's API keys, newest (signing) first; secrets are never shown again",
          querystring: NoFields,
          tags: ["keys"],
          ...params,
          response: responses({ 200: Type.Object({ keys: Type.Array(ApiKeyJson) }) }),
        },
      },
      async (request) => {
        const keys = await ctx.store.listApiKeys(await appIdOf(request));
        return { keys: keys.map((key, index) => keyJson(key, index === 0)) };
      },
    );
    app.delete<{ Params: { key: string } }>(
      `${path}/:key`,
      {
        config: { access },
        schema: {
          summary: "Revoke an API key: it stops authenticating at once; the next newest key signs",
          tags: ["keys"],
          params: keyParams,
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        if (!(await ctx.apps.revokeApiKey(await appIdOf(request), request.params.key))) {
          throw new HeraldError("not_found", `No API key "${request.params.key}".`);
        }
        return reply.status(204).send();
      },
    );
  };
  routesFor("/apps/:id/keys", "admin", (request) => appOwned((request.params as { id: string }).id));
  routesFor("/keys", "master", async (request) => appOf(request).id);
};
