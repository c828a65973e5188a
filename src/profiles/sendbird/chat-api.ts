import type { FastifyPluginAsync } from "fastify";
import type { ApiContext } from "../../api/context.js";
import { useErrorFormat } from "../../api/error-format.js";
import { optionalQueryBoolean } from "../../api/params.js";
import { Apps } from "../../apps/apps.js";
import { sendbirdChatCatalog } from "../../catalog/index.js";
import { HeraldError } from "../../core/errors.js";
import { formatChatError } from "./errors.js";
import { applySettingsUpdate, type SettingsShape, sendbirdEndpointId, settingsView } from "./settings.js";

const CHAT: SettingsShape = { profile: "sendbird-chat", catalog: sendbirdChatCatalog, memberOptions: true };

interface SettingsQuery {
  display_all_webhook_categories?: string;
}

/** Sendbird Chat Platform API v3 routes under `/v3/applications`: webhook settings and API tokens. */
export const sendbirdChatApi: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  useErrorFormat(app, formatChatError, ctx.logger);
  const principal = (headers: Record<string, unknown>) => ctx.apps.authenticate(headers["api-token"] as string);

  app.get<{ Querystring: SettingsQuery }>("/settings/webhook", async (request) => {
    const { app: tenant } = await principal(request.headers);
    const displayAll = optionalQueryBoolean(
      request.query.display_all_webhook_categories,
      "display_all_webhook_categories",
    );
    const endpoint = await ctx.endpoints.get(sendbirdEndpointId(CHAT.profile, tenant.id));
    return settingsView(endpoint, CHAT, displayAll ?? false);
  });

  app.put("/settings/webhook", async (request) => {
    const { app: tenant } = await principal(request.headers);
    const current = await ctx.store.getEndpoint(sendbirdEndpointId(CHAT.profile, tenant.id));
    const next = applySettingsUpdate(current, request.body, CHAT, tenant.id, Date.now());
    await ctx.endpoints.save(next);
    return settingsView(next, CHAT, false);
  });

  app.post("/api_tokens", async (request) => {
    const caller = await principal(request.headers);
    Apps.requireMaster(caller);
    const { token, record } = await ctx.apps.createSecondaryToken(caller.app.id);
    return { token, created_at: Math.floor(record.createdAt / 1000) };
  });

  app.get("/api_tokens", async (request) => {
    const caller = await principal(request.headers);
    Apps.requireMaster(caller);
    const tokens = await ctx.store.listApiTokens(caller.app.id);
    return {
      api_tokens: tokens
        .filter((token) => token.kind === "secondary")
        .map((token) => ({ token: token.preview, created_at: Math.floor(token.createdAt / 1000) })),
    };
  });

  app.delete<{ Params: { token: string } }>("/api_tokens/:token", async (request) => {
    const caller = await principal(request.headers);
    Apps.requireMaster(caller);
    if (!(await ctx.apps.revokeSecondaryToken(caller.app.id, request.params.token))) {
      throw new HeraldError("not_found", "No such secondary API token.");
    }
    return {};
  });
};
