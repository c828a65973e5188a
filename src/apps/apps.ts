import { createHash } from "node:crypto";
import { HeraldError } from "../core/errors.js";
import { newApiToken, newAppId } from "../core/ids.js";
import type { ApiTokenRecord, App, TokenKind } from "../storage/records.js";
import type { Store } from "../storage/store.js";

/** The caller of an API request: an app, and which of its tokens it presented. */
export interface Principal {
  app: App;
  tokenKind: TokenKind;
}

const hashToken = (token: string): string => createHash("sha256").update(token).digest("hex");
const tokenRecord = (token: string, appId: string, kind: TokenKind, createdAt: number): ApiTokenRecord => ({
  tokenHash: hashToken(token),
  appId,
  kind,
  preview: `${token.slice(0, 4)}…${token.slice(-4)}`,
  createdAt,
});

/** Tenants and their API tokens. Tokens are kept hashed, except the master token, which signs webhooks. */
export class Apps {
  constructor(private readonly store: Store) {}

  /** A new app with its master API token, which is returned once and never shown again. */
  async create(name: string): Promise<{ app: App; apiToken: string }> {
    const apiToken = newApiToken();
    const app: App = { id: newAppId(), name, signingKey: apiToken, createdAt: Date.now() };
    await this.store.createApp(app, tokenRecord(apiToken, app.id, "master", app.createdAt));
    return { app, apiToken };
  }

  /** A secondary token: it can call the API, but webhooks are always signed with the master token. */
  async createSecondaryToken(appId: string): Promise<{ token: string; record: ApiTokenRecord }> {
    const token = newApiToken();
    const record = tokenRecord(token, appId, "secondary", Date.now());
    await this.store.addApiToken(record);
    return { token, record };
  }

  async revokeSecondaryToken(appId: string, token: string): Promise<boolean> {
    return this.store.deleteApiToken(appId, hashToken(token));
  }

  /** The app a presented token belongs to; rejects a missing or unknown token as unauthorized. */
  async authenticate(token: string | string[] | undefined): Promise<Principal> {
    if (typeof token !== "string" || token === "") {
      throw new HeraldError("unauthorized", 'The "Api-Token" header is missing.');
    }
    const found = await this.store.findToken(hashToken(token));
    if (!found) throw new HeraldError("unauthorized", 'The "Api-Token" header is invalid.');
    return { app: found.app, tokenKind: found.kind };
  }

  /** Only the master token may manage tokens, as Sendbird documents. */
  static requireMaster(principal: Principal): void {
    if (principal.tokenKind !== "master") {
      throw new HeraldError(
        "forbidden",
        "This action needs the master API token; a secondary token cannot perform it.",
      );
    }
  }
}
