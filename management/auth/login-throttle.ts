import { addressBucket } from "../../lib/ip.ts";

export interface LoginThrottleOptions {
  maxFailures: number;
  windowMs: number;
  blockMs: number;
  maxKeys: number;
  /** Failures of one username, from any address, before each further attempt on it is slowed. */
  userFailuresBeforeDelay: number;
  /** The slowdown per failure past that, and its cap. */
  userDelayStepMs: number;
  userDelayMaxMs: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = {
  maxFailures: 5,
  windowMs: 15 * 60_000,
  blockMs: 5 * 60_000,
  maxKeys: 50_000,
  userFailuresBeforeDelay: 20,
  userDelayStepMs: 250,
  userDelayMaxMs: 5_000,
};

interface Entry {
  failures: number[];
  blockedUntil: number;
  /** Attempts let through and not yet settled (the password check is slow and asynchronous). */
  pending: number;
}

/** How long a client waits when its attempts in flight already fill its allowance. */
const IN_FLIGHT_RETRY_MS = 1_000;

/**
 * Counts failed logins per (client address, username), where an IPv6 client is its /64. An attempt
 * is reserved before the password is checked (`begin`), so parallel guesses cannot all pass the
 * check before the first failure is counted. Per username, from any address, failures past a
 * threshold slow each further attempt (`userDelay`) instead of locking the account: a distributed
 * guesser is slowed, the real owner is never locked out. Memory is bounded: past maxKeys the oldest
 * entry that is not currently blocked is dropped (Map keeps insertion order; touched keys move to the end).
 */
export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly users = new Map<string, number[]>();
  constructor(private readonly opts: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE) {}

  private static key(ip: string, username: string): string {
    return `${addressBucket(ip)}\u0000${username.toLowerCase()}`;
  }

  /** Milliseconds until the key may try again, or 0 when it may try now. */
  blockedFor(ip: string, username: string, now: number): number {
    const e = this.entries.get(LoginThrottle.key(ip, username));
    if (!e) return 0;
    return Math.max(0, e.blockedUntil - now);
  }

  /**
   * Reserves one attempt: 0 when it may go on (settle it with recordFailure or recordSuccess), else
   * the milliseconds to wait (blocked, or as many attempts in flight as failures it has left).
   */
  begin(ip: string, username: string, now: number): number {
    const key = LoginThrottle.key(ip, username);
    const e = this.entries.get(key) ?? { failures: [], blockedUntil: 0, pending: 0 };
    if (e.blockedUntil > now) return e.blockedUntil - now;
    e.failures = e.failures.filter((t) => now - t < this.opts.windowMs);
    if (e.failures.length + e.pending >= this.opts.maxFailures) return IN_FLIGHT_RETRY_MS;
    e.pending++;
    this.entries.delete(key);
    this.entries.set(key, e);
    this.evict(now);
    return 0;
  }

  /** How long to hold an attempt on `username` before checking it: 0 until it has many recent failures. */
  userDelay(username: string, now: number): number {
    const list = this.users.get(username.toLowerCase());
    if (!list) return 0;
    const recent = list.filter((t) => now - t < this.opts.windowMs).length;
    const over = recent - this.opts.userFailuresBeforeDelay;
    return over <= 0 ? 0 : Math.min(this.opts.userDelayMaxMs, over * this.opts.userDelayStepMs);
  }

  recordFailure(ip: string, username: string, now: number): void {
    const user = username.toLowerCase();
    const list = (this.users.get(user) ?? []).filter((t) => now - t < this.opts.windowMs);
    list.push(now);
    this.users.delete(user);
    this.users.set(user, list);
    if (this.users.size > this.opts.maxKeys) this.users.delete(this.users.keys().next().value!);
    const key = LoginThrottle.key(ip, username);
    const e = this.entries.get(key) ?? { failures: [], blockedUntil: 0, pending: 0 };
    this.entries.delete(key);
    if (e.pending > 0) e.pending--;
    e.failures = e.failures.filter((t) => now - t < this.opts.windowMs);
    e.failures.push(now);
    if (e.failures.length >= this.opts.maxFailures) {
      e.blockedUntil = now + this.opts.blockMs;
      e.failures = [];
    }
    this.entries.set(key, e);
    this.evict(now);
  }

  /** Gives a reserved attempt back without counting it (the check itself failed). */
  cancel(ip: string, username: string): void {
    const e = this.entries.get(LoginThrottle.key(ip, username));
    if (e && e.pending > 0) e.pending--;
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
      if (e.blockedUntil <= now && e.pending === 0) {
        this.entries.delete(k);
        if (this.entries.size <= this.opts.maxKeys) return;
      }
    }
    // Everything is blocked: drop the oldest anyway rather than grow without bound.
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}
