import type { FastifyPluginAsync } from "fastify";
import { HeraldError } from "../core/errors.js";
import { newRecoveryId } from "../core/ids.js";
import type { Recovery } from "../storage/records.js";
import { appOf } from "./auth.js";
import type { ApiContext } from "./context.js";
import { optionalTime } from "./params.js";
import { IdParams, NewRecovery, RecoveryJson, responses } from "./schemas.js";
import { recoveryJson } from "./views.js";

/** How far ahead of this process's clock `since` may be: a clock a little ahead elsewhere is no error. */
const CLOCK_SKEW_MS = 60_000;

/** The window of a recover request: `since` is required, `until` defaults to now; neither in the future. */
function recoveryWindow(body: { since: string; until?: string }, now: number): { since: number; until: number } {
  const since = optionalTime(body.since, "since")!;
  const until = optionalTime(body.until, "until") ?? now;
  if (since > now + CLOCK_SKEW_MS) {
    throw new HeraldError("invalid_value", '"since" is in the future: nothing created then can have failed yet.', {
      parameter: "since",
    });
  }
  if (since > until) {
    throw new HeraldError("invalid_value", '"since" must not be later than "until".', { parameter: "since" });
  }
  return { since, until };
}

/** `POST /v1/endpoints/{id}/recover` starts a background recovery; `GET /v1/recoveries/{id}` shows its progress. */
export const recoveriesRoutes: FastifyPluginAsync<ApiContext> = async (app, ctx) => {
  app.post<{ Params: { id: string }; Body: { since: string; until?: string } }>(
    "/endpoints/:id/recover",
    {
      config: { access: "manage" },
      schema: {
        summary:
          "Send every failed delivery of the endpoint created in [since, until] again, in the background, under the same webhook ids with a fresh attempt budget",
        tags: ["deliveries"],
        params: IdParams,
        body: NewRecovery,
        response: responses({ 202: RecoveryJson }, [400, 401, 403, 404, 409]),
      },
    },
    async (request, reply) => {
      const tenant = appOf(request);
      const now = Date.now();
      const window = recoveryWindow(request.body, now);
      const endpoint = await ctx.store.getEndpoint(request.params.id);
      if (!endpoint || endpoint.appId !== tenant.id) {
        throw new HeraldError("not_found", `No endpoint "${request.params.id}".`);
      }
      const recovery: Recovery = {
        id: newRecoveryId(),
        appId: tenant.id,
        endpointId: endpoint.id,
        ...window,
        status: "running",
        recovered: 0,
        skipped: 0,
        total: null,
        error: null,
        createdAt: now,
        finishedAt: null,
      };
      // The store keeps one running recovery per endpoint, whichever process started it: a second
      // would only double the work.
      const running = await ctx.store.createRecovery(recovery);
      if (running.id !== recovery.id) {
        throw new HeraldError(
          "conflict",
          `Recovery "${running.id}" of this endpoint is still running: wait for it to finish (GET /v1/recoveries/${running.id}).`,
        );
      }
      ctx.onRecoveryCreated();
      return reply.status(202).send(recoveryJson(recovery));
    },
  );

  app.get<{ Params: { id: string } }>(
    "/recoveries/:id",
    {
      config: { access: "read" },
      schema: {
        summary: "A recovery job and its progress",
        tags: ["deliveries"],
        params: IdParams,
        response: responses({ 200: RecoveryJson }),
      },
    },
    async (request) => {
      const recovery = await ctx.store.getRecovery(appOf(request).id, request.params.id);
      if (!recovery) throw new HeraldError("not_found", `No recovery "${request.params.id}".`);
      return recoveryJson(recovery);
    },
  );
};
