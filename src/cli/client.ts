import { Agent, request } from "undici";
import { readAdminToken } from "./admin-token.js";
import { CliError } from "./errors.js";

/** How long the CLI waits for Herald's answer. */
const TIMEOUT_MS = 30_000;

/** Herald's base URL: `--url`, else HERALD_URL, else this machine on HERALD_PORT (default 8080). */
export function heraldUrl(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const raw = given || env.HERALD_URL || `http://127.0.0.1:${env.HERALD_PORT || "8080"}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`${given ? "--url" : "HERALD_URL"} is not a URL: "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`${given ? "--url" : "HERALD_URL"} must be an http(s) URL, not "${raw}"`);
  }
  return raw.replace(/\/+$/, "");
}

/** The headers that say who is calling. */
export type Credential = Record<string, string>;

/** The deployment admin: HERALD_ADMIN_TOKEN, or the token file `herald serve` wrote. */
export const adminCredential = (env: NodeJS.ProcessEnv = process.env): Credential => ({
  authorization: `Bearer ${readAdminToken(env)}`,
});

export interface AppCredentialOptions {
  token?: string;
  app?: string;
}

/**
 * An app: its API token (`--token`, HERALD_API_TOKEN), or the admin token acting for the app named
 * by `--app`/HERALD_APP_ID. A flag wins over the environment.
 */
export function appCredential(options: AppCredentialOptions, env: NodeJS.ProcessEnv = process.env): Credential {
  const viaToken = (token: string) => ({ "api-token": token });
  const viaAdmin = (appId: string) => ({ ...adminCredential(env), "herald-app-id": appId });
  if (options.token) return viaToken(options.token);
  if (options.app) return viaAdmin(options.app);
  if (env.HERALD_API_TOKEN) return viaToken(env.HERALD_API_TOKEN);
  if (env.HERALD_APP_ID) return viaAdmin(env.HERALD_APP_ID);
  throw new CliError(
    "no app credential: pass --token <app token> (or set HERALD_API_TOKEN), or --app <app id> (or HERALD_APP_ID) to act with the admin token",
  );
}

/** Why a connection to Herald failed, in words. */
function unreachable(base: string, error: unknown): CliError {
  const code = (error as { code?: string }).code;
  const why =
    code === "ECONNREFUSED"
      ? "connection refused — is it running? (herald serve)"
      : code === "ENOTFOUND" || code === "EAI_AGAIN"
        ? "host not found"
        : code === "UND_ERR_CONNECT_TIMEOUT"
          ? "connection timed out"
          : code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT"
            ? `no answer within ${TIMEOUT_MS / 1000} s`
            : code === "ECONNRESET" || code === "UND_ERR_SOCKET"
              ? "the connection was closed"
              : (code ?? (error instanceof Error ? error.message : String(error)));
  return new CliError(`cannot reach Herald at ${base}: ${why}`);
}

/** A client of Herald's native API (`/v1`). */
export class HeraldClient {
  readonly #agent = new Agent({ connect: { timeout: 10_000 } });

  constructor(readonly baseUrl: string) {}

  /**
   * Sends one request and returns the parsed JSON answer (undefined for 204). A refusal becomes a
   * CliError carrying the API's own message.
   */
  async call(method: string, path: string, credential: Credential, body?: unknown): Promise<any> {
    const headers: Record<string, string> = { ...credential, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let status: number;
    let text: string;
    try {
      const response = await request(`${this.baseUrl}${path}`, {
        method: method as "GET",
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher: this.#agent,
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      throw unreachable(this.baseUrl, error);
    }
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new CliError(
        status >= 400
          ? `Herald at ${this.baseUrl} answered ${status} (not JSON: is the URL Herald's?)`
          : `the answer from ${this.baseUrl}${path} is not JSON: is the URL Herald's?`,
      );
    }
    if (status >= 400) {
      const error = (parsed as { error?: { message?: unknown } } | undefined)?.error;
      const message = typeof error?.message === "string" ? error.message : `Herald answered ${status}`;
      throw new CliError(message);
    }
    return parsed;
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}
