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

const jitter = (ms: number) => Math.round(ms * (0.8 + Math.random() * 0.4));
const describe = (error: unknown) => (error instanceof Error ? (error.stack ?? error.message) : String(error));

/** Pulls events from the inbox and runs their handlers, a bounded number at a time. */
export class Dispatcher {
  private running = new Set<Promise<void>>();
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
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise((resolve) => {
        timeout = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timeout);
  }

  /** Claims as many events as there are free slots. Calls made while a claim is under way coalesce. */
  wake(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    void this.claimFreeSlots();
  }

  get busy(): number {
    return this.running.size;
  }

  private async claimFreeSlots(): Promise<void> {
    this.claiming = true;
    try {
      do {
        this.again = false;
        const free = this.options.concurrency - this.running.size;
        if (free <= 0) break;
        const events = await this.inbox.claim(free, this.options.leaseMs);
        for (const event of events) this.track(this.run(event));
        if (events.length === free) this.again = true;
      } while (this.again && !this.stopped);
    } catch (error) {
      // The store is unreachable; the next poll tries again.
      this.options.onError(error);
    } finally {
      this.claiming = false;
    }
  }

  private track(run: Promise<void>): void {
    this.running.add(run);
    void run.finally(() => {
      this.running.delete(run);
      this.wake();
    });
  }

  private async run(event: InboxEvent): Promise<void> {
    const received: ReceivedEvent = {
      key: event.key,
      profile: event.profile,
      type: event.type,
      payload: JSON.parse(event.body),
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
