import type { FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import { HeraldError } from "../core/errors.js";
import { type AppLimits, LIMITS_NAMESPACE } from "../ingest/publish-rate-limiter.js";
import type { App } from "../storage/records.js";
import type { ApiContext } from "./context.js";
import { decodeCursor, isoTime, nextCursor, parseLimit } from "./pagination.js";
import {
  AppJson,
  AppLimitsJson,
  AppLimitsPatch,
  absentBodyIsEmpty,
  CreatedApp,
  IdParams,
  NewApp,
  NextCursor,
  Overlap,
  Page,
  RotatedToken,
  responses,
} from "./schemas.js";
import { overlapMs, rotatedTokenJson } from "./views.js";

const appJson = (app: App) => ({ id: app.id, name: app.name, created_at: isoTime(app.createdAt) });

interface ById {
  Params: { id: string };
}

/** `/v1/apps`: the deployment admin's routes (`HERALD_ADMIN_TOKEN`) to create, list, rotate and delete apps. */
export const appsRoutes: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  const appOrThrow = async (id: string) => {
    const found = await ctx.store.getApp(id);
    if (!found) throw new HeraldError("not_found", `No app "${id}".`);
    return found;
  };

  app.post<{ Body: { name: string } }>(
    "/apps",
    {
      config: { access: "admin" },
      schema: {
        summary: "Create an app; its master API token is in this response only",
        tags: ["apps"],
        body: NewApp,
        response: responses({ 201: CreatedApp }),
      },
    },
    async (request, reply) => {
      const { app: created, apiToken } = await ctx.apps.create(request.body.name);
      return reply.status(201).send({ ...appJson(created), api_token: apiToken });
    },
  );

  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    "/apps",
    {
      config: { access: "admin" },
      schema: {
        summary: "List apps, newest first",
        tags: ["apps"],
        querystring: Type.Object(Page, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ apps: Type.Array(AppJson), next_cursor: NextCursor }) }),
      },
    },
    async (request) => {
      const limit = parseLimit(request.query.limit);
      const apps = await ctx.store.listApps({ before: decodeCursor(request.query.cursor), limit });
      return { apps: apps.map(appJson), next_cursor: nextCursor(apps, limit) };
    },
  );

  app.get<ById>(
    "/apps/:id",
    {
      config: { access: "admin" },
      schema: {
        summary: "Get an app with its limits",
        tags: ["apps"],
        params: IdParams,
        response: responses({ 200: AppLimitsJson }),
      },
    },
    async (request) => withLimits(await appOrThrow(request.params.id)),
  );

  const withLimits = async (found: App) => {
    const limits = (await ctx.endpoints.appSettings(found.id, LIMITS_NAMESPACE)) as Partial<AppLimits> | undefined;
    return { ...appJson(found), publish_rate_limit: limits?.publish_rate_limit ?? null };
  };

  app.patch<ById & { Body: AppLimits }>(
    "/apps/:id",
    {
      config: { access: "admin" },
      schema: {
        summary: "Set an app's own publish rate limit (events per second), or null for the deployment's default",
        tags: ["apps"],
        params: IdParams,
        body: AppLimitsPatch,
        response: responses({ 200: AppLimitsJson }),
      },
    },
    async (request) => {
      const found = await appOrThrow(request.params.id);
      await ctx.endpoints.saveAppSettings(found.id, LIMITS_NAMESPACE, {
        publish_rate_limit: request.body.publish_rate_limit,
      });
      return withLimits(found);
    },
  );

  app.post<ById & { Body: { overlap_seconds?: number } }>(
    "/apps/:id/rotate-token",
    {
      config: { access: "admin" },
      preValidation: absentBodyIsEmpty,
      schema: {
        summary: "A new master API token that signs at once; the old one authenticates for the overlap (default 24 h)",
        tags: ["apps"],
        params: IdParams,
        body: Overlap,
        response: responses({ 200: RotatedToken }),
      },
    },
    async (request) => {
      const rotated = await ctx.apps.rotateMasterToken(request.params.id, overlapMs(request.body));
      return rotatedTokenJson(request.params.id, rotated);
    },
  );

  app.delete<ById>(
    "/apps/:id",
    {
      config: { access: "admin" },
      schema: {
        summary: "Delete an app with all its data: tokens, endpoints, keys, events, deliveries",
        tags: ["apps"],
        params: IdParams,
        response: responses({ 204: Type.Null() }),
      },
    },
    async (request, reply) => {
      if (!(await ctx.store.deleteApp(request.params.id))) {
        throw new HeraldError("not_found", `No app "${request.params.id}".`);
      }
      ctx.endpoints.forgetApp(request.params.id);
      return reply.status(204).send();
    },
  );
};
