import type { FastifyInstance } from "fastify";
import { buildServer } from "./api/server.js";
import { Apps } from "./apps/apps.js";
import { EndpointDirectory } from "./apps/endpoint-directory.js";
import { type HeraldConfig, loadConfig } from "./core/config.js";
import { HeraldError } from "./core/errors.js";
import { createLogger, type Logger } from "./core/logger.js";
import { Metrics } from "./core/metrics.js";
import { cachedQueueStats } from "./delivery/queue-stats.js";
import type { Resolver } from "./delivery/transport/index.js";
import { ListenRelay, RelayingTransport } from "./delivery/transport/listen-relay.js";
import { DeliveryWorker } from "./delivery/worker.js";
import { SyncHookCaller } from "./hooks/sync-caller.js";
import { OperationalEvents } from "./ingest/operational-events.js";
import { PublishGate } from "./ingest/publish-gate.js";
import { type AppLimits, LIMITS_NAMESPACE, PublishRateLimiter } from "./ingest/publish-rate-limiter.js";
import { Publisher, type PublishOptions } from "./ingest/publisher.js";
import { ListenLeases } from "./operations/listen-leases.js";
import { QueueSampler } from "./operations/queue-sampler.js";
import { DEFAULT_RECOVERY_OPTIONS, RecoveryRunner } from "./operations/recovery.js";
import { RetentionSweeper } from "./operations/retention.js";
import {
  type BeforeSendResult,
  beforeMessageSend,
  type CommandResult,
  runCommand,
} from "./profiles/stream/sync-hooks.js";
import { openStore } from "./storage/open-store.js";
import type { Store } from "./storage/store.js";

const KEY_SWEEP_INTERVAL_MS = 10 * 60 * 1000;

export interface HeraldOptions extends Partial<HeraldConfig> {
  /** Where settings are read from (default `process.env`); explicit options win over it. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Resolves webhook host names instead of the system resolver: tests map names to chosen addresses. */
  resolver?: Resolver;
}

/** A running Herald: publish in-process, serve the APIs, deliver. */
export interface Herald {
  readonly config: HeraldConfig;
  readonly store: Store;
  readonly apps: Apps;
  readonly server: FastifyInstance;
  /** Publishes one event for an app; resolves with its id once it is committed. */
  publish(appId: string, event: Record<string, unknown>, options?: PublishOptions): Promise<string>;
  /** Publishes events atomically: all are committed, or none. */
  publishBatch(appId: string, events: Record<string, unknown>[], options?: PublishOptions): Promise<string[]>;
  /**
   * Stream's before-message-send for an app: its hook decides (accept, modify, reject), or fails
   * open. Call it in the send path, before storing the message.
   */
  beforeMessageSend(appId: string, input: Record<string, unknown>): Promise<BeforeSendResult>;
  /** Runs a Stream custom command through the app's handler; throws Stream's errors 44 and 45 as HeraldError. */
  runCommand(appId: string, input: Record<string, unknown>): Promise<CommandResult>;
  /** Starts the HTTP server; resolves with its base URL. */
  listen(): Promise<string>;
  /** Stops taking requests, lets attempts in flight finish (up to the grace period), and closes the store. */
  close(): Promise<void>;
}

