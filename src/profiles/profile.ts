import type { FastifyPluginAsync } from "fastify";
import type { ApiContext } from "../api/context.js";
import type { Catalog } from "../catalog/index.js";
import type { App, Endpoint, ProfileId } from "../storage/records.js";

/** How a profile's deliveries are attempted. */
export interface DeliveryPolicy {
  /** One attempt's budget: connect, send, and the response. */
  timeoutMs: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Wait before attempt 2, 3, …; the last value repeats. ±20% jitter is added. */
  retryDelaysMs: readonly number[];
}

/** What identifies one attempt on the wire. */
export interface AttemptIdentity {
  webhookId: string;
  attempt: number;
}

/**
 * Everything that differs between wire formats (Sendbird Chat, Sendbird Calls, later Stream and
 * Standard Webhooks). The engine only ever calls these; it never asks which vendor it talks to.
 */
export interface Profile {
  readonly id: ProfileId;
  /** The categories this profile delivers; publishing routes an event to the profiles that know it. */
  readonly catalog: Catalog;
  readonly policy: DeliveryPolicy;
  /** The exact body bytes for one endpoint: payload shaping plus the wire's JSON encoding. */
  render(payload: Readonly<Record<string, unknown>>, endpoint: Endpoint, app: App): string;
  /** The headers of one attempt, signature included, for exactly these body bytes. */
  headers(body: string, identity: AttemptIdentity, app: App): Record<string, string>;
  /** Whether a response status ends the delivery as delivered. */
  isSuccess(statusCode: number): boolean;
  /** The vendor-shaped settings API that creates and updates this profile's endpoints. */
  readonly api?: { prefix: string; plugin: FastifyPluginAsync<ApiContext> };
}
