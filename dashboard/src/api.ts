/** Talking to Herald from the browser: the credential in a header, never in a URL; errors in the API's own words. */

export interface Session {
  token: string;
  /** Signed in with the deployment's admin token: every app, through `Herald-App-Id`. */
  admin: boolean;
  appId: string;
  appName: string;
  /** For the admin: every app, for the switcher. */
  apps: { id: string; name: string }[];
}

const SESSION_KEY = "herald.dashboard.session";

/** The session lives in sessionStorage: gone when the tab closes, never in localStorage or a cookie. */
export const sessionStore = {
  load(): Session | undefined {
    try {
      const raw = sessionStorage.getItem(SESSION_KEY);
      return raw ? (JSON.parse(raw) as Session) : undefined;
    } catch {
      return undefined;
    }
  },
  save(session: Session): void {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  },
  clear(): void {
    sessionStorage.removeItem(SESSION_KEY);
  },
};

/** An API's answer that was not a success, with the API's own message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The message of any of Herald's error formats: native `{error: {code, message}}`, Sendbird's, Stream's. */
function errorOf(status: number, body: unknown): ApiError {
  const value = body as { error?: unknown; code?: unknown; message?: unknown } | null;
  if (value && typeof value.error === "object" && value.error !== null) {
    const error = value.error as { code?: unknown; message?: unknown };
    return new ApiError(status, String(error.code ?? status), String(error.message ?? `HTTP ${status}`));
  }
  if (value && typeof value.message === "string")
    return new ApiError(status, String(value.code ?? status), value.message);
  return new ApiError(status, String(status), `HTTP ${status}`);
}

export function credentialHeaders(token: string, appId?: string): Record<string, string> {
  const headers: Record<string, string> = { "api-token": token };
  if (appId) headers["herald-app-id"] = appId;
  return headers;
}

/** One request with a bare token (signing in). */
export async function requestWith<T>(
  headers: Record<string, string>,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const init: RequestInit = { method, headers: { ...headers }, cache: "no-store" };
  if (body !== undefined) {
    (init.headers as Record<string, string>)["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "Herald did not answer: is it running?");
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) throw errorOf(response.status, parsed);
  return parsed as T;
}

/** A request for the signed-in app. */
export const api = <T>(session: Session, method: string, path: string, body?: unknown): Promise<T> =>
  requestWith<T>(credentialHeaders(session.token, session.admin ? session.appId : undefined), method, path, body);

/** Query string from the set values only. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

/** Signs in with an admin token (every app) or an app's token (that app). */
export async function signIn(token: string): Promise<Session> {
  const headers = credentialHeaders(token);
  const who = await requestWith<{ kind: "admin" } | { kind: "app"; app: { id: string; name: string } }>(
    headers,
    "GET",
    "/v1/session",
  );
  if (who.kind === "app") return { token, admin: false, appId: who.app.id, appName: who.app.name, apps: [who.app] };
  const { apps } = await requestWith<{ apps: { id: string; name: string }[] }>(headers, "GET", "/v1/apps?limit=500");
  const first = apps[0];
  return {
    token,
    admin: true,
    appId: first?.id ?? "",
    appName: first?.name ?? "",
    apps: apps.map(({ id, name }) => ({ id, name })),
  };
}

// The shapes the pages read (snake_case, as the API answers).

export interface AttemptJson {
  attempt: number;
  started_at: string;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  error_class: string | null;
  request_headers: Record<string, string> | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
  response_truncated: boolean | null;
}

export interface DeliveryJson {
  id: string;
  event_id: string;
  endpoint_id: string;
  type: string;
  status: "pending" | "succeeded" | "failed";
  attempts: number;
  max_attempts: number;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
  attempt_log: AttemptJson[];
}

export interface EndpointJson {
  id: string;
  url: string;
  description: string;
  profile: string;
  vocabulary: string;
  filter: string[];
  enabled: boolean;
  disabled_reason: string | null;
  options?: Record<string, unknown>;
  breaker?: string;
  rate_limit?: number | null;
  max_concurrency?: number | null;
  created_at: string;
}

export interface CatalogType {
  type: string;
  group: string;
  description: string;
  sample: Record<string, unknown>;
}

export interface CatalogJson {
  vocabularies: { id: string; type_field: string; types: CatalogType[] }[];
  profiles: { id: string; description: string }[];
}

export interface EndpointStats {
  endpoint_id: string;
  url: string;
  profile: string;
  enabled: boolean;
  disabled_reason: string | null;
  breaker: string | null;
  deliveries: number;
  succeeded: number;
  failed: number;
  success_rate: number | null;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  last_error: { at: string; message: string } | null;
  queue_depth: number;
  oldest_pending_age_ms: number | null;
  series: {
    start: string;
    per_minute: number;
    succeeded: number;
    failed: number;
    pending: number;
    latency_p50_ms: number | null;
    latency_p99_ms: number | null;
    /** The largest sampled in the bucket; null where no sample was taken (Herald was not running). */
    queue_depth: number | null;
    oldest_pending_age_ms: number | null;
  }[];
}

export interface StatsJson {
  hours: number;
  bucket_seconds: number;
  complete: boolean;
  endpoints: EndpointStats[];
}
