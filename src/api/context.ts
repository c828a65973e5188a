import type { Apps } from "../apps/apps.js";
import type { EndpointDirectory } from "../apps/endpoint-directory.js";
import type { HeraldConfig } from "../core/config.js";
import type { Logger } from "../core/logger.js";
import type { OutboundTransport } from "../delivery/transport/index.js";
import type { ListenRelay } from "../delivery/transport/listen-relay.js";
import type { SyncHookCaller } from "../hooks/sync-caller.js";
import type { Publisher } from "../ingest/publisher.js";
import type { Store } from "../storage/store.js";

/** What every API plugin is given: the engine's services, never the engine's internals. */
export interface ApiContext {
  config: HeraldConfig;
  logger: Logger;
  store: Store;
  apps: Apps;
  endpoints: EndpointDirectory;
  publisher: Publisher;
  /** Calls synchronous hooks (Stream's before-message-send, custom commands). */
  syncHooks: SyncHookCaller;
  /** Every outbound request goes through it; it also judges webhook URLs when they are configured. */
  transport: OutboundTransport;
  /** `herald listen` sessions held by this process (the `/v1/listen` routes exist only with it). */
  listen?: ListenRelay;
  /** An endpoint's circuit breaker as this process's worker knows it (closed without a worker). */
  breakerOf?(endpointId: string): "closed" | "open" | "half_open";
  /** A delivery was made due again by hand: wake the worker for its endpoint. */
  onRetry(endpointId: string): void;
  /** A recovery job was stored: start running it now rather than at the next poll. */
  onRecoveryCreated(): void;
}
