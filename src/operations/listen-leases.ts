import type { Logger } from "../core/logger.js";
import type { ListenRelay } from "../delivery/transport/listen-relay.js";
import type { Store } from "../storage/store.js";

/** Orphaned listen endpoints removed per tick: a restart after many sessions catches up over a few ticks. */
const SWEEP_LIMIT = 100;

/** How often leases are renewed: a few times per grace period, and at least every 15 s. */
export const leaseRenewMs = (graceMs: number) => Math.max(250, Math.min(15_000, Math.floor(graceMs / 2)));

/**
 * A `herald listen` session lives in the memory of one process, and its endpoint in the store. When
 * the process ends cleanly it deletes its sessions' endpoints; when it is killed (`kill -9`, a lost
 * machine) nothing does, and the endpoint would hold deliveries for a CLI that can never connect.
 * So each process renews a lease on the endpoints of the sessions it holds, and processes that work
 * on deliveries delete listen endpoints whose lease has run out, as `DELETE /v1/endpoints/{id}` would
 * (pending deliveries end failed, in the log). A lease lasts the grace period plus three renewals.
 */
export class ListenLeases {
  readonly #renewMs: number;
  readonly #leaseMs: number;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly relay: ListenRelay,
    private readonly logger: Logger,
    graceMs: number,
    /** Deletes an orphaned listen endpoint, as the relay does when a session expires. */
    private readonly removeOrphan: (appId: string, endpointId: string, url: string) => Promise<void>,
  ) {
    this.#renewMs = leaseRenewMs(graceMs);
    this.#leaseMs = graceMs + 3 * this.#renewMs;
  }

  /** Renews this process's leases every few seconds, and with `sweeps` removes orphans too. */
  start(sweeps: boolean): void {
    const tick = () => {
      this.#ticking ??= this.tick(sweeps).finally(() => {
        this.#ticking = undefined;
      });
    };
    tick();
    this.#timer = setInterval(tick, this.#renewMs);
    this.#timer.unref();
  }

  async tick(sweeps: boolean, now = Date.now()): Promise<void> {
    try {
      const held = this.relay.heldEndpointIds();
      if (held.length > 0) await this.store.renewListenLeases(held, now + this.#leaseMs);
      if (!sweeps) return;
      for (const orphan of await this.store.expiredListenEndpoints(now, this.#leaseMs, SWEEP_LIMIT)) {
        await this.removeOrphan(orphan.appId, orphan.id, orphan.url);
        this.logger.info(
          { appId: orphan.appId, endpointId: orphan.id },
          "removed a listen endpoint whose session no process holds any more",
        );
      }
    } catch (error) {
      this.logger.warn({ err: error }, "renewing or sweeping listen leases failed; trying again shortly");
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#ticking;
  }
}
