import { createHash } from "node:crypto";
import { HeraldError } from "../core/errors.js";
import { newApiToken, newAppId, newStreamApiKey, newStreamApiSecret } from "../core/ids.js";
import {
  ALL_SCOPES,
  type ApiKey,
  type ApiTokenRecord,
  type App,
  type Scope,
  type TokenKind,
} from "../storage/records.js";
import type { Store } from "../storage/store.js";

export const hashToken = (token: string): string => createHash("sha256").update(token).digest("hex");
/** A token's public id: enough of its hash to name it in lists and in revoke calls. */
export const tokenId = (record: ApiTokenRecord): string => `tok_${record.tokenHash.slice(0, 24)}`;

const tokenRecord = (
  token: string,
  appId: string,
  kind: TokenKind,
  scopes: readonly Scope[],
  createdAt: number,
): ApiTokenRecord => ({
  tokenHash: hashToken(token),
  appId,
  kind,
  preview: `${token.slice(0, 4)}…${token.slice(-4)}`,
  scopes: [...scopes],
  createdAt,
  expiresAt: null,
});

export interface AppsOptions {
  /** Secondary tokens one app may have; also its cap on API keys. */
  maxApiTokens: number;
  /** How long a rotated master token keeps authenticating. */
  tokenOverlapMs: number;
}

/** Tenants and their API tokens. Tokens are kept hashed, except the master token, which signs webhooks. */
export class Apps {
  constructor(
    private readonly store: Store,
    private readonly options: AppsOptions = { maxApiTokens: 100, tokenOverlapMs: 24 * 60 * 60 * 1000 },
    /** Told when an app's signing key changes, so caches drop it at once. */
    private readonly onChange: (appId: string) => void = () => {},
  ) {}

  /** A new app with its master API token, which is returned once and never shown again. */
  async create(name: string): Promise<{ app: App; apiToken: string }> {
    const apiToken = newApiToken();
    const app: App = { id: newAppId(), name, signingKey: apiToken, createdAt: Date.now() };
    await this.store.createApp(app, tokenRecord(apiToken, app.id, "master", ALL_SCOPES, app.createdAt));
    return { app, apiToken };
  }

  /**
   * A new master token that signs every webhook from now on; the previous one keeps authenticating
   * API calls for the overlap, so clients can switch without a failed call.
   */
  async rotateMasterToken(
    appId: string,
    overlapMs = this.options.tokenOverlapMs,
  ): Promise<{ apiToken: string; previousExpiresAt: number }> {
    const apiToken = newApiToken();
    const now = Date.now();
    const previousExpiresAt = now + overlapMs;
    const record = tokenRecord(apiToken, appId, "master", ALL_SCOPES, now);
    if (!(await this.store.rotateMasterToken(appId, record, apiToken, previousExpiresAt))) {
      throw new HeraldError("not_found", `No app "${appId}".`);
    }
    this.onChange(appId);
    return { apiToken, previousExpiresAt };
  }

  /** A secondary token: it can call the API within its scopes, but webhooks are always signed with the master token. */
  async createSecondaryToken(
    appId: string,
    scopes: readonly Scope[] = ALL_SCOPES,
  ): Promise<{ token: string; record: ApiTokenRecord }> {
    const token = newApiToken();
    const record = tokenRecord(token, appId, "secondary", scopes, Date.now());
    if (!(await this.store.addApiToken(record, this.options.maxApiTokens))) {
      throw new HeraldError(
        "limit_exceeded",
        `An app may have at most ${this.options.maxApiTokens} secondary API tokens; revoke one first.`,
      );
    }
    return { token, record };
  }

  /**
   * A new Stream-style API key and secret, shown once. The newest key signs from now on; older ones
   * keep authenticating (and their receivers keep verifying old deliveries) until revoked.
   */
  async createApiKey(appId: string): Promise<ApiKey> {
    const made: ApiKey = { apiKey: newStreamApiKey(), appId, secret: newStreamApiSecret(), createdAt: Date.now() };
    const key = await this.store.addApiKey(made, this.options.maxApiTokens);
    if (!key) {
      throw new HeraldError(
        "limit_exceeded",
        `An app may have at most ${this.options.maxApiTokens} API keys; revoke one first.`,
      );
    }
    this.onChange(appId);
    return key;
  }

  async revokeApiKey(appId: string, apiKey: string): Promise<boolean> {
    const revoked = await this.store.deleteApiKey(appId, apiKey);
    if (revoked) this.onChange(appId);
    return revoked;
  }

  async revokeSecondaryToken(appId: string, token: string): Promise<boolean> {
    return this.store.deleteApiToken(appId, hashToken(token));
  }

  /** The app a presented token belongs to, with the token's record; rejects a missing or unknown token. */
  async authenticate(token: string | string[] | undefined): Promise<{ app: App; token: ApiTokenRecord }> {
    if (typeof token !== "string" || token === "") {
      throw new HeraldError("unauthorized", 'The "Api-Token" header is missing.');
    }
    const found = await this.store.findToken(hashToken(token), Date.now());
    if (!found) throw new HeraldError("unauthorized", 'The "Api-Token" header is invalid.');
    return found;
  }
}
