import type { ServerResponse } from "node:http";
import type { FastifyPluginAsync } from "fastify";
import { HeraldError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { writeOrCut } from "../core/stream-backpressure.js";
import type { DeliveryView } from "../storage/records.js";
import type { Store } from "../storage/store.js";
import { appOf } from "./auth.js";
import type { ApiContext } from "./context.js";
import { NoQuery } from "./schemas.js";
import { StreamCredentials } from "./stream-credentials.js";
import { deliveryJson } from "./views.js";

/** How often an app's feed looks at the store: the store is the truth across processes. */
export const LIVE_POLL_MS = 1000;
/** The newest deliveries a feed compares each time: new ones and changes among them are sent. */
const LIVE_WINDOW = 100;
/** A comment line now and then, so proxies and browsers keep an idle stream open. */
const HEARTBEAT_MS = 15_000;

export interface LiveLimits {
  /** Streams open at once in this process. */
  maxConnections: number;
  /** Streams open at once for one app in this process. */
  maxPerApp: number;
  pollMs: number;
  /** Bytes a stream may have waiting to go out: past it the client has stopped reading, and is cut off. */
  maxUnsentBytes: number;
}

/** A watcher that stops reading is cut off past 1 MiB (about fifty deliveries with captured bodies); its client reconnects. */
export const LIVE_MAX_UNSENT_BYTES = 1024 * 1024;

export const DEFAULT_LIVE_LIMITS: LiveLimits = {
  maxConnections: 100,
  maxPerApp: 10,
  pollMs: LIVE_POLL_MS,
  maxUnsentBytes: LIVE_MAX_UNSENT_BYTES,
};

type Subscriber = (delivery: DeliveryView) => void;

/** What makes a delivery "changed" for a watcher: its state, its attempt count, its last update. */
const versionOf = (delivery: DeliveryView) => `${delivery.state}:${delivery.attempts}:${delivery.updatedAt}`;

/**
 * One app's live feed: polls the store for the app's newest deliveries once a second while anyone
 * watches, and tells every watcher about each delivery that is new or changed since the last look.
 * One feed per app however many tabs watch it, so the store sees one query per app per second.
 */
class AppFeed {
  readonly subscribers = new Set<Subscriber>();
  #versions: Map<string, string> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  readonly #ready: Promise<void>;

  constructor(
    private readonly appId: string,
    private readonly store: Store,
    private readonly logger: Logger,
    pollMs: number,
  ) {
    this.#ready = this.#poll();
    this.#timer = setInterval(() => void this.#poll(), pollMs);
  }

  /** Resolves once the feed knows the current state, so a watcher's list and the stream meet. */
  ready(): Promise<void> {
    return this.#ready;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #poll(): Promise<void> {
    if (this.#polling) return; // a slow store: skip a beat rather than pile queries up
    this.#polling = true;
    try {
      const newest = await this.store.listDeliveries(this.appId, { limit: LIVE_WINDOW });
      const previous = this.#versions;
      const versions = new Map(newest.map((delivery) => [delivery.id, versionOf(delivery)]));
      this.#versions = versions;
      // The first look is the baseline: the watcher has just loaded the list itself.
      if (!previous) return;
      // Oldest first, so a watcher sees them in the order they happened.
      for (const delivery of newest.toReversed()) {
        if (previous.get(delivery.id) === versions.get(delivery.id)) continue;
        for (const send of this.subscribers) send(delivery);
      }
    } catch (error) {
      this.logger.warn({ err: error, app: this.appId }, "live feed: the store did not answer");
    } finally {
      this.#polling = false;
    }
  }
}

/** Every open live stream in this process, and the feeds they share. */
export class LiveHub {
  readonly #feeds = new Map<string, AppFeed>();
  readonly #streams = new Set<ServerResponse>();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly limits: LiveLimits = DEFAULT_LIVE_LIMITS,
  ) {}

  /** Subscribes to an app's feed; refuses past the process's or the app's cap (429, in the API's format). */
  subscribe(appId: string, stream: ServerResponse, send: Subscriber): { feed: AppFeed; unsubscribe: () => void } {
    if (this.#streams.size >= this.limits.maxConnections) {
      throw new HeraldError("rate_limited", "Too many live streams are open on this server; try again later.", {
        retryAfterSeconds: 5,
      });
    }
    const feed = this.#feeds.get(appId) ?? new AppFeed(appId, this.store, this.logger, this.limits.pollMs);
    if (feed.subscribers.size >= this.limits.maxPerApp) {
      throw new HeraldError(
        "rate_limited",
        `This app already has ${this.limits.maxPerApp} live streams open; close one and try again.`,
        { retryAfterSeconds: 5 },
      );
    }
    this.#feeds.set(appId, feed);
    feed.subscribers.add(send);
    this.#streams.add(stream);
    const unsubscribe = () => {
      this.#streams.delete(stream);
      feed.subscribers.delete(send);
      if (feed.subscribers.size === 0 && this.#feeds.get(appId) === feed) {
        feed.stop();
        this.#feeds.delete(appId);
      }
    };
    return { feed, unsubscribe };
  }

  /** Ends every stream, so the server can close (a stream never ends by itself). */
  closeAll(): void {
    for (const stream of this.#streams) stream.end();
    for (const feed of this.#feeds.values()) feed.stop();
    this.#streams.clear();
    this.#feeds.clear();
  }
}

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * `GET /v1/live/deliveries`: a server-sent-events stream of the app's deliveries as they are
 * created and as their attempts land (`event: delivery`, the same JSON as `GET /v1/deliveries/{id}`),
 * after an `event: ready` once the stream is watching. It reads the store, so it sees deliveries
 * made and sent by every process sharing it. A client that stops reading is cut off once 1 MiB waits
 * for it (`LIVE_MAX_UNSENT_BYTES`); it reconnects, as the dashboard does after a drop. Credentials go
 * in headers like every route: a client reads it with `fetch` (the browser's `EventSource` cannot
 * send headers, and a token never goes in a URL).
 */
export const liveRoutes: FastifyPluginAsync<ApiContext & { liveLimits?: LiveLimits }> = async (app, ctx) => {
  const limits = ctx.liveLimits ?? DEFAULT_LIVE_LIMITS;
  const hub = new LiveHub(ctx.store, ctx.logger, limits);
  const credentials = new StreamCredentials(ctx);
  app.addHook("preClose", (done) => {
    hub.closeAll();
    done();
  });

  app.get(
    "/live/deliveries",
    {
      // Fastify's automatic HEAD would run this handler and hold a stream slot with no stream: 404 instead.
      exposeHeadRoute: false,
      config: { access: "read" },
      schema: {
        summary: "Live delivery updates, as server-sent events (text/event-stream)",
        description:
          "`event: ready` once watching, then `event: delivery` with a delivery's JSON each time one is created or changes. Polls the store once a second per app.",
        tags: ["deliveries"],
        querystring: NoQuery,
      },
    },
    async (request, reply) => {
      const stream = reply.raw;
      const appId = appOf(request).id;
      const write = (chunk: string) => writeOrCut(stream, chunk, limits.maxUnsentBytes);
      const { feed, unsubscribe } = hub.subscribe(appId, stream, (delivery) => {
        write(sse("delivery", deliveryJson(delivery)));
      });
      reply.hijack();
      stream.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
        connection: "keep-alive",
      });
      const heartbeat = setInterval(() => write(": ping\n\n"), HEARTBEAT_MS);
      const end = () => {
        clearInterval(heartbeat);
        unsubscribe();
      };
      request.raw.on("close", end);
      stream.on("close", end);
      // A revoked token or a deleted app stops watching.
      credentials.watch(request, appId, stream, () => stream.end());
      await feed.ready();
      write(sse("ready", { poll_ms: LIVE_POLL_MS }));
    },
  );
};
