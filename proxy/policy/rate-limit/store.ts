// The store contract every rate-limit algorithm runs behind (DESIGN.md §5 stage 5): one `consume`
// per rule per request, answered from memory or by one Redis round trip. Memory and Redis stores
// implement the three algorithms with the same results; one conformance suite checks both.

export type RateLimitAlgorithm = "fixed_window" | "sliding_window" | "token_bucket";

export interface LimitSpec {
  readonly algorithm: RateLimitAlgorithm;
  /** Requests per window, ≥ 1. */
  readonly limit: number;
  /** 1 s – 1 day. */
  readonly windowMs: number;
  /** token_bucket: the bucket's capacity (0 = limit); the window algorithms ignore it. */
  readonly burst: number;
  /** When the shared store cannot answer: true refuses the request, false counts in this process's memory. */
  readonly failClosed: boolean;
}

export interface Decision {
  readonly allowed: boolean;
  /** The quota a client sees (RateLimit-Policy q): limit, or the bucket's capacity. */
  readonly limit: number;
  /** Requests left now (after this one when allowed), ≥ 0. */
  readonly remaining: number;
  /** Milliseconds until the quota is whole again (window end, or the bucket full), ≥ 0. */
  readonly resetMs: number;
  /** Denied: milliseconds until a request would be allowed (> 0); allowed: 0. */
  readonly retryAfterMs: number;
  /** Decided without the shared store (Redis unreachable): by the memory fallback, or refused (failClosed). */
  readonly degraded: boolean;
}

export interface StoreStatus {
  readonly kind: "memory" | "redis";
  /** Redis: connected and answering; memory: always true. */
  readonly healthy: boolean;
  /** Redis: the last error, "" when none since it last answered. */
  readonly lastError: string;
  /** Decisions made by the memory fallback (or refused) because Redis could not answer, since start. */
  readonly fallbackDecisions: number;
  /** Redis: the URL without credentials; memory: "". */
  readonly target: string;
}

export interface RateLimitStore {
  /**
   * Consumes one request from `key`'s counter in `namespace` (a rule id plus its fingerprint, so an
   * edit starts the rule's counters afresh). Memory answers synchronously.
   */
  consume(namespace: string, key: string, spec: LimitSpec, now?: number): Decision | Promise<Decision>;
  /** Drops the state of every namespace not in `live` (rules deleted or edited). */
  retain(live: ReadonlySet<string>): void;
  status(): StoreStatus;
  close(): Promise<void>;
}
