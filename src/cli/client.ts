import type { Agent } from "undici";
import { adminTokenFile, readAdminToken } from "./admin-token.js";
import { CliError } from "./errors.js";

/** How long the CLI waits for Herald's answer. */
const TIMEOUT_MS = 30_000;

/** Herald's base URL: `--url`, else HERALD_URL, else this machine on HERALD_PORT (default 8080). */
export function heraldUrl(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (!given && !env.HERALD_URL) {
    const port = env.HERALD_PORT || "8080";
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new CliError(`HERALD_PORT is not a port: "${port}"`);
    return `http://127.0.0.1:${port}`;
  }
  const [source, raw] = given ? ["--url", given] : ["HERALD_URL", env.HERALD_URL!];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`${source} is not a URL: "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`${source} must be an http(s) URL, not "${raw}"`);
  }
  return raw.replace(/\/+$/, "");
}

/** Who is calling: the headers that say so, and where the token came from (for error messages). */
export interface Credential {
  headers: Record<string, string>;
  origin: string;
}

/** The deployment admin: HERALD_ADMIN_TOKEN, or the token file `herald serve` wrote. */
export function adminCredential(env: NodeJS.ProcessEnv = process.env): Credential {
  const token = readAdminToken(env);
  const origin = env.HERALD_ADMIN_TOKEN ? "HERALD_ADMIN_TOKEN" : adminTokenFile(env);
  return { headers: { authorization: `Bearer ${token}` }, origin: `the admin token from ${origin}` };
}

export interface AppCredentialOptions {
  token?: string;
  app?: string;
}

/**
 * An app: its API token (`--token`, HERALD_API_TOKEN), or the admin token acting for the app named
 * by `--app`/HERALD_APP_ID. A flag wins over the environment.
 */
export function appCredential(options: AppCredentialOptions, env: NodeJS.ProcessEnv = process.env): Credential {
  const viaToken = (token: string, origin: string) => ({ headers: { "api-token": token }, origin });
  const viaAdmin = (appId: string) => {
    const admin = adminCredential(env);
    return { headers: { ...admin.headers, "herald-app-id": appId }, origin: admin.origin };
  };
  if (options.token) return viaToken(options.token, "the token from --token");
  if (options.app) return viaAdmin(options.app);
  if (env.HERALD_API_TOKEN) return viaToken(env.HERALD_API_TOKEN, "the token from HERALD_API_TOKEN");
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
  #agent: Agent | undefined;

  constructor(readonly baseUrl: string) {}

  /**
   * Sends one request and returns the parsed JSON answer (undefined for 204). A refusal becomes a
   * CliError carrying the API's own message.
   */
  async call(method: string, path: string, credential: Credential, body?: unknown): Promise<any> {
    const headers: Record<string, string> = { ...credential.headers, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let status: number;
    let text: string;
    try {
      // Loaded here, so commands that never call Herald (config, --version, usage errors) start faster.
      const { Agent, request } = await import("undici");
      this.#agent ??= new Agent({ connect: { timeout: 10_000 } });
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
      const message = typeof error?.message === "string" ? error.message : `Herald answered ${status}.`;
      // A refused credential: say which one, so the wrong variable or file is easy to spot.
      if (status === 401) throw new CliError(`${message} (${credential.origin}, refused by ${this.baseUrl})`);
      // A route missing from a Herald that runs (a worker-only process, another version): say where we asked.
      if (status === 404 && message.startsWith("No route")) {
        throw new CliError(`${message} (${this.baseUrl} serves no such API: is it a --role worker process?)`);
      }
      throw new CliError(message);
    }
    return parsed;
  }

  /**
   * Opens a long-lived GET (server-sent events) and returns its body. No body timeout: the stream
   * stays open as long as Herald keeps it. A refusal becomes a CliError, as for `call`.
   */
  async stream(path: string, credential: Credential, signal?: AbortSignal): Promise<AsyncIterable<Buffer>> {
    let response: Awaited<ReturnType<typeof import("undici").request>>;
    try {
      const { Agent, request } = await import("undici");
      this.#agent ??= new Agent({ connect: { timeout: 10_000 } });
      response = await request(`${this.baseUrl}${path}`, {
        method: "GET",
        headers: { ...credential.headers, accept: "text/event-stream" },
        dispatcher: this.#agent,
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: 0,
        signal,
      });
    } catch (error) {
      throw unreachable(this.baseUrl, error);
    }
    if (response.statusCode >= 400) {
      const text = await response.body.text();
      let message = `Herald answered ${response.statusCode}.`;
      try {
        const error = (JSON.parse(text) as { error?: { message?: unknown } }).error;
        if (typeof error?.message === "string") message = error.message;
      } catch {}
      throw new CliError(message);
    }
    return response.body;
  }

  async close(): Promise<void> {
    await this.#agent?.close();
  }
}
