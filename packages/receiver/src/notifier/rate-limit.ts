/**
 * At most `limit` notifications per user in any `windowMs`: a busy channel does not flood anyone.
 * Kept in memory; a restart starts every user's window afresh.
 */
export class PerUserRateLimit {
  private readonly sent = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Takes one slot for the user, or returns false when the window is full. */
  take(userId: string, now = Date.now()): boolean {
    const recent = (this.sent.get(userId) ?? []).filter((at) => at > now - this.windowMs);
    if (recent.length >= this.limit) {
      this.sent.set(userId, recent);
      return false;
    }
    recent.push(now);
    this.sent.set(userId, recent);
    return true;
  }
}
