import type { FastifyPluginAsync } from "fastify";
import type { ApiContext } from "../api/context.js";
import type { Vocabulary } from "../catalog/index.js";
import type { App, Endpoint, SigningKey, SigningKeyKind, WireFormatId } from "../storage/records.js";

/** How a wire format's deliveries are attempted. */
export interface DeliveryPolicy {
  /** One attempt's budget: connect, send, and the response. */
  timeoutMs: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Wait before attempt 2, 3, …; the last value repeats. ±20% jitter is added. */
  retryDelaysMs: readonly number[];
}

/** What a response status means for a delivery. */
export type Outcome = "succeeded" | "retry" | "failed";

/** The event a body is rendered for. */
export interface RenderedEvent {
  id: string;
  type: string;
  createdAt: number;
  payload: Readonly<Record<string, unknown>>;
}

/** What identifies one attempt on the wire. */
export interface AttemptIdentity {
  webhookId: string;
  attempt: number;
  /** When the attempt is made (epoch ms): timestamped signatures are made per attempt. */
  now: number;
}

/** The keys one endpoint's deliveries are signed with, resolved by the engine. */
export interface SigningKeys {
  /** The app's master API token: Sendbird's HMAC key. */
  appToken: string;
  /** The endpoint's own keys that sign now, newest first (several during a rotation). */
  endpointKeys: readonly SigningKey[];
}

/** One attempt's request: the bytes to send and the headers for exactly those bytes. */
export interface WireRequest {
  body: string | Buffer;
  headers: Record<string, string>;
}

/** A new endpoint key, and what its owner is shown once: the secret, or the public key to verify with. */
export interface NewEndpointKey {
  kind: SigningKeyKind;
  secret: string;
  publicKey: string | null;
}

/**
 * A wire format: everything about the bytes on the wire (Sendbird Chat, Sendbird Calls, Standard
 * Webhooks, next Stream). The engine only ever calls these; it never asks which vendor it talks to.
 */
export interface WireFormat {
  readonly id: WireFormatId;
  readonly description: string;
  readonly policy: DeliveryPolicy;
  /** Which event types it can carry (Sendbird Chat's format only Chat's); absent: every type. */
  carries?(type: string): boolean;
  /** The stored body, rendered once at publish: payload shaping plus the wire's JSON encoding. */
  render(event: RenderedEvent, endpoint: Endpoint, app: App): string;
  /** One attempt's bytes and headers (signatures, ids, timestamps) for a stored body. */
  request(body: string, identity: AttemptIdentity, keys: SigningKeys): WireRequest;
  /** What a response status means. A network error or timeout is always a retry. */
  classify(statusCode: number): Outcome;
  /** Header names an endpoint's extra headers may not set. */
  readonly reservedHeaders: readonly string[];
  /** Makes an endpoint's signing keys, when the format signs with keys of the endpoint's own. */
  newKeys?(options: { ed25519: boolean }): NewEndpointKey[];
}

/** A vendor-shaped API that creates and updates endpoints, mounted under its prefix with its own errors. */
export interface ManagementApi {
  readonly prefix: string;
  readonly plugin: FastifyPluginAsync<ApiContext>;
}

/**
 * What one vendor folder under `src/profiles/` contributes: its event vocabularies, its wire
 * formats and its management APIs. The registry lists each profile once.
 */
export interface Profile {
  readonly vocabularies: readonly Vocabulary[];
  readonly wireFormats: readonly WireFormat[];
  readonly apis: readonly ManagementApi[];
}
