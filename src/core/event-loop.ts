/** Resolves on the event loop's next turn, after the I/O that is ready now has been served. */
export const yieldToEventLoop = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Turns of the event loop handed out one at a time: each `next()` resolves a turn after the one
 * before it did. Work that would pile into one turn (every waiter of a plain `yieldToEventLoop` in
 * the same phase runs back to back) is spread over as many turns, with I/O served between them.
 */
export class LoopTurns {
  #last: Promise<void> = Promise.resolve();

  next(): Promise<void> {
    const turn = this.#last.then(yieldToEventLoop);
    this.#last = turn;
    return turn;
  }
}
