// The byte token bucket behind every shaper direction (DESIGN.md §5 stage 6).
import type { ByteBucket } from "./types.ts";

/**
 * Refills at `rate` bytes per second up to `capacity` and starts full. A take may drive it into
 * debt: the caller waits until the debt is paid, so a chunk larger than the capacity passes whole
 * (nothing is split or buffered) and the long-run rate is exact. Concurrent takers on a shared
 * bucket queue behind each other's debt, so they split the rate between them.
 */
export class TokenBucket implements ByteBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly capacity: number,
    now: number,
  ) {
    if (!(rate > 0)) throw new RangeError("a token bucket needs a positive rate");
    this.tokens = capacity;
    this.last = now;
  }

  private refill(now: number): void {
    if (now <= this.last) return;
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
  }

  take(n: number, now: number): number {
    this.refill(now);
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.capacity;
  }
}

/** The bucket for one direction of a rule: capacity is the burst, or one second of the rate. */
export function bucketFor(bytesPerSecond: number, burstBytes: number, now: number): TokenBucket | undefined {
  return bytesPerSecond > 0 ? new TokenBucket(bytesPerSecond, burstBytes > 0 ? burstBytes : bytesPerSecond, now) : undefined;
}
