// Where per_key shaper buckets live between requests: per rule (id + fingerprint, so an edit starts
// afresh), per key, bounded and expiring without timers.
import { bucketFor } from "./byte-bucket.ts";
import type { ByteBucket, CompiledShaperRule } from "./types.ts";

export const MAX_KEYS_PER_RULE = 10_000;
export const IDLE_MS = 15 * 60_000;

/** Entries looked at from the least recently used end per request. */
const SWEEP_STEPS = 8;

/** The buckets one request draws from. */
export interface BucketPair {
  readonly upload: ByteBucket | undefined;
  readonly download: ByteBucket | undefined;
}

interface Entry extends BucketPair {
  lastUsed: number;
  /** Requests drawing from it now: never expired while in use (only evicted at the cap). */
  users: number;
}

/** Buckets held by one request; `release` when its response (or spliced connection) is over. */
export interface BucketLease extends BucketPair {
  release(): void;
}

const NO_RELEASE = (): void => {};

export class ShaperBuckets {
  /** rule id + fingerprint → key → entry; each inner Map is kept in least-recently-used order. */
  private readonly rules = new Map<string, Map<string, Entry>>();
  private live: readonly CompiledShaperRule[] | undefined;

  constructor(
    private readonly maxKeys = MAX_KEYS_PER_RULE,
    private readonly idleMs = IDLE_MS,
  ) {}

  /** Fresh buckets for per_request rules; shared ones for per_key rules. */
  acquire(rule: CompiledShaperRule, key: () => string, now: number): BucketLease {
    const s = rule.spec;
    if (s.budget === "per_request") return { ...fresh(rule, now), release: NO_RELEASE };
    const id = `${rule.id}\0${rule.fingerprint}`;
    let keys = this.rules.get(id);
    if (keys === undefined) this.rules.set(id, (keys = new Map()));
    this.sweep(keys, now);
    const k = key();
    let e = keys.get(k);
    if (e === undefined) {
      if (keys.size >= this.maxKeys) keys.delete(keys.keys().next().value!);
      e = { ...fresh(rule, now), lastUsed: now, users: 0 };
    } else {
      // Re-inserted to move it to the back: the front stays the least recently used.
      keys.delete(k);
      e.lastUsed = now;
    }
    keys.set(k, e);
    const entry = e;
    entry.users++;
    let released = false;
    return {
      upload: entry.upload,
      download: entry.download,
      release: () => {
        if (released) return;
        released = true;
        entry.users--;
        entry.lastUsed = performance.now();
      },
    };
  }

  /** Drops the buckets of rules no longer in the snapshot (deleted, or edited: a new fingerprint). */
  retain(rules: readonly CompiledShaperRule[]): void {
    if (rules === this.live) return;
    this.live = rules;
    const ids = new Set(rules.map((r) => `${r.id}\0${r.fingerprint}`));
    for (const id of this.rules.keys()) if (!ids.has(id)) this.rules.delete(id);
  }

  /** Keys held for a rule (tests and metrics). */
  size(rule: CompiledShaperRule): number {
    return this.rules.get(`${rule.id}\0${rule.fingerprint}`)?.size ?? 0;
  }

  /**
   * Expires unused entries from the least recently used end: idle too long, or full (a fresh bucket
   * would behave the same). Looks at a few entries and stops at the first unused one it keeps, so a
   * request costs O(1).
   */
  private sweep(keys: Map<string, Entry>, now: number): void {
    let steps = 0;
    for (const [k, e] of keys) {
      if (++steps > SWEEP_STEPS) return;
      if (e.users > 0) continue;
      const idle = now - e.lastUsed >= this.idleMs;
      if (!idle && !((e.upload?.full(now) ?? true) && (e.download?.full(now) ?? true))) return;
      keys.delete(k);
    }
  }
}

function fresh(rule: CompiledShaperRule, now: number): BucketPair {
  const s = rule.spec;
  return { upload: bucketFor(s.uploadBytesPerSecond, s.burstBytes, now), download: bucketFor(s.downloadBytesPerSecond, s.burstBytes, now) };
}
