import type { FastifyPluginAsync } from "fastify";
import { Type } from "typebox";
import { HeraldError } from "../core/errors.js";
import { apiTokenOrBearer, tokenPrincipals } from "./auth.js";
import type { ApiContext } from "./context.js";
import { NoQuery, responses } from "./schemas.js";

const SessionJson = Type.Union([
  Type.Object({ kind: Type.Literal("admin") }),
  Type.Object({
    kind: Type.Literal("app"),
    app: Type.Object({ id: Type.String(), name: Type.String() }),
    scopes: Type.Array(Type.String()),
    master: Type.Boolean({ description: "the app's master token" }),
  }),
]);

/**
 * `GET /v1/session`: who the presented credential is: the deployment admin, or an app with its
 * scopes and whether it is the master token. Any valid credential may ask (a publish-only token
 * too), so a client signed in with a token alone (the dashboard) learns what it is without a
 * failed request.
 */
export const sessionRoutes: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  const identify = tokenPrincipals({ ...ctx, adminToken: ctx.config.adminToken, readCredential: apiTokenOrBearer });
  app.get(
    "/session",
    {
      // Checked here rather than by the route's scope: every valid credential may ask who it is.
      config: { access: "public" },
      schema: {
        summary: "Who the credential used is: the admin, or an app with its scopes",
        tags: ["apps"],
        querystring: NoQuery,
        response: responses({ 200: SessionJson }, [401]),
      },
    },
    async (request) => {
      // "admin" makes the resolver say "admin" for the admin token instead of asking for Herald-App-Id.
      const principal = await identify(request, "admin");
      if (!principal) throw new HeraldError("unauthorized", 'The "Api-Token" header is missing.');
      if (principal.kind === "admin") return { kind: "admin" as const };
      return {
        kind: "app" as const,
        app: { id: principal.app.id, name: principal.app.name },
        scopes: [...principal.scopes],
        master: principal.master,
      };
    },
  );
};
