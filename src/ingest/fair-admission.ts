/**
 * Admits work a few at a time, taking turns between apps: when a slot frees, the next app in turn
 * that is waiting gets it, so an app with one request waits behind at most the requests already
 * running, never behind another app's queue. Publishing is CPU work on one event loop (parse,
 * validate, render, commit): running everything at once would only make every request slower.
 */
export class FairAdmission {
  #running = 0;
  /** Waiting requests per app; an app is in the map only while it has some. */
  readonly #waiting = new Map<string, (() => void)[]>();

  constructor(private readonly slots: number) {}

  /** Resolves with a release function once this app's request may run. */
  async admit(appId: string): Promise<() => void> {
    if (this.#running < this.slots && this.#waiting.size === 0) {
      this.#running++;
      return this.#release();
    }
    await new Promise<void>((resolve) => {
      const queue = this.#waiting.get(appId);
      if (queue) queue.push(resolve);
      else this.#waiting.set(appId, [resolve]);
    });
    return this.#release();
  }

  /** Requests waiting for a slot, over all apps. */
  get waiting(): number {
    let count = 0;
    for (const queue of this.#waiting.values()) count += queue.length;
    return count;
  }

  #release(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running--;
      this.#next();
    };
  }

  /** Hands the free slot to the app first in turn, then sends it to the back of the line. */
  #next(): void {
    const turn = this.#waiting.entries().next();
    if (turn.done) return;
    const [appId, queue] = turn.value;
    const resolve = queue.shift()!;
    this.#waiting.delete(appId);
    // Re-inserting moves the app behind every other waiting app: a Map iterates in insertion order.
    if (queue.length > 0) this.#waiting.set(appId, queue);
    this.#running++;
    resolve();
  }
}
