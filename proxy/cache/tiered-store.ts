// The store the cache stage uses: the disk tier is the durable one (every entry is written there, so
// it survives a restart), and the memory tier holds a hot copy of bodies up to hotObjectBytes within
// its own budget (as p2pstream does). A lookup tries memory, then disk; a small body found on disk
// only (after a restart, or after memory evicted it) is copied back into memory in the background.
// Memory holds only copies of disk entries: whatever disk drops on its own (budget eviction, a body
// that could not be written) leaves memory too, so purge and usage count each entry once.
import type { Logger } from "pino";
import { DiskTier, type DiskDrops } from "./disk-tier.ts";
import type { CacheSettings, CacheStore, CacheUsage, EntryMeta, EntryWriter, PurgeFilter, StoredEntry } from "./types.ts";

/** Opens the disk tier in `dir` under the settings' budgets and puts `memory` in front of it. */
export async function openTieredStore(dir: string, s: CacheSettings, memory: CacheStore, log?: Logger): Promise<TieredStore> {
  let tiered: TieredStore | undefined;
  const disk = await DiskTier.open(dir, {
    budgetBytes: s.diskBytes,
    maxEntries: s.maxEntries,
    onDrop: (key) => tiered?.dropped(key),
    ...(log !== undefined ? { log } : {}),
  });
  tiered = new TieredStore(memory, disk, s.hotObjectBytes);
  return tiered;
}

export class TieredStore implements CacheStore {
  private hits = 0;
  private misses = 0;
  private readonly promoting = new Set<string>();

  /** `disk` must be opened with `onDrop: (key) => tiered.dropped(key)`, as openTieredStore does. */
  constructor(
    private readonly memory: CacheStore,
    private readonly disk: DiskTier,
    private readonly hotObjectBytes: number,
  ) {}

  /** The disk tier dropped `key` on its own: its memory copy goes too. */
  dropped(key: string): void {
    this.memory.delete(key);
  }

  get(key: string): StoredEntry | undefined {
    const m = this.memory.get(key);
    if (m !== undefined) {
      this.hits++;
      // Disk evicts by its own recency: a body served from memory is still a recent one there.
      this.disk.touch(key);
      return m;
    }
    const d = this.disk.get(key);
    if (d === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (d.meta.size <= this.hotObjectBytes) this.promote(d);
    return d;
  }

  varyOf(primary: string): readonly string[] | undefined {
    return this.disk.varyOf(primary) ?? this.memory.varyOf(primary);
  }

  begin(meta: Omit<EntryMeta, "size">): EntryWriter | undefined {
    const disk = this.disk.begin(meta);
    if (disk === undefined) return undefined;
    let mem = this.hotObjectBytes > 0 ? this.memory.begin(meta) : undefined;
    let size = 0;
    return {
      write: (chunk) => {
        size += chunk.length;
        if (mem !== undefined && size > this.hotObjectBytes) {
          mem.abort();
          mem = undefined;
        }
        mem?.write(chunk);
        disk.write(chunk);
      },
      commit: () => {
        disk.commit();
        // A body disk refused (over budget, too slow) is not kept in memory alone; an older copy of
        // the key in memory is stale either way.
        if (mem !== undefined && disk.stored) mem.commit();
        else {
          mem?.abort();
          this.memory.delete(meta.key);
        }
      },
      abort: () => {
        mem?.abort();
        disk.abort();
      },
    };
  }

  refresh(key: string, headers: readonly string[], policy: Readonly<Record<string, unknown>>): void {
    this.memory.refresh(key, headers, policy);
    this.disk.refresh(key, headers, policy);
  }

  delete(key: string): void {
    this.memory.delete(key);
    this.disk.delete(key);
  }

  /** Counts are the disk tier's: memory only holds copies of its entries. */
  purge(filter: PurgeFilter): { entries: number; bytes: number } {
    this.memory.purge(filter);
    return this.disk.purge(filter);
  }

  usage(): CacheUsage {
    return { memory: this.memory.usage().memory, disk: this.disk.usage().disk, hits: this.hits, misses: this.misses };
  }

  /** The disk tier's dropped writers, by reason. */
  dropCounts(): DiskDrops {
    return this.disk.dropCounts();
  }

  /** The disk tier's settled(): bodies in place, rows written. */
  settled(): Promise<void> {
    return this.disk.settled();
  }

  async close(): Promise<void> {
    await Promise.all([this.memory.close(), this.disk.close()]);
  }

  /** Copies a small disk body into memory, unless the entry changed while it was read. */
  private promote(entry: StoredEntry): void {
    const { meta } = entry;
    if (this.promoting.has(meta.key)) return;
    const w = this.memory.begin(meta);
    if (w === undefined) return;
    this.promoting.add(meta.key);
    const body = entry.open();
    const done = (ok: boolean) => {
      if (!this.promoting.delete(meta.key)) return;
      if (ok && this.disk.peek(meta.key) === meta) w.commit();
      else w.abort();
    };
    body.on("data", (c: Buffer) => w.write(c));
    body.once("end", () => done(true));
    body.once("error", () => done(false));
    body.once("close", () => done(false));
  }
}
