import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { hashToken } from "../apps/apps.js";
import { HeraldError } from "../core/errors.js";
import { ALL_SCOPES, type App, type Scope } from "../storage/records.js";
import type { Store } from "../storage/store.js";
import type { ApiContext } from "./context.js";

/** Who made a request: the deployment admin, or an app through one of its tokens. */
export type Principal =
  | { kind: "admin" }
  | {
      kind: "app";
      app: App;
      /** What this credential may do. */
      scopes: readonly Scope[];
      /** The master token (or the admin acting for the app): token management needs it. */
      master: boolean;
    };

/** What a route needs: nothing, the admin, an app token with a scope, or the app's master token. */
export type Access = "public" | "admin" | Scope | "master";

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** How an API reads the credential a request presents (Sendbird and Herald: `Api-Token`). */
export type CredentialReader = (request: FastifyRequest) => string | undefined;

/**
 * How an API turns a request into a principal: its vendor's auth scheme (Sendbird's `Api-Token`
 * now, Stream's JWT next). Undefined: no credentials at all.
 */
export type PrincipalResolver = (
  request: FastifyRequest,
  access: Exclude<Access, "public">,
) => Promise<Principal | undefined>;

const digest = (value: string) => createHash("sha256").update(value).digest();
/** Reads `Api-Token`, as Sendbird's Platform API does. */
export const apiTokenHeader: CredentialReader = (request) => {
  const value = request.headers["api-token"];
  return typeof value === "string" && value !== "" ? value : undefined;
};
/** Reads `Api-Token`, or `Authorization: Bearer <token>`. */
export const apiTokenOrBearer: CredentialReader = (request) => {
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "");
  return apiTokenHeader(request) ?? bearer?.[1];
};

/** Who made a request, as logs and per-caller queues name it: the app's id, or `admin`. */
export const principalName = (principal: Principal | undefined): string | undefined =>
  principal?.kind === "app" ? principal.app.id : principal?.kind;

/** The app a request acts for; routes that need an app call this after the hook ran. */
export function appOf(request: FastifyRequest): App {
  const principal = request.principal;
  if (principal?.kind !== "app") throw new HeraldError("unauthorized", "This route needs an app's API token.");
  return principal.app;
}

/** Whether the caller may change an app's settings (and so read them whole, headers' values included). */
export const mayManage = (principal: Principal | undefined): boolean =>
  principal !== undefined && allows(principal, principal.kind === "admin" ? "admin" : "manage");

function allows(principal: Principal, access: Exclude<Access, "public">): boolean {
  if (access === "admin") return principal.kind === "admin";
  if (principal.kind !== "app") return false;
  if (access === "master") return principal.master;
  return principal.scopes.includes(access);
}

export interface TokenAuthOptions {
  store: Store;
  /** The admin token; empty: no admin over HTTP. */
  adminToken: string;
  readCredential: CredentialReader;
  /** Whether the admin may act for an app named in the `Herald-App-Id` header. */
  adminActsForApps?: boolean;
}

/** Principals from API tokens: the admin token, or an app token looked up by its hash. */
export function tokenPrincipals(options: TokenAuthOptions): PrincipalResolver {
  const adminDigest = options.adminToken === "" ? undefined : digest(options.adminToken);
  const isAdmin = (credential: string) => adminDigest !== undefined && timingSafeEqual(digest(credential), adminDigest);
  return async (request, access) => {
    const credential = options.readCredential(request);
    if (credential === undefined) return undefined;
    if (isAdmin(credential)) {
      if (access === "admin" || !options.adminActsForApps) return { kind: "admin" };
      return { kind: "app", ...(await actingFor(request)), scopes: ALL_SCOPES, master: true };
    }
    const found = await options.store.findToken(hashToken(credential), Date.now());
    if (!found) throw new HeraldError("unauthorized", "The API token is invalid.");
    return { kind: "app", app: found.app, scopes: found.token.scopes, master: found.token.kind === "master" };
  };

  /** The app the admin acts for on an app's route: the one `Herald-App-Id` names. */
  async function actingFor(request: FastifyRequest) {
    const id = request.headers["herald-app-id"];
    if (typeof id !== "string" || id === "") {
      throw new HeraldError("forbidden", "The admin token acts for an app only with a Herald-App-Id header naming it.");
    }
    if (id.length > 128) throw new HeraldError("not_found", "No such app.");
    const app = await options.store.getApp(id);
    if (!app) throw new HeraldError("not_found", `No app "${id}".`);
    return { app };
  }
}

/**
 * One authentication step for every route of an API, run when the request arrives, before its
 * body is read: a request without valid credentials is answered 401 and its body never parsed.
 * Each route says what it needs in `config.access`; routes that say nothing need `manage`.
 */
export function useAuthentication(instance: FastifyInstance, resolve: PrincipalResolver): void {
  instance.addHook("onRequest", async (request) => {
    // Unknown routes are answered 404 by the API's not-found handler, with or without credentials.
    if (request.is404) return;
    const access = request.routeOptions.config.access ?? "manage";
    if (access === "public") return;
    const principal = await resolve(request, access);
    if (!principal) throw new HeraldError("unauthorized", 'The "Api-Token" header is missing.');
    if (!allows(principal, access)) {
      const needs =
        access === "admin"
          ? "the admin token"
          : access === "master"
            ? "the master API token; a secondary token cannot perform it"
            : `a token with the "${access}" scope`;
      throw new HeraldError("forbidden", `This action needs ${needs}.`);
    }
    request.principal = principal;
  });
}

/** Herald's own credentials: an app's token in `Api-Token` or `Authorization: Bearer`, or the admin's. */
export function useNativeAuthentication(app: FastifyInstance, ctx: ApiContext): void {
  useAuthentication(
    app,
    tokenPrincipals({
      ...ctx,
      adminToken: ctx.config.adminToken,
      readCredential: apiTokenOrBearer,
      adminActsForApps: true,
    }),
  );
}
