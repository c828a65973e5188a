/**
 * Big delivery bodies read lately, by the key they are stored under (`COALESCE(body_of, id)`). One
 * event fanned out to many endpoints is claimed once per endpoint; each claim would read the same
 * stored megabyte again (measured on SQLite: about 4 ms a read for 1 MB). Bodies never change once
 * stored, so a body found here is the stored one. Small bodies are not kept: reading them costs
 * less than keeping them.
 */
export class RecentBodies {
  readonly #bodies = new Map<string, string>();
  #bytes = 0;

  constructor(
    /** Bodies shorter than this (UTF-16 code units) are not kept. */
    private readonly minLength = 16 * 1024,
    /** The most kept at once, in the same units; the oldest go first. */
    private readonly maxLength = 16 * 1024 * 1024,
  ) {}

  /** The body kept under `key`, if it is. */
  find(key: string): string | undefined {
    return this.#bodies.get(key);
  }

  /** Keeps a body just read, if it is big enough to be worth it. */
  keep(key: string, body: string): void {
    if (body.length < this.minLength || body.length > this.maxLength) return;
    this.#bodies.set(key, body);
    this.#bytes += body.length;
    for (const [oldest, old] of this.#bodies) {
      if (this.#bytes <= this.maxLength) break;
      this.#bodies.delete(oldest);
      this.#bytes -= old.length;
    }
  }
}
