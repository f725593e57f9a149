// Rate-limit state in this process: synchronous (no Promise on the hot path), bounded per namespace.
//
// Why not rate-limiter-flexible's RateLimiterMemory for fixed_window (bench/policy/rate-limit.ts,
// Node 20.20, 2 cores, 100k distinct keys): RLF consume() always returns a Promise and rejects to
// deny, starts one setTimeout per key, never caps keys, counts in whole seconds and starts each
// key's window at its first hit; measured ~0.9 M consumes/s and ~27 MB heap for 100k keys, against
// ~5 M/s and ~13 MB here (the numbers are in the report of the commit that added this file). Its
// windows would also disagree with the Redis store's epoch-aligned ones.
import { ALGORITHMS, LimitState } from "./algorithms.ts";
import type { Decision, LimitSpec, RateLimitStore, StoreStatus } from "./store.ts";

export interface MemoryStoreOptions {
  /** Keys kept per namespace (rule); beyond it the least recently used key is dropped. */
  readonly maxKeysPerNamespace?: number;
  /** A key not consumed for this long is dropped even if its state has not expired. */
  readonly idleMs?: number;
  /** How often expired and idle keys are pruned; 0 = never by timer (tests call prune()). */
  readonly pruneIntervalMs?: number;
}

const STATUS: StoreStatus = { kind: "memory", healthy: true, lastError: "", fallbackDecisions: 0, target: "" };

export class MemoryStore implements RateLimitStore {
  /** namespace → key → state; each inner Map is in least-recently-used-first order. */
  private readonly namespaces = new Map<string, Map<string, LimitState>>();
  private readonly maxKeys: number;
  private readonly idleMs: number;
  private readonly pruneTimer: NodeJS.Timeout | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxKeys = options.maxKeysPerNamespace ?? 10_000;
    this.idleMs = options.idleMs ?? 15 * 60_000;
    const every = options.pruneIntervalMs ?? 60_000;
    this.pruneTimer = every > 0 ? setInterval(() => this.prune(Date.now()), every).unref() : undefined;
  }

  consume(namespace: string, key: string, spec: LimitSpec, now = Date.now()): Decision {
    let keys = this.namespaces.get(namespace);
    if (keys === undefined) {
      keys = new Map();
      this.namespaces.set(namespace, keys);
    }
    let state = keys.get(key);
    if (state === undefined) {
      if (keys.size >= this.maxKeys) keys.delete(keys.keys().next().value!);
      state = new LimitState();
    } else {
      // Re-inserting moves the key to the most recently used end.
      keys.delete(key);
    }
    keys.set(key, state);
    state.lastSeen = now;
    return ALGORITHMS[spec.algorithm](state, spec, now);
  }

  /** Drops keys whose state has expired (equal to a fresh one) or that have been idle for idleMs. */
  prune(now: number): void {
    for (const [namespace, keys] of this.namespaces) {
      for (const [key, state] of keys) if (state.expiresAt <= now || now - state.lastSeen >= this.idleMs) keys.delete(key);
      if (keys.size === 0) this.namespaces.delete(namespace);
    }
  }

  retain(live: ReadonlySet<string>): void {
    for (const namespace of this.namespaces.keys()) if (!live.has(namespace)) this.namespaces.delete(namespace);
  }

  /** Keys held in `namespace` (for tests and metrics). */
  keyCount(namespace: string): number {
    return this.namespaces.get(namespace)?.size ?? 0;
  }

  status(): StoreStatus {
    return STATUS;
  }

  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
    this.namespaces.clear();
  }
}
