export interface LoginThrottleOptions {
  maxFailures: number;
  windowMs: number;
  blockMs: number;
  maxKeys: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = {
  maxFailures: 5,
  windowMs: 15 * 60_000,
  blockMs: 5 * 60_000,
  maxKeys: 50_000,
};

interface Entry {
  failures: number[];
  blockedUntil: number;
}

/**
 * Counts failed logins per (peer IP, username). Memory is bounded: past maxKeys the oldest entry
 * that is not currently blocked is dropped (Map keeps insertion order; touched keys move to the end).
 */
export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly opts: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE) {}

  private static key(ip: string, username: string): string {
    return `${ip}\u0000${username.toLowerCase()}`;
  }

  /** Milliseconds until the key may try again, or 0 when it may try now. */
  blockedFor(ip: string, username: string, now: number): number {
    const e = this.entries.get(LoginThrottle.key(ip, username));
    if (!e) return 0;
    return Math.max(0, e.blockedUntil - now);
  }

  recordFailure(ip: string, username: string, now: number): void {
    const key = LoginThrottle.key(ip, username);
    const e = this.entries.get(key) ?? { failures: [], blockedUntil: 0 };
    this.entries.delete(key);
    e.failures = e.failures.filter((t) => now - t < this.opts.windowMs);
    e.failures.push(now);
    if (e.failures.length >= this.opts.maxFailures) {
      e.blockedUntil = now + this.opts.blockMs;
      e.failures = [];
    }
    this.entries.set(key, e);
    this.evict(now);
  }

  recordSuccess(ip: string, username: string): void {
    this.entries.delete(LoginThrottle.key(ip, username));
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(now: number): void {
    if (this.entries.size <= this.opts.maxKeys) return;
    for (const [k, e] of this.entries) {
      if (e.blockedUntil <= now) {
        this.entries.delete(k);
        if (this.entries.size <= this.opts.maxKeys) return;
      }
    }
    // Everything is blocked: drop the oldest anyway rather than grow without bound.
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}
