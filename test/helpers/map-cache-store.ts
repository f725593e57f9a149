// A small memory CacheStore for tests of the tiered store, standing in for the memory tier: a Map in
// least-recently-used order within a byte budget, bodies kept as chunk lists.
import { Readable } from "node:stream";
import { purgeMatcher } from "../../proxy/cache/purge-match.ts";
import type { CacheStore, CacheUsage, EntryMeta, EntryWriter, PurgeFilter, StoredEntry } from "../../proxy/cache/types.ts";

interface Item {
  meta: EntryMeta;
  readonly chunks: readonly Buffer[];
}

export class MapCacheStore implements CacheStore {
  private readonly items = new Map<string, Item>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  /** The most bytes ever held at once. */
  peakBytes = 0;

  constructor(
    private readonly budgetBytes: number,
    private readonly maxEntries = Number.MAX_SAFE_INTEGER,
  ) {}

  get(key: string): StoredEntry | undefined {
    const it = this.items.get(key);
    if (it === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.items.delete(key);
    this.items.set(key, it);
    return { meta: it.meta, open: () => Readable.from(it.chunks) };
  }

  varyOf(primary: string): readonly string[] | undefined {
    let vary: readonly string[] | undefined;
    let at = -1;
    for (const it of this.items.values()) {
      if (it.meta.primary !== primary || it.meta.storedAt < at) continue;
      vary = it.meta.vary;
      at = it.meta.storedAt;
    }
    return vary;
  }

  begin(meta: Omit<EntryMeta, "size">): EntryWriter | undefined {
    const chunks: Buffer[] = [];
    let size = 0;
    let open = true;
    return {
      write: (c) => {
        if (!open) return;
        size += c.length;
        if (size > this.budgetBytes) open = false;
        else chunks.push(c);
      },
      commit: () => {
        if (!open) return;
        open = false;
        this.delete(meta.key);
        while (this.items.size > 0 && (this.bytes + size > this.budgetBytes || this.items.size >= this.maxEntries)) this.delete(this.items.keys().next().value!);
        this.items.set(meta.key, { meta: { ...meta, size }, chunks });
        this.bytes += size;
        this.peakBytes = Math.max(this.peakBytes, this.bytes);
      },
      abort: () => {
        open = false;
      },
    };
  }

  refresh(key: string, headers: readonly string[], policy: Readonly<Record<string, unknown>>): void {
    const it = this.items.get(key);
    if (it !== undefined) it.meta = { ...it.meta, headers, policy };
  }

  delete(key: string): void {
    const it = this.items.get(key);
    if (it === undefined) return;
    this.items.delete(key);
    this.bytes -= it.meta.size;
  }

  purge(filter: PurgeFilter): { entries: number; bytes: number } {
    const match = purgeMatcher(filter);
    let entries = 0;
    let bytes = 0;
    for (const [k, it] of [...this.items]) {
      if (!match(it.meta)) continue;
      entries++;
      bytes += it.meta.size;
      this.delete(k);
    }
    return { entries, bytes };
  }

  usage(): CacheUsage {
    return {
      memory: { entries: this.items.size, bytes: this.bytes, budgetBytes: this.budgetBytes },
      disk: { entries: 0, bytes: 0, budgetBytes: 0 },
      hits: this.hits,
      misses: this.misses,
    };
  }

  async close(): Promise<void> {}
}
