import type { FastifyPluginAsync } from "fastify";
import type { ApiContext } from "../api/context.js";
import type { Vocabulary } from "../catalog/index.js";
import type { ApiKey, App, Endpoint, SigningKey, SigningKeyKind, WireFormatId } from "../storage/records.js";

/** How a wire format's deliveries are attempted. */
export interface DeliveryPolicy {
  /** One attempt's budget: connect, send, and the response. */
  timeoutMs: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Wait before attempt 2, 3, …; the last value repeats. ±20% jitter is added. */
  retryDelaysMs: readonly number[];
  /**
   * Every attempt of a delivery ends within this long of the first (Stream: 15 s): the last attempt's
   * deadline is cut to fit, and no retry starts past it. Absent: no bound.
   */
  windowMs?: number;
}

/** What an attempt's result means for its delivery. */
export type Outcome = "succeeded" | "retry" | "failed";

export const isSuccess = (statusCode: number): boolean => statusCode >= 200 && statusCode < 300;

/** What one attempt came to, before a wire format judges it. */
export interface AttemptResult {
  /** The response status; null when no response arrived. */
  statusCode: number | null;
  /** Why no response arrived: the deadline passed, or the connection failed (refused, reset, DNS, …). */
  failure: "timeout" | "network" | null;
}

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
  /** The app's API keys, newest first (Stream: the newest signs); empty unless the format asks for them. */
  apiKeys: readonly ApiKey[];
}

/** Which keys a wire format signs with, so the engine loads only those. */
export type KeySource = "app-token" | "endpoint-keys" | "api-keys";

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
  /** The vocabulary its endpoints speak unless told otherwise (Stream's format: Stream's events). */
  readonly defaultVocabulary?: string;
  /**
   * A synchronous hook's format (Stream's before-message-send): called in the sender's path by the
   * hooks module, never from the queue; its endpoints are set through the vendor's API only.
   */
  readonly synchronous?: boolean;
  /** Which event types it can carry (Sendbird Chat's format only Chat's); absent: every type. */
  carries?(type: string): boolean;
  /** The stored body, rendered once at publish: payload shaping plus the wire's JSON encoding. */
  render(event: RenderedEvent, endpoint: Endpoint, app: App): string;
  /**
   * What of an endpoint `render` reads, as a key: an event's endpoints of this format and one app
   * whose keys are equal get the same bytes, rendered once (a Stream event going to three endpoints
   * is serialised once, not three times). Absent: rendered for each endpoint.
   */
  renderVariant?(endpoint: Endpoint): string;
  /** The keys its requests are signed with. */
  readonly signsWith: KeySource;
  /** One attempt's bytes and headers (signatures, ids, timestamps) for a stored body. */
  request(body: string, identity: AttemptIdentity, keys: SigningKeys, endpoint: Endpoint): WireRequest;
  /** What attempt number `attempt` coming to `result` means; `retry` past the delivery's attempts is a failure. */
  classify(result: AttemptResult, attempt: number): Outcome;
  /**
   * Why an attempt's result disables its endpoint (Standard Webhooks: 410 Gone), or undefined. The
   * endpoint's other pending deliveries are then held until it is enabled again.
   */
  disablesOn?(result: AttemptResult): string | undefined;
  /** Header names an endpoint's extra headers may not set. */
  readonly reservedHeaders: readonly string[];
  /** Makes an endpoint's signing keys, when the format signs with keys of the endpoint's own. */
  newKeys?(options: { ed25519: boolean }): NewEndpointKey[];
}

/** A vendor-shaped API that creates and updates endpoints, mounted under its prefix with its own errors. */
export interface ManagementApi {
  readonly prefix: string;
  /** Loaded when a server starts, so that the CLI, which reads only formats and vocabularies, stays light. */
  readonly loadPlugin: () => Promise<FastifyPluginAsync<ApiContext>>;
  /**
   * For a vendor whose clients call it under any base URL (Stream: `{base}/app`): the path a
   * request's path is routed as, or undefined to leave it alone.
   */
  readonly route?: (path: string) => string | undefined;
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
