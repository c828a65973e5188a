import type { FastifyRequest } from "fastify";
import { errors as joseErrors, jwtVerify } from "jose";
import type { PrincipalResolver } from "../../api/auth.js";
import { HeraldError } from "../../core/errors.js";
import { ALL_SCOPES } from "../../storage/records.js";
import type { Store } from "../../storage/store.js";

const unauthorized = (message: string, vendorCode: number) => new HeraldError("unauthorized", message, { vendorCode });

/** The token from `Authorization`: bare, as `stream-chat` sends it, or after a `Bearer ` some clients add. */
function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization?.trim();
  if (!header) return undefined;
  return header.replace(/^Bearer\s+/i, "");
}

/** Stream's codes for a token that does not verify: expired (40), not valid yet (41), bad signature (43). */
function tokenError(error: unknown): HeraldError {
  if (error instanceof joseErrors.JWTExpired) return unauthorized("token is expired", 40);
  if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === "nbf") {
    return unauthorized("token is not valid yet", 41);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return unauthorized("token signature is invalid", 43);
  }
  return unauthorized(`token is not a valid HS256 JWT (${(error as Error).message})`, 43);
}

/**
 * Stream's server-side authentication, as the `stream-chat` client sends it: `?api_key=` names one
 * of the app's API keys, `Authorization` carries an HS256 JWT `{"server": true}` signed with that
 * key's secret (`exp` is honoured when present; the real client sends none), and
 * `stream-auth-type: jwt`. Every one of an app's keys authenticates until it is revoked.
 */
export function streamPrincipals(store: Store): PrincipalResolver {
  return async (request) => {
    const apiKey = (request.query as Record<string, unknown> | undefined)?.api_key;
    if (typeof apiKey !== "string" || apiKey === "") throw unauthorized("api_key not provided", 2);
    const found = apiKey.length <= 128 ? await store.findApiKey(apiKey) : undefined;
    if (!found) throw unauthorized("api_key not valid", 2);
    const authType = request.headers["stream-auth-type"];
    if (authType !== undefined && authType !== "jwt") {
      throw unauthorized(`stream-auth-type "${String(authType)}" is not supported: server-side requests use jwt`, 5);
    }
    const token = presentedToken(request);
    if (!token) throw unauthorized("the Authorization header with a server token is missing", 5);
    let claims: Record<string, unknown>;
    try {
      const secret = new TextEncoder().encode(found.key.secret);
      claims = (await jwtVerify(token, secret, { algorithms: ["HS256"] })).payload;
    } catch (error) {
      throw tokenError(error);
    }
    if (claims.server !== true) {
      throw new HeraldError("forbidden", 'this route needs a server-side token ({"server": true})', {
        vendorCode: 17,
      });
    }
    return { kind: "app", app: found.app, scopes: ALL_SCOPES, master: true };
  };
}
