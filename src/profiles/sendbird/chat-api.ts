import type { FastifyPluginAsync } from "fastify";
import { apiTokenHeader, appOf, tokenPrincipals, useAuthentication } from "../../api/auth.js";
import type { ApiContext } from "../../api/context.js";
import { useErrorFormat } from "../../api/error-format.js";
import { optionalQueryBoolean } from "../../api/params.js";
import { HeraldError } from "../../core/errors.js";
import { formatChatError } from "./errors.js";
import { applySettingsUpdate, CHAT_SETTINGS, sendbirdEndpointId, settingsView } from "./settings.js";

const CHAT = CHAT_SETTINGS;

interface SettingsQuery {
  display_all_webhook_categories?: string;
}

/** Sendbird Chat Platform API v3 routes under `/v3/applications`: webhook settings and API tokens. */
export const sendbirdChatApi: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  useErrorFormat(app, formatChatError, ctx.logger);
  useAuthentication(
    app,
    // The admin acts for the app named in `Herald-App-Id`, as on Herald's own API (the dashboard does).
    tokenPrincipals({
      ...ctx,
      adminToken: ctx.config.adminToken,
      readCredential: apiTokenHeader,
      adminActsForApps: true,
    }),
  );

  app.get<{ Querystring: SettingsQuery }>("/settings/webhook", { config: { access: "read" } }, async (request) => {
    const tenant = appOf(request);
    const displayAll = optionalQueryBoolean(
      request.query.display_all_webhook_categories,
      "display_all_webhook_categories",
    );
    const endpoint = await ctx.endpoints.get(sendbirdEndpointId(CHAT, tenant.id));
    return settingsView(endpoint, CHAT, displayAll ?? false);
  });

  app.put("/settings/webhook", { config: { access: "manage" } }, async (request) => {
    const tenant = appOf(request);
    // Applied to the settings as stored when the write happens: two updates at once both count.
    const next = await ctx.endpoints.change(sendbirdEndpointId(CHAT, tenant.id), (current) =>
      applySettingsUpdate(current, request.body, CHAT, tenant.id, Date.now(), ctx.transport),
    );
    return settingsView(next, CHAT, false);
  });

  app.post("/api_tokens", { config: { access: "master" } }, async (request) => {
    const { token, record } = await ctx.apps.createSecondaryToken(appOf(request).id);
    return { token, created_at: Math.floor(record.createdAt / 1000) };
  });

  app.get("/api_tokens", { config: { access: "master" } }, async (request) => {
    const tokens = await ctx.store.listApiTokens(appOf(request).id, Date.now());
    return {
      api_tokens: tokens
        .filter((token) => token.kind === "secondary")
        .map((token) => ({ token: token.preview, created_at: Math.floor(token.createdAt / 1000) })),
    };
  });

  app.delete<{ Params: { token: string } }>("/api_tokens/:token", { config: { access: "master" } }, async (request) => {
    if (!(await ctx.apps.revokeSecondaryToken(appOf(request).id, request.params.token))) {
      throw new HeraldError("not_found", "No such secondary API token.");
    }
    return {};
  });
};
