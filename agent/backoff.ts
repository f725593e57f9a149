// Reconnect and retry delays (DESIGN.md §4): exponential from `initialMs`, capped at `maxMs`, ±20 % jitter.

export interface BackoffOptions {
  /** First delay. Default 1000. */
  initialMs?: number;
  /** Cap, applied after jitter: no delay is longer. Default 30000. */
  maxMs?: number;
  /** Relative jitter: each delay is base × (1 ± jitter). Default 0.2. */
  jitter?: number;
  /** Source of randomness in [0, 1). Default Math.random. */
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (0 for the first retry): base = initialMs × 2^attempt, capped at
 * maxMs, then multiplied by a factor uniform in [1 − jitter, 1 + jitter) and capped at maxMs again.
 * With the defaults: ~1 s, ~2 s, ~4 s, ~8 s, ~16 s, then 24–30 s.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const initialMs = opts.initialMs ?? 1000;
  const maxMs = opts.maxMs ?? 30_000;
  const jitter = opts.jitter ?? 0.2;
  const random = opts.random ?? Math.random;
  const n = Math.max(0, Math.floor(attempt));
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(n, 52));
  const factor = 1 + jitter * (2 * random() - 1);
  return Math.round(Math.min(maxMs, base * factor));
}

/**
 * Attempt counter for a reconnect loop: `next()` gives the delay and counts up; a connection that stayed
 * healthy for `resetAfterMs` (DESIGN: 20 s) starts the schedule over.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions & { resetAfterMs?: number } = {},
  ) {}

  get attempts(): number {
    return this.attempt;
  }

  next(): number {
    return backoffDelay(this.attempt++, this.opts);
  }

  reset(): void {
    this.attempt = 0;
  }

  /** Call when a connection ends; resets the schedule if it had been up long enough. */
  connectionEnded(upForMs: number): void {
    if (upForMs >= (this.opts.resetAfterMs ?? 20_000)) this.attempt = 0;
  }
}
