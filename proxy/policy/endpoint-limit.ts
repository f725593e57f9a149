// Per-IP request budgets for Warren's own public endpoints (challenge verify): a fixed window per
// client address, forgotten wholesale when the window turns, so memory stays bounded by the number
// of clients seen in one window. (Rate-limit rules for routes are a policy kind of their own.)

export class EndpointLimit {
  private counts = new Map<string, number>();
  private windowStart = 0;

  constructor(
    /** Requests per client per window. */
    readonly limit: number,
    readonly windowMs: number,
    /** A hard cap on clients tracked per window: beyond it, new clients are refused until the window turns. */
    private readonly maxClients = 100_000,
  ) {}

  /** Counts one request from `ip`; false when that client is over its budget. */
  take(ip: string, now = Date.now()): boolean {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now - ((now - this.windowStart) % this.windowMs);
      this.counts = new Map();
    }
    const n = this.counts.get(ip);
    if (n === undefined && this.counts.size >= this.maxClients) return false;
    if ((n ?? 0) >= this.limit) return false;
    this.counts.set(ip, (n ?? 0) + 1);
    return true;
  }

  /** Seconds until the current window turns (for Retry-After). */
  retryAfterS(now = Date.now()): number {
    return Math.max(1, Math.ceil((this.windowStart + this.windowMs - now) / 1000));
  }
}
