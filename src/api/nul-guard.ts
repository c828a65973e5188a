import type { FastifyInstance, FastifyRequest } from "fastify";
import { HeraldError } from "../core/errors.js";
import { isPlainObject } from "./params.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * The body is the customer's own content (an event, a chat message): kept exactly as sent, NUL
     * characters included and every number as written (`1e3` stays `1e3`, see core/json.ts).
     */
    bodyIsPayload?: boolean;
  }
}

/** Where in a value the first string holding a NUL character is (`headers.x-a`, `filter[2]`), or undefined. */
function nulAt(value: unknown, at: string): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? at : undefined;
  const child = (key: string) => (at === "" ? key : `${at}.${key}`);
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = nulAt(item, `${at}[${index}]`);
      if (found !== undefined) return found;
    }
  } else if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      const found = key.includes("\u0000") ? child(key) : nulAt(item, child(key));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function refuseNulAt(at: string | undefined): void {
  if (at === undefined) return;
  throw new HeraldError("invalid_value", `"${at}" must not contain NUL characters.`, { parameter: at });
}

/** The path's parameters by the names a caller knows: a wildcard route's `*` is the path. */
function namedParams(params: unknown): unknown {
  if (!isPlainObject(params) || !("*" in params)) return params;
  const { "*": path, ...named } = params;
  return { ...named, path };
}

/**
 * No id, filter or setting holds a NUL character, and PostgreSQL cannot store or even compare one
 * in text: refuse it in every route's path and query (before authentication) and body (except
 * payloads, stored as JSON text), so each API answers a 400 in its own format that names the parameter.
 */
export function useNulGuard(app: FastifyInstance): void {
  // The path and query before any API's own hooks: authentication looks up what they carry (Stream's api_key).
  app.addHook("onRequest", async (request) =>
    refuseNulAt(nulAt(namedParams(request.params), "") ?? nulAt(request.query, "")),
  );
  app.addHook("preValidation", async (request: FastifyRequest) => {
    if (request.routeOptions.config?.bodyIsPayload !== true) refuseNulAt(nulAt(request.body, ""));
  });
}
