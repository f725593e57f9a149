// Rate-limit state in this process: synchronous (no Promise on the hot path), bounded per namespace.
//
// Why not rate-limiter-flexible's RateLimiterMemory for fixed_window (bench/policy/rate-limit.ts,
// Node 20.20 on 2 shared, loaded cores, four runs): over 100k distinct keys RLF did 0.7–1.0 M
// consumes/s and held 43 MB of heap and 100k timers (one setTimeout per key, no key cap); this store
// did 1.4–3.5 M/s (about the same evicting at the 10k cap) in 17 MB with no timer; on one hot key
// 3.5–5 M/s against 7–10 M/s. RLF also always answers with a Promise (and rejects to deny), counts
// whole seconds and starts each key's window at its first hit, which the Redis store's epoch-aligned
// millisecond windows would disagree with.
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

/** A key's state in its namespace's recency list. */
class Entry extends LimitState {
  newer: Entry | undefined = undefined;
  older: Entry | undefined = undefined;
  constructor(readonly key: string) {
    super();
  }
}

/** One namespace's keys, most recently used first. A linked list rather than Map re-insertion: V8
 * leaves a deleted Map slot behind until it rehashes, so evicting from the front of a churning Map
 * (keys().next()) walks ever more holes (measured 0.24 M/s at 100k keys over a 10k cap). */
class Namespace {
  readonly entries = new Map<string, Entry>();
  private newest: Entry | undefined;
  private oldest: Entry | undefined;

  touch(entry: Entry): void {
    if (entry === this.newest) return;
    this.unlink(entry);
    this.pushNewest(entry);
  }

  add(key: string, maxKeys: number): Entry {
    if (this.entries.size >= maxKeys && this.oldest !== undefined) this.remove(this.oldest);
    const entry = new Entry(key);
    this.entries.set(key, entry);
    this.pushNewest(entry);
    return entry;
  }

  remove(entry: Entry): void {
    this.entries.delete(entry.key);
    this.unlink(entry);
  }

  private pushNewest(entry: Entry): void {
    entry.older = this.newest;
    entry.newer = undefined;
    if (this.newest !== undefined) this.newest.newer = entry;
    this.newest = entry;
    if (this.oldest === undefined) this.oldest = entry;
  }

  private unlink(entry: Entry): void {
    if (entry.newer !== undefined) entry.newer.older = entry.older;
    else if (this.newest === entry) this.newest = entry.older;
    if (entry.older !== undefined) entry.older.newer = entry.newer;
    else if (this.oldest === entry) this.oldest = entry.newer;
    entry.newer = entry.older = undefined;
  }
}

export class MemoryStore implements RateLimitStore {
  private readonly namespaces = new Map<string, Namespace>();
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
      keys = new Namespace();
      this.namespaces.set(namespace, keys);
    }
    let entry = keys.entries.get(key);
    if (entry === undefined) entry = keys.add(key, this.maxKeys);
    else keys.touch(entry);
    entry.lastSeen = now;
    return ALGORITHMS[spec.algorithm](entry, spec, now);
  }

  /** Drops keys whose state has expired (equal to a fresh one) or that have been idle for idleMs. */
  prune(now: number): void {
    for (const [name, keys] of this.namespaces) {
      for (const entry of keys.entries.values()) if (entry.expiresAt <= now || now - entry.lastSeen >= this.idleMs) keys.remove(entry);
      if (keys.entries.size === 0) this.namespaces.delete(name);
    }
  }

  retain(live: ReadonlySet<string>): void {
    for (const name of this.namespaces.keys()) if (!live.has(name)) this.namespaces.delete(name);
  }

  /** Keys held in `namespace` (for tests and metrics). */
  keyCount(namespace: string): number {
    return this.namespaces.get(namespace)?.entries.size ?? 0;
  }

  status(): StoreStatus {
    return STATUS;
  }

  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
    this.namespaces.clear();
  }
}
