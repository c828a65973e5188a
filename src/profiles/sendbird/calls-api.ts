import type { FastifyPluginAsync } from "fastify";
import { apiTokenHeader, appOf, tokenPrincipals, useAuthentication } from "../../api/auth.js";
import type { ApiContext } from "../../api/context.js";
import { useErrorFormat } from "../../api/error-format.js";
import { optionalQueryBoolean } from "../../api/params.js";
import { HeraldError } from "../../core/errors.js";
import { formatCallsError } from "./errors.js";
import { applySettingsUpdate, CALLS_SETTINGS, sendbirdEndpointId, settingsView } from "./settings.js";

const CALLS = CALLS_SETTINGS;

interface Route {
  Params: { application_id: string };
  Querystring: { display_all_webhook_categories?: string };
}

/**
 * Sendbird Calls webhook settings under `/v1/applications/{application_id}`: separate from Chat,
 * with Calls' own error body. The token must belong to the application in the path.
 */
export const sendbirdCallsApi: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  useErrorFormat(app, formatCallsError, ctx.logger);
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
  const tenantFor = (request: Parameters<typeof appOf>[0] & { params: Route["Params"] }) => {
    const tenant = appOf(request);
    if (tenant.id !== request.params.application_id) {
      throw new HeraldError("unauthorized", "The API token does not belong to this application.");
    }
    return tenant;
  };

  app.get<Route>("/:application_id/settings/webhook", { config: { access: "read" } }, async (request) => {
    const tenant = tenantFor(request);
    const displayAll = optionalQueryBoolean(
      request.query.display_all_webhook_categories,
      "display_all_webhook_categories",
    );
    const endpoint = await ctx.endpoints.get(sendbirdEndpointId(CALLS, tenant.id));
    return settingsView(endpoint, CALLS, displayAll ?? false);
  });

  app.put<Route>("/:application_id/settings/webhook", { config: { access: "manage" } }, async (request) => {
    const tenant = tenantFor(request);
    // Applied to the settings as stored when the write happens: two updates at once both count.
    const next = await ctx.endpoints.change(sendbirdEndpointId(CALLS, tenant.id), (current) =>
      applySettingsUpdate(current, request.body, CALLS, tenant.id, Date.now(), ctx.transport),
    );
    return settingsView(next, CALLS, false);
  });
};
