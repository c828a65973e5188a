import type { FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import { tokenId } from "../apps/apps.js";
import { HeraldError } from "../core/errors.js";
import { ALL_SCOPES, type ApiTokenRecord, type Scope } from "../storage/records.js";
import { appOf } from "./auth.js";
import type { ApiContext } from "./context.js";
import { iso, isoTime, pageOf } from "./pagination.js";
import {
  absentBodyIsEmpty,
  IdParams,
  NewToken,
  NextCursor,
  Overlap,
  Page,
  RotatedToken,
  responses,
  TokenJson,
} from "./schemas.js";
import { overlapMs, rotatedTokenJson } from "./views.js";

const tokenJson = (record: ApiTokenRecord) => ({
  id: tokenId(record),
  kind: record.kind,
  preview: record.preview,
  scopes: record.scopes,
  created_at: isoTime(record.createdAt),
  expires_at: iso(record.expiresAt),
});

/** `/v1/tokens`: an app's API tokens, managed with its master token (as Sendbird has it). */
export const tokensRoutes: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  app.post<{ Body: { scopes?: Scope[] } }>(
    "/tokens",
    {
      config: { access: "master" },
      preValidation: absentBodyIsEmpty,
      schema: {
        summary: "Create a secondary token with some scopes (default all); the token is in this response only",
        tags: ["tokens"],
        body: NewToken,
        response: responses({
          201: Type.Object({ ...TokenJson.properties, token: Type.String() }),
        }),
      },
    },
    async (request, reply) => {
      const scopes = request.body.scopes ?? [...ALL_SCOPES];
      const { token, record } = await ctx.apps.createSecondaryToken(appOf(request).id, scopes);
      return reply.status(201).send({ ...tokenJson(record), token });
    },
  );

  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    "/tokens",
    {
      config: { access: "master" },
      schema: {
        summary: "List the app's tokens (previews only)",
        tags: ["tokens"],
        querystring: Type.Object(Page, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ tokens: Type.Array(TokenJson), next_cursor: NextCursor }) }),
      },
    },
    async (request) => {
      const tokens = await ctx.store.listApiTokens(appOf(request).id, Date.now());
      const { page, next } = pageOf(tokens, (t) => ({ createdAt: t.createdAt, id: tokenId(t) }), request.query);
      return { tokens: page.map(tokenJson), next_cursor: next };
    },
  );

  app.delete<{ Params: { id: string } }>(
    "/tokens/:id",
    {
      config: { access: "master" },
      schema: {
        summary: "Revoke a secondary token",
        tags: ["tokens"],
        params: IdParams,
        response: responses({ 204: Type.Null() }, [400, 401, 403, 404, 409]),
      },
    },
    async (request, reply) => {
      const tenant = appOf(request);
      const record = (await ctx.store.listApiTokens(tenant.id, Date.now())).find(
        (t) => tokenId(t) === request.params.id,
      );
      if (!record) throw new HeraldError("not_found", `No token "${request.params.id}".`);
      if (record.kind === "master") {
        throw new HeraldError("conflict", "The master token cannot be revoked; rotate it instead.");
      }
      await ctx.store.deleteApiToken(tenant.id, record.tokenHash);
      return reply.status(204).send();
    },
  );

  app.post<{ Body: { overlap_seconds?: number } }>(
    "/tokens/master/rotate",
    {
      config: { access: "master" },
      preValidation: absentBodyIsEmpty,
      schema: {
        summary:
          "Rotate the app's own master token: the new one signs at once, the old one authenticates for the overlap",
        tags: ["tokens"],
        body: Overlap,
        response: responses({ 200: RotatedToken }),
      },
    },
    async (request) => {
      const tenant = appOf(request);
      return rotatedTokenJson(tenant.id, await ctx.apps.rotateMasterToken(tenant.id, overlapMs(request.body)));
    },
  );
};
