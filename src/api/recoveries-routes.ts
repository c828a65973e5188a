import type { FastifyPluginAsync } from "fastify";
import { HeraldError } from "../core/errors.js";
import { newRecoveryId } from "../core/ids.js";
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
  /**
   * The last recovery started here per endpoint, and a queue per endpoint so two requests cannot
   * both see "none running": at most one running recovery per endpoint (a second one would only
   * double the work). Per process: the store has no "running recovery of an endpoint" query yet.
   */
  const latest = new Map<string, string>();
  const queues = new Map<string, Promise<unknown>>();
  const oneAtATime = <T>(endpointId: string, work: () => Promise<T>): Promise<T> => {
    const turn = (queues.get(endpointId) ?? Promise.resolve()).then(work, work);
    const settled = turn.catch(() => {});
    queues.set(endpointId, settled);
    void settled.then(() => queues.get(endpointId) === settled && queues.delete(endpointId));
    return turn;
  };
  const refuseIfRunning = async (appId: string, endpointId: string) => {
    const id = latest.get(endpointId);
    if (id === undefined) return;
    const previous = await ctx.store.getRecovery(appId, id);
    if (previous?.status !== "running") {
      latest.delete(endpointId);
      return;
    }
    throw new HeraldError("conflict", `Recovery "${id}" of this endpoint is still running: wait for it to finish.`);
  };

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
      return oneAtATime(endpoint.id, async () => {
        await refuseIfRunning(tenant.id, endpoint.id);
        const recovery = {
          id: newRecoveryId(),
          appId: tenant.id,
          endpointId: endpoint.id,
          ...window,
          status: "running" as const,
          recovered: 0,
          total: null,
          error: null,
          createdAt: now,
          finishedAt: null,
        };
        await ctx.store.createRecovery(recovery);
        latest.set(endpoint.id, recovery.id);
        ctx.onRecoveryCreated();
        return reply.status(202).send(recoveryJson(recovery));
      });
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
