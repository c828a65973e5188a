import type { HandlerTable, ReceivedEvent } from "./handlers.js";
import type { Inbox, InboxEvent } from "./inbox/inbox.js";

export interface DispatchOptions {
  /** Handlers running at once. */
  concurrency: number;
  /** Runs in all before an event is dead-lettered. */
  maxAttempts: number;
  /** Wait before run 2, 3, …; the last value repeats; ±20% jitter. */
  retryDelaysMs: readonly number[];
  /** How long a claimed event is ours; after a crash it is run again once this passes. */
  leaseMs: number;
  /** How often to look for due retries (new events wake the dispatcher at once). */
  pollIntervalMs: number;
  onError: (error: unknown, event?: InboxEvent) => void;
}

/** How many slots' worth of events one claim takes. */
const CLAIM_SLOTS = 4;
const jitter = (ms: number) => Math.round(ms * (0.8 + Math.random() * 0.4));
const describe = (error: unknown) => (error instanceof Error ? (error.stack ?? error.message) : String(error));

/** Pulls events from the inbox and runs their handlers, a bounded number at a time. */
export class Dispatcher {
  private running = new Set<Promise<void>>();
  /** Claimed, not yet started: claiming a few slots' worth at once keeps claims off the hot path. */
  private ready: { event: InboxEvent; payload?: unknown }[] = [];
  private claiming = false;
  private again = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly inbox: Inbox,
    private readonly handlers: HandlerTable,
    private readonly options: DispatchOptions,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.wake(), this.options.pollIntervalMs);
    this.timer.unref();
    this.wake();
  }

  /** Stops claiming and waits (up to `timeoutMs`) for running handlers; unfinished ones run again later. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const unstarted = this.ready.splice(0).map(({ event }) => event.seq);
    if (unstarted.length > 0) await this.inbox.release(unstarted).catch((error) => this.options.onError(error));
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise((resolve) => {
        timeout = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timeout);
  }

  /** Starts claimed events in free slots, claiming more when none are left. Calls during a claim coalesce. */
  wake(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    void this.claimFreeSlots();
  }

  /** Whether a just-accepted event could be taken straight away (see `adopt`). */
  hasRoom(): boolean {
    return !this.stopped && this.running.size + this.ready.length < this.options.concurrency * CLAIM_SLOTS;
  }

  /**
   * Runs an event the inbox stored already claimed for this dispatcher, skipping the claim query,
   * with the payload verification already parsed.
   */
  adopt(event: InboxEvent, payload: unknown): void {
    this.ready.push({ event, payload });
    this.startReady();
  }

  private async claimFreeSlots(): Promise<void> {
    this.claiming = true;
    try {
      do {
        this.again = false;
        this.startReady();
        if (this.running.size >= this.options.concurrency) break;
        const batch = this.options.concurrency * CLAIM_SLOTS;
        const events = await this.inbox.claim(batch, this.options.leaseMs);
        this.ready.push(...events.map((event) => ({ event })));
        if (events.length === batch) this.again = true;
        this.startReady();
      } while (this.again && !this.stopped);
    } catch (error) {
      // The store is unreachable; the next poll tries again.
      this.options.onError(error);
    } finally {
      this.claiming = false;
    }
  }

  private startReady(): void {
    while (!this.stopped && this.running.size < this.options.concurrency && this.ready.length > 0) {
      const { event, payload } = this.ready.shift()!;
      this.track(this.run(event, payload ?? JSON.parse(event.body)));
    }
  }

  private track(run: Promise<void>): void {
    this.running.add(run);
    void run.finally(() => {
      this.running.delete(run);
      this.wake();
    });
  }

  private async run(event: InboxEvent, payload: unknown): Promise<void> {
    const received: ReceivedEvent = {
      key: event.key,
      profile: event.profile,
      type: event.type,
      payload,
      attempt: event.attempts,
      receivedAt: new Date(event.receivedAt),
    };
    try {
      for (const handler of this.handlers.matching(event.type)) await handler(received);
    } catch (error) {
      this.options.onError(error, event);
      await this.settleFailure(event, describe(error));
      return;
    }
    await this.inbox.complete(event.seq).catch((error) => this.options.onError(error, event));
  }

  private async settleFailure(event: InboxEvent, error: string): Promise<void> {
    const { maxAttempts, retryDelaysMs } = this.options;
    const settle =
      event.attempts >= maxAttempts
        ? this.inbox.deadLetter(event.seq, error)
        : this.inbox.retryAt(
            event.seq,
            Date.now() + jitter(retryDelaysMs[Math.min(event.attempts - 1, retryDelaysMs.length - 1)] ?? 1000),
            error,
          );
    // If even this write fails the lease still runs out, and the event is run again: nothing is lost.
    await settle.catch((writeError) => this.options.onError(writeError, event));
  }
}
