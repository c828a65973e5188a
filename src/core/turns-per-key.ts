/** Runs tasks one at a time per key, in arrival order; tasks of different keys run side by side. */
export class TurnsPerKey {
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.#tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.#tails.set(key, tail);
    // The last in line clears the key, so the map holds only keys with work now.
    void tail.then(() => this.#tails.get(key) === tail && this.#tails.delete(key));
    return result;
  }
}
