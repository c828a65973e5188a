import type { FastifyPluginAsync } from "fastify";
import { appsRoutes } from "./apps-routes.js";
import { useNativeAuthentication } from "./auth.js";
import { catalogRoutes } from "./catalog-routes.js";
import type { ApiContext } from "./context.js";
import { deliveriesRoutes } from "./deliveries-routes.js";
import { endpointsRoutes } from "./endpoints-routes.js";
import { eventsRoutes } from "./events-routes.js";
import { keysRoutes } from "./keys-routes.js";
import { listenRoutes } from "./listen-routes.js";
import { liveRoutes } from "./live-routes.js";
import { recoveriesRoutes } from "./recoveries-routes.js";
import { sessionRoutes } from "./session-routes.js";
import { statsRoutes } from "./stats-routes.js";
import { tokensRoutes } from "./tokens-routes.js";

/**
 * Herald's own API under `/v1`: apps (admin), endpoints, tokens, API keys, events, deliveries, recoveries,
 * catalog. One authentication step for all of it: an app's token in `Api-Token` (or `Authorization: Bearer`),
 * or the admin token, which acts for the app named in `Herald-App-Id`.
 */
export const nativeApi: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  useNativeAuthentication(app, ctx);
  for (const routes of [
    eventsRoutes,
    deliveriesRoutes,
    recoveriesRoutes,
    catalogRoutes,
    endpointsRoutes,
    tokensRoutes,
    keysRoutes,
    appsRoutes,
    // What the dashboard reads beside the rest: who is signed in, the overview, live updates.
    sessionRoutes,
    statsRoutes,
    liveRoutes,
  ]) {
    // The options carry this plugin's own prefix; the children sit directly under it.
    await app.register(routes, { ...ctx, prefix: "" });
  }
  if (ctx.listen) await app.register(listenRoutes(ctx.listen), { ...ctx, prefix: "" });
};
