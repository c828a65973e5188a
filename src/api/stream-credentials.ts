import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { FastifyRequest } from "fastify";
import { HeraldError } from "../core/errors.js";
import { apiTokenOrBearer, type PrincipalResolver, tokenPrincipals } from "./auth.js";
import type { ApiContext } from "./context.js";

/** How often an open stream checks that the credential which opened it still holds. */
export const CREDENTIAL_RECHECK_MS = 2000;
/** How long one lookup answers for every stream opened with the same credential. */
const LOOKUP_CACHE_MS = 1000;

type Verdict = "holds" | "lost" | "unknown";

/**
 * Re-checks the credentials of long-lived streams: a stream is authenticated once when it opens, so
 * without this a revoked token, or a deleted app, would keep watching. Uses the lookup the native
 * auth hook uses; one lookup per credential per second however many streams share it.
 */
export class StreamCredentials {
  readonly #resolve: PrincipalResolver;
  readonly #cache = new Map<string, { at: number; verdict: Promise<Verdict> }>();

  constructor(private readonly ctx: ApiContext) {
    this.#resolve = tokenPrincipals({
      store: ctx.store,
      adminToken: ctx.config.adminToken,
      readCredential: apiTokenOrBearer,
      adminActsForApps: true,
    });
  }

  /**
   * Calls `onLost` (once) when the request's credential no longer opens the app it opened the
   * stream for: token deleted or expired, app deleted. Stops with the stream.
   */
  watch(request: FastifyRequest, appId: string, stream: ServerResponse, onLost: () => void): void {
    const timer = setInterval(async () => {
      if ((await this.#check(request, appId)) !== "lost" || stream.destroyed) return;
      clearInterval(timer);
      onLost();
    }, CREDENTIAL_RECHECK_MS);
    timer.unref();
    stream.once("close", () => clearInterval(timer));
  }

  #check(request: FastifyRequest, appId: string): Promise<Verdict> {
    const key = createHash("sha256")
      .update(`${apiTokenOrBearer(request) ?? ""}\0${request.headers["herald-app-id"] ?? ""}\0${appId}`)
      .digest("base64");
    const now = Date.now();
    const cached = this.#cache.get(key);
    if (cached && now - cached.at < LOOKUP_CACHE_MS) return cached.verdict;
    for (const [old, entry] of this.#cache) if (now - entry.at >= LOOKUP_CACHE_MS) this.#cache.delete(old);
    const verdict = this.#lookup(request, appId);
    this.#cache.set(key, { at: now, verdict });
    return verdict;
  }

  async #lookup(request: FastifyRequest, appId: string): Promise<Verdict> {
    try {
      const principal = await this.#resolve(request, "read");
      return principal?.kind === "app" && principal.app.id === appId ? "holds" : "lost";
    } catch (error) {
      if (error instanceof HeraldError) return "lost";
      // A store that does not answer now says nothing about the credential: look again later.
      this.ctx.logger.warn({ err: error }, "stream credential check: the store did not answer");
      return "unknown";
    }
  }
}
