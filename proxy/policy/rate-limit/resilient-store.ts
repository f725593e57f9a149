// The store the data plane uses with RATE_LIMIT_STORE=redis://…: Redis while it answers, this
// process's memory (or a refusal, for failClosed rules) while it does not. The Redis client
// reconnects by itself; no restart is needed to go back to shared counting.
import type { Logger } from "pino";
import { quotaOf } from "./algorithms.ts";
import { MemoryStore } from "./memory-store.ts";
import { RedisStore, type RedisStoreOptions } from "./redis-store.ts";
import type { Decision, LimitSpec, RateLimitStore, StoreStatus } from "./store.ts";

/** After a failure, requests skip Redis this long (one probe goes through), so a hung Redis costs
 * one command timeout per probe instead of one per request. A reconnect ends the pause at once. */
const PROBE_INTERVAL_MS = 1000;
const WARN_INTERVAL_MS = 60_000;
/** What a failClosed rule answers while Redis is away: retry in a second. */
const REFUSAL_RETRY_MS = 1000;

export interface ResilientStoreOptions extends RedisStoreOptions {
  readonly fallback?: MemoryStore;
}

export class ResilientStore implements RateLimitStore {
  readonly redis: RedisStore;
  private readonly fallback: MemoryStore;
  private fallbackDecisions = 0;
  /** Date.now() before which Redis is not asked (0 = ask). */
  private pausedUntil = 0;
  private probing = false;
  private unavailable = false;
  private lastError = "";
  private lastWarnAt = -Infinity;

  constructor(
    url: string,
    private readonly log: Logger,
    options: ResilientStoreOptions = {},
  ) {
    this.fallback = options.fallback ?? new MemoryStore();
    this.redis = new RedisStore(url, options, { onError: (err) => this.markUnavailable(err), onReady: () => this.markAvailable() });
    this.redis.connect();
  }

  consume(namespace: string, key: string, spec: LimitSpec, now?: number): Decision | Promise<Decision> {
    if (!this.redis.isReady) return this.decideWithout(namespace, key, spec, now, undefined);
    if (this.pausedUntil !== 0) {
      if (this.probing || Date.now() < this.pausedUntil) return this.decideWithout(namespace, key, spec, now, undefined);
      this.probing = true;
    }
    return this.redis.consume(namespace, key, spec, now).then(
      (decision) => {
        this.markAvailable();
        return decision;
      },
      (err: unknown) => {
        this.probing = false;
        this.pausedUntil = Date.now() + PROBE_INTERVAL_MS;
        return this.decideWithout(namespace, key, spec, now, err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  private decideWithout(namespace: string, key: string, spec: LimitSpec, now: number | undefined, err: Error | undefined): Decision {
    this.fallbackDecisions++;
    this.markUnavailable(err);
    if (spec.failClosed) {
      return { allowed: false, limit: quotaOf(spec), remaining: 0, resetMs: REFUSAL_RETRY_MS, retryAfterMs: REFUSAL_RETRY_MS, degraded: true };
    }
    return { ...this.fallback.consume(namespace, key, spec, now), degraded: true };
  }

  /** `err` undefined: a decision made while the client is not connected (its last error stands). */
  private markUnavailable(err: Error | undefined): void {
    this.unavailable = true;
    if (err !== undefined) this.lastError = err.message || err.name;
    else if (this.lastError === "") this.lastError = this.redis.status().lastError || "not connected";
    const t = Date.now();
    if (t - this.lastWarnAt < WARN_INTERVAL_MS) return;
    this.lastWarnAt = t;
    this.log.warn({ err: err ?? this.lastError, target: this.redis.target }, "rate-limit store unavailable, using memory fallback");
  }

  private markAvailable(): void {
    this.probing = false;
    this.pausedUntil = 0;
    if (!this.unavailable) return;
    this.unavailable = false;
    this.lastError = "";
    this.lastWarnAt = -Infinity;
    this.log.info({ target: this.redis.target, fallbackDecisions: this.fallbackDecisions }, "rate-limit store recovered");
  }

  /** Resolves when Redis is connected (tests, and callers that want to wait at start-up). */
  whenReady(): Promise<void> {
    return this.redis.whenReady();
  }

  retain(live: ReadonlySet<string>): void {
    this.fallback.retain(live);
  }

  status(): StoreStatus {
    const healthy = this.redis.isReady && !this.unavailable;
    return { kind: "redis", healthy, lastError: this.lastError, fallbackDecisions: this.fallbackDecisions, target: this.redis.target };
  }

  async close(): Promise<void> {
    await Promise.all([this.redis.close(), this.fallback.close()]);
  }
}
