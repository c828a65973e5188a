import {
  encodeSendbirdJson,
  SENDBIRD_LEGACY_SIGNATURE_HEADER,
  SENDBIRD_SIGNATURE_HEADER,
  signSendbird,
} from "@herald/signing";
import type { Catalog } from "../../catalog/index.js";
import type { App, Endpoint, ProfileId } from "../../storage/records.js";
import type { AttemptIdentity, DeliveryPolicy, Profile } from "../profile.js";

export interface SendbirdVariant {
  id: ProfileId;
  catalog: Catalog;
  /** Chat payloads carry `app_id`, Calls payloads `application_id`. */
  appIdField: "app_id" | "application_id";
  /** Chat waits 5 s for an answer, Calls 1 s; both try three times. */
  timeoutMs: number;
  api: Profile["api"];
}

// Three attempts within about 15 s when every one times out (5 + 0.25 + 5 + 0.5 + 5), as Sendbird does.
const RETRY_DELAYS_MS = [250, 500];

/** Drops what Sendbird never sends: members unless the app asked for them, and always for Supergroups. */
function shapePayload(
  payload: Readonly<Record<string, unknown>>,
  endpoint: Endpoint,
  app: App,
  appIdField: SendbirdVariant["appIdField"],
): Record<string, unknown> {
  const shaped: Record<string, unknown> = { ...payload };
  const channel = shaped.channel as { is_super?: unknown } | undefined;
  if ("members" in shaped && (endpoint.options.include_members !== true || channel?.is_super === true)) {
    delete shaped.members;
  }
  if (shaped[appIdField] === undefined) shaped[appIdField] = app.id;
  return shaped;
}

/** A Sendbird wire profile: byte-exact bodies, `x-sendbird-signature`, Sendbird's timeouts and retries. */
export function sendbirdProfile(variant: SendbirdVariant): Profile {
  const policy: DeliveryPolicy = { timeoutMs: variant.timeoutMs, maxAttempts: 3, retryDelaysMs: RETRY_DELAYS_MS };
  return {
    id: variant.id,
    catalog: variant.catalog,
    policy,
    api: variant.api,
    render: (payload, endpoint, app) => encodeSendbirdJson(shapePayload(payload, endpoint, app, variant.appIdField)),
    headers(body: string, identity: AttemptIdentity, app: App) {
      // Always the master token: secondary tokens never sign, as Sendbird documents.
      const signature = signSendbird(body, app.signingKey);
      return {
        "user-agent": "SendBird",
        "content-type": "application/json",
        [SENDBIRD_SIGNATURE_HEADER]: signature,
        // The legacy header carries the same value; the body is pure ASCII, so both always verify.
        [SENDBIRD_LEGACY_SIGNATURE_HEADER]: signature,
        "unicode-escaped": "true",
        // Herald's additions: receivers can deduplicate retries, which Sendbird gives them no id for.
        "x-webhook-id": identity.webhookId,
        "x-webhook-attempt": String(identity.attempt),
      };
    },
    isSuccess: (statusCode) => statusCode >= 200 && statusCode < 300,
  };
}
