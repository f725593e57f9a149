// The three algorithms over one key's state, for the memory store. redis-scripts.ts holds the same
// steps in Lua; both use only integer milliseconds and integer products (no fractional tokens), so the
// two stores give the same Decision for the same state and clock, bit for bit (the conformance suite
// compares them over random sequences). Integers stay exact while limit × windowMs × 10 < 2^53
// (e.g. a limit of 10 million per day).
import type { Decision, LimitSpec } from "./store.ts";

/** One key's counters. Fixed and sliding window: `since` is the current window's start, `used` the
 * requests counted in it, `previous` those of the window before (sliding only). Token bucket (GCRA):
 * `used` is the debt in units of 1/limit ms (each request adds windowMs units, the clock repays
 * `limit` units a millisecond), reckoned at `since`. */
export class LimitState {
  since = 0;
  used = 0;
  previous = 0;
  /** From this time on the state is equal to a fresh one, so the key may be dropped. */
  expiresAt = 0;
  /** Last consume, for the idle timeout. */
  lastSeen = 0;
}

/** The quota a client sees (Decision.limit): the bucket's capacity for token_bucket, else the limit. */
export function quotaOf(spec: LimitSpec): number {
  return spec.algorithm === "token_bucket" && spec.burst > 0 ? spec.burst : spec.limit;
}

/** Counter per window aligned to multiples of windowMs since the epoch; allowed while count < limit. */
export function fixedWindow(s: LimitState, spec: LimitSpec, now: number): Decision {
  const windowMs = spec.windowMs;
  const start = now - (now % windowMs);
  if (s.since !== start) {
    s.since = start;
    s.used = 0;
  }
  const resetMs = start + windowMs - now;
  if (s.used < spec.limit) {
    s.used++;
    s.expiresAt = start + windowMs;
    return { allowed: true, limit: spec.limit, remaining: spec.limit - s.used, resetMs, retryAfterMs: 0, degraded: false };
  }
  return { allowed: false, limit: spec.limit, remaining: 0, resetMs, retryAfterMs: resetMs, degraded: false };
}

/**
 * The two-window weighted counter (Cloudflare's): estimate = previous × (windowMs − elapsed) / windowMs
 * + current, where elapsed is the time since the current aligned window began. A request is allowed
 * when estimate + 1 ≤ limit, computed without division as
 * previous × (windowMs − elapsed) + (current + 1) × windowMs ≤ limit × windowMs. Denied requests do not count.
 */
export function slidingWindow(s: LimitState, spec: LimitSpec, now: number): Decision {
  const windowMs = spec.windowMs;
  const limit = spec.limit;
  const start = now - (now % windowMs);
  if (s.since !== start) {
    s.previous = s.since === start - windowMs ? s.used : 0;
    s.used = 0;
    s.since = start;
  }
  const weighted = s.previous * (windowMs - (now - start));
  const budget = limit * windowMs;
  if (weighted + (s.used + 1) * windowMs <= budget) {
    s.used++;
    // The current window's requests weigh on the estimate until the end of the next window.
    s.expiresAt = start + 2 * windowMs;
    const remaining = Math.floor((budget - weighted - s.used * windowMs) / windowMs);
    return { allowed: true, limit, remaining, resetMs: start + 2 * windowMs - now, retryAfterMs: 0, degraded: false };
  }
  const resetMs = s.used > 0 ? start + 2 * windowMs - now : start + windowMs - now;
  return { allowed: false, limit, remaining: 0, resetMs, retryAfterMs: slidingRetryAfter(s, limit, windowMs, start, now), degraded: false };
}

/** The first time a denied request would fit: when the previous window's weight has decayed enough,
 * or (the current window full) into the next window, where this window becomes the previous one. */
function slidingRetryAfter(s: LimitState, limit: number, windowMs: number, start: number, now: number): number {
  const free = limit - s.used - 1;
  if (free >= 0) return start + Math.ceil(((s.previous - free) * windowMs) / s.previous) - now;
  return start + windowMs + Math.ceil(((s.used - limit + 1) * windowMs) / s.used) - now;
}

/**
 * GCRA: capacity = burst || limit, one request per emission interval windowMs / limit. Time and debt
 * are scaled by limit so the interval is the integer windowMs: a request is allowed when the debt
 * after it is at most capacity × windowMs. Denied requests consume nothing.
 */
export function tokenBucket(s: LimitState, spec: LimitSpec, now: number): Decision {
  const windowMs = spec.windowMs;
  const rate = spec.limit;
  const capacity = spec.burst > 0 ? spec.burst : spec.limit;
  const tolerance = capacity * windowMs;
  const debt = Math.max(0, s.used - Math.max(0, now - s.since) * rate);
  const next = debt + windowMs;
  if (next <= tolerance) {
    s.used = next;
    s.since = now;
    const resetMs = Math.ceil(next / rate);
    s.expiresAt = now + resetMs;
    return { allowed: true, limit: capacity, remaining: Math.floor((tolerance - next) / windowMs), resetMs, retryAfterMs: 0, degraded: false };
  }
  return { allowed: false, limit: capacity, remaining: 0, resetMs: Math.ceil(debt / rate), retryAfterMs: Math.ceil((next - tolerance) / rate), degraded: false };
}

export const ALGORITHMS = { fixed_window: fixedWindow, sliding_window: slidingWindow, token_bucket: tokenBucket } as const;
