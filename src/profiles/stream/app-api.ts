import type { FastifyPluginAsync } from "fastify";
import { appOf, useAuthentication } from "../../api/auth.js";
import type { ApiContext } from "../../api/context.js";
import { useErrorFormat } from "../../api/error-format.js";
import { streamPrincipals } from "./auth.js";
import { formatStreamError, streamDuration, useStreamTiming } from "./errors.js";
import { applyAppUpdate, appSettingsView, STREAM_SETTINGS, streamState } from "./settings.js";
import { hookEvents } from "./vocabulary.js";

/**
 * Stream Chat's server-side settings API as the `stream-chat` client drives it: `GET /app`,
 * `PATCH /app` and `GET /hook/events`, with Stream's JWT authentication and error bodies.
 * Every hook it sets is an endpoint of the app, so it shows in `/v1/endpoints` and the log.
 */
export const streamAppApi: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  useStreamTiming(app);
  useErrorFormat(app, formatStreamError, ctx.logger);
  useAuthentication(app, streamPrincipals(ctx.store));

  const stateOf = async (appId: string) =>
    streamState(appId, await ctx.store.listEndpoints(appId), await ctx.store.getAppSettings(appId, STREAM_SETTINGS));

  app.get("/app", { config: { access: "read", streamOperation: "GetApp" } }, async (request) => {
    const tenant = appOf(request);
    const settings = appSettingsView(await stateOf(tenant.id));
    return { app: { name: tenant.name, ...settings }, duration: streamDuration(request) };
  });

  app.patch("/app", { config: { access: "manage", streamOperation: "UpdateApp" } }, async (request) => {
    const tenant = appOf(request);
    // The hooks are read, compared and written as a whole: two updates at once would each add theirs.
    await ctx.store.exclusively(`stream-app:${tenant.id}`, async () => {
      const now = Date.now();
      const state = await stateOf(tenant.id);
      const changes = applyAppUpdate(request.body, state, tenant.id, now, ctx.transport);
      if (changes.compression !== undefined) {
        const next = { ...state.settings, enable_hook_payload_compression: changes.compression };
        await ctx.store.saveAppSettings(tenant.id, STREAM_SETTINGS, next, now);
      }
      for (const endpoint of changes.save) await ctx.endpoints.save(endpoint);
      for (const endpoint of changes.remove) await ctx.endpoints.delete(tenant.id, endpoint.id);
    });
    return { duration: streamDuration(request) };
  });

  app.get("/hook/events", { config: { access: "read", streamOperation: "GetHookEvents" } }, async (request) => ({
    events: hookEvents(),
    duration: streamDuration(request),
  }));
};