export async function createHerald(options: HeraldOptions = {}): Promise<Herald> {
  const { env, logger: givenLogger, resolver, ...overrides } = options;
  const config = loadConfig(env ?? process.env, overrides);
  const logger = givenLogger ?? createLogger(config.logLevel, undefined, config.logFormat);
  const metrics = new Metrics();
  // `herald listen` sessions: their endpoints' attempts go through the relay, not HTTP.
  let onListenConnected = (_endpointId: string) => {};
  let onListenExpired = async (_appId: string, _endpointId: string, _url: string) => {};
  const relay = new ListenRelay({
    graceMs: config.listenGraceMs,
    captureBytes: config.responseCaptureBytes,
    onConnected: (endpointId) => onListenConnected(endpointId),
    onExpired: (appId, endpointId, url) => onListenExpired(appId, endpointId, url),
  });
  // Before the store opens: a bad HERALD_ALLOW_NETWORKS stops the start with nothing to close.
  const transport = new RelayingTransport(relay, {
    allowNetworks: config.allowNetworks,
    responseCaptureBytes: config.responseCaptureBytes,
    resolver,
    onResult: (errorClass) => metrics.outboundRequests.inc({ error_class: errorClass ?? "none" }),
    onRefused: (stage) => metrics.ssrfRefusals.inc({ stage }),
  });
  const opened = transport.policy.broadExceptions();
  if (opened.length > 0) {
    logger.warn(
      { allowNetworks: opened },
      `HERALD_ALLOW_NETWORKS opens ${opened.join(", ")}: webhooks may reach any address there, the SSRF guard is off for them`,
    );
  }
  const store = openStore(config.databaseUrl, config);
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => {});
    // Said as the database's, not as a bare "connect ECONNREFUSED" a reader would take for Herald's.
    const kind = config.databaseUrl.split(":")[0];
    throw new Error(`cannot open the database (HERALD_DATABASE_URL, ${kind}): ${(error as Error).message}`, {
      cause: error,
    });
  }
  const endpoints = new EndpointDirectory(store);
  // A rotated master token must sign at once: drop the cached app the worker signs with.
  const apps = new Apps(store, config, (appId) => endpoints.forgetApp(appId));
  const runsWorker = config.role !== "api";
  // Wakes this process's worker, once it exists: operational events are published from inside it.
  const wake = (endpointIds: Iterable<string>) => runsWorker && worker.notify(endpointIds);
  onListenConnected = (endpointId) => wake([endpointId]);
  onListenExpired = (appId, endpointId, url) => endpoints.deleteListenEndpoint(appId, endpointId, url);
  const operational = new OperationalEvents(store, endpoints, config.failedEventsPerMinute, logger, wake);
  const worker = new DeliveryWorker(store, endpoints, transport, config, logger, metrics, {
    deliveryFailed: (failed) => operational.deliveryFailed(failed),
    endpointDisabled: (endpointId, _appId, reason) => {
      store
        .getEndpoint(endpointId)
        .then((endpoint) => endpoint && operational.endpointDisabled(endpoint, reason))
        .catch((error: unknown) => logger.error({ err: error, endpointId }, "reporting a disabled endpoint failed"));
    },
  });
  // Enabled or disabled through an API (native, Sendbird's settings): tell the app's subscribers.
  endpoints.onEndpointSaved((before, after) => {
    if (before?.enabled && !after.enabled) operational.endpointDisabled(after, after.disabledReason);
    if (before && !before.enabled && after.enabled) operational.endpointEnabled(after);
  });
  // A change made in this process reaches queued work at once; other processes see it on their next claim.
  if (runsWorker) endpoints.onEndpointChange((endpointId) => worker.endpointChanged(endpointId));
  metrics.watchQueue(cachedQueueStats(store));
  const rateLimiter = new PublishRateLimiter(
    config.publishRateLimit,
    async (appId) => {
      const limits = await endpoints.appSettings(appId, LIMITS_NAMESPACE);
      return (limits as Partial<AppLimits> | undefined)?.publish_rate_limit ?? null;
    },
    () => metrics.publishesRateLimited.inc(),
  );
  const publisher = new Publisher(
    store,
    endpoints,
    config.idempotencyTtlMs,
    (eventCount, endpointIds) => {
      metrics.eventsPublished.inc(eventCount);
      if (endpointIds.size > 0) wake(endpointIds);
    },
    rateLimiter,
    new PublishGate((change) => metrics.publishesWaiting.inc(change)),
  );
  const syncHooks = new SyncHookCaller(store, endpoints, transport, logger, metrics, {
    failureThreshold: config.hookBreakerFailures,
    coolDownMs: config.hookBreakerCoolDownMs,
  });
  // Recover jobs run in any process (a lease picks one); the worker that holds the endpoint is woken,
  // here directly, elsewhere through the store's notifications.
  const recoveries = new RecoveryRunner(store, (endpointId) => wake([endpointId]), logger, {
    ...DEFAULT_RECOVERY_OPTIONS,
    maxManualRetries: config.maxManualRetries,
  });
  // Pruning runs where deliveries are worked on; with split roles, the API processes leave it alone.
  const retention = new RetentionSweeper(store, logger, {
    retentionDays: config.retentionDays,
    sweepMs: config.retentionSweepMs,
  });
  // The queue's history for the Overview: sampled where deliveries are worked on, like pruning (with
  // split roles, one sample per period still, whichever worker takes it first).
  const queueSampler = new QueueSampler(store, logger, config.queueSampleMs);
  // Every process renews its listen sessions' leases; those working on deliveries also clear the orphans.
  const listenLeases = new ListenLeases(store, relay, logger, config.listenGraceMs, (appId, endpointId, url) =>
    onListenExpired(appId, endpointId, url),
  );
  const server = await buildServer(
    {
      config,
      logger,
      store,
      apps,
      endpoints,
      publisher,
      transport,
      syncHooks,
      listen: relay,
      onRetry: (id) => wake([id]),
      onRecoveryCreated: () => recoveries.kick(),
      breakerOf: (id) => worker.breakerOf(id),
    },
    metrics,
    config.role !== "worker",
  );
  if (runsWorker) {
    worker.start();
    retention.start();
    queueSampler.start();
  }
  recoveries.start();
  listenLeases.start(runsWorker);
  // Deliveries committed by other processes (an `--role api` process, another machine) wake this one.
  const stopListening =
    runsWorker && store.listenForDeliveries
      ? await store.listenForDeliveries((endpointIds) =>
          endpointIds.length > 0 ? worker.notify(endpointIds) : worker.pollNow(),
        )
      : undefined;
  // Idempotency keys are only needed for their TTL; sweep the expired ones now and then.
  const sweepKeys = () =>
    store.expireIdempotencyKeys(Date.now() - config.idempotencyTtlMs).catch((error: unknown) => {
      logger.warn({ err: error }, "expiring idempotency keys failed");
    });
  const sweeper = setInterval(sweepKeys, KEY_SWEEP_INTERVAL_MS);
  sweeper.unref();

  const appFor = async (appId: string) => {
    const app = await store.getApp(appId);
    if (!app) throw new HeraldError("not_found", `No app "${appId}".`);
    return app;
  };

  // The send path calls before-message-send for every message: read the app through the cache.
  const cachedApp = async (appId: string) => {
    const app = await endpoints.app(appId);
    if (!app) throw new HeraldError("not_found", `No app "${appId}".`);
    return app;
  };

  let closed = false;
  return {
    config,
    store,
    apps,
    server,
    async publish(appId, event, publishOptions) {
      const result = await publisher.publish(await appFor(appId), [event], publishOptions);
      return result.eventIds[0]!;
    },
    async publishBatch(appId, events, publishOptions) {
      return (await publisher.publish(await appFor(appId), events, { ...publishOptions, batch: true })).eventIds;
    },
    async beforeMessageSend(appId, input) {
      return beforeMessageSend(syncHooks, endpoints, await cachedApp(appId), input);
    },
    async runCommand(appId, input) {
      return runCommand(syncHooks, endpoints, await cachedApp(appId), input);
    },
    async listen() {
      const url = await server.listen({ host: config.host, port: config.port });
      logger.info({ url, role: config.role, database: config.databaseUrl.split(":")[0] }, "herald listening");
      return url;
    },
    async close() {
      if (closed) return;
      closed = true;
      logger.info({ graceMs: config.shutdownGraceMs }, "herald stopping");
      clearInterval(sweeper);
      await Promise.all([recoveries.close(), retention.close(), queueSampler.close(), listenLeases.close()]);
      await stopListening?.();
      // New connections are refused at once; requests under way and attempts in flight get the
      // grace period, after which connections still open (a client still sending) are cut.
      const cut = setTimeout(() => server.server.closeAllConnections(), config.shutdownGraceMs);
      await Promise.all([server.close(), worker.close(config.shutdownGraceMs)]);
      clearTimeout(cut);
      await syncHooks.flush();
      await transport.close();
      await store.close();
      logger.info("herald stopped");
    },
  };
}
