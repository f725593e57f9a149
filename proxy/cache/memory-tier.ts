// The memory tier (DESIGN.md §5 stage 9): whole entries in an lru-cache within a byte budget
// (body bytes plus a rough meta size) and an entry count. Bodies over hotObjectBytes are refused
// here; the tiered store routes those to disk.
import { Readable } from "node:stream";
import { LRUCache } from "lru-cache";
import { purgeMatcher } from "./purge-match.ts";
import type { CacheSettings, CacheStore, CacheUsage, EntryMeta, EntryWriter, PurgeFilter, StoredEntry } from "./types.ts";

export const DEFAULT_CACHE_SETTINGS: CacheSettings = Object.freeze({
  enabled: true,
  memoryBytes: 128 * 1024 * 1024,
  diskBytes: 1024 * 1024 * 1024,
  maxEntries: 100_000,
  hotObjectBytes: 256 * 1024,
});

/** Bodies are handed out in slices of at most this size (pacing and backpressure stay fine-grained). */
const SLICE = 64 * 1024;

interface Entry {
  meta: EntryMeta;
  readonly chunks: readonly Buffer[];
}

function metaBytes(m: EntryMeta): number {
  let n = 512 + m.url.length + m.host.length + m.path.length;
  for (const h of m.headers) n += h.length;
  return n;
}

export class MemoryTier implements CacheStore {
  private readonly lru: LRUCache<string, Entry>;
  /** primary → variant keys stored under it, and the vary names last stored for it. */
  private readonly primaries = new Map<string, { keys: Set<string>; vary: readonly string[] }>();
  private hits = 0;
  private misses = 0;
  private closed = false;
  /** Body bytes held (what usage and purge report); the budget also counts each entry's meta. */
  private bodyBytes = 0;

  constructor(
    readonly settings: CacheSettings = DEFAULT_CACHE_SETTINGS,
    private readonly now: () => number = Date.now,
  ) {
    this.lru = new LRUCache<string, Entry>({
      max: settings.maxEntries,
      maxSize: settings.memoryBytes,
      sizeCalculation: (e) => Math.max(1, e.meta.size + metaBytes(e.meta)),
      dispose: (e, key) => {
        this.bodyBytes -= e.meta.size;
        this.unindex(e.meta.primary, key);
      },
    });
  }

  private unindex(primary: string, key: string): void {
    const p = this.primaries.get(primary);
    if (p === undefined) return;
    p.keys.delete(key);
    if (p.keys.size === 0) this.primaries.delete(primary);
  }

  get(key: string): StoredEntry | undefined {
    const e = this.lru.get(key);
    if (e === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    const { meta, chunks } = e;
    return {
      meta,
      chunks,
      open: () => Readable.from(chunks, { objectMode: false }),
    };
  }

  varyOf(primary: string): readonly string[] | undefined {
    return this.primaries.get(primary)?.vary;
  }

  begin(meta: Omit<EntryMeta, "size">): EntryWriter | undefined {
    if (this.closed || !this.settings.enabled) return undefined;
    const limit = Math.min(this.settings.hotObjectBytes, this.settings.memoryBytes);
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    return {
      write: (chunk) => {
        if (done) return;
        size += chunk.length;
        if (size > limit) {
          done = true;
          chunks.length = 0;
          return;
        }
        // Copies, in slices: the chunk may be a view into a pooled buffer that undici reuses.
        for (let off = 0; off < chunk.length; off += SLICE) chunks.push(Buffer.from(chunk.subarray(off, off + SLICE)));
      },
      commit: () => {
        if (done || this.closed) return;
        done = true;
        const full: EntryMeta = { ...meta, size, storedAt: meta.storedAt || this.now() };
        this.lru.set(full.key, { meta: full, chunks });
        if (this.lru.has(full.key)) this.bodyBytes += full.size;
        if (!this.lru.has(full.key)) return;
        const p = this.primaries.get(full.primary);
        if (p === undefined) this.primaries.set(full.primary, { keys: new Set([full.key]), vary: full.vary });
        else {
          p.keys.add(full.key);
          p.vary = full.vary;
        }
      },
      abort: () => {
        done = true;
        chunks.length = 0;
      },
    };
  }

  refresh(key: string, headers: readonly string[], policy: Readonly<Record<string, unknown>>): void {
    const e = this.lru.peek(key);
    if (e === undefined) return;
    e.meta = { ...e.meta, headers, policy };
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  purge(filter: PurgeFilter): { entries: number; bytes: number } {
    let entries = 0;
    let bytes = 0;
    const doomed: string[] = [];
    const matches = purgeMatcher(filter);
    for (const [key, e] of this.lru.entries()) {
      if (!matches(e.meta)) continue;
      doomed.push(key);
      entries++;
      bytes += e.meta.size;
    }
    for (const k of doomed) this.lru.delete(k);
    return { entries, bytes };
  }

  usage(): CacheUsage {
    return {
      memory: { entries: this.lru.size, bytes: this.bodyBytes, budgetBytes: this.settings.memoryBytes },
      disk: { entries: 0, bytes: 0, budgetBytes: 0 },
      hits: this.hits,
      misses: this.misses,
    };
  }

  close(): Promise<void> {
    this.closed = true;
    this.lru.clear();
    this.bodyBytes = 0;
    return Promise.resolve();
  }
}
