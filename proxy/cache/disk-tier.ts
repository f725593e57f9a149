// The disk tier (DESIGN.md §5 stage 9): bodies are files, metadata is a row in the tier's own SQLite
// file, and every lookup is answered from an in-memory index loaded once at start.
//
//   <dir>/tmp/<gen>                     a body being written (anything here at start is deleted)
//   <dir>/<aa>/<bb>/<key>.<gen>.body    a stored body (aa, bb: the key's first two hex pairs)
//   <dir>/cache.db                      one row per stored body (WAL), written by a worker thread
//
// `gen` is random per stored body, so replacing a key never renames over a file a reader may be
// opening: the old file is unlinked once no open() of it is in flight. A row is written only after
// its body file is in place, and at start rows and files are reconciled (a row without its file or
// with another size, and a file without its row, are deleted), so a crash at any point leaves no half
// entry. Bodies are not fsynced: a process crash loses nothing the page cache holds; after an OS crash
// a short file fails the size check. This is a cache, and fsync per entry would cost every store.
import { randomBytes } from "node:crypto";
import { createReadStream, promises as fsp } from "node:fs";
import { join } from "node:path";
import { PassThrough, pipeline, type Readable } from "node:stream";
import type { Logger } from "pino";
import { cacheDbBytes, deleteKeys, loadRows, openCacheDb, type CacheDb, type CacheRow } from "./cache-db.ts";
import { CacheDbQueue } from "./cache-db-queue.ts";
import { DiskSpace } from "./disk-space.ts";
import { purgeMatcher } from "./purge-match.ts";
import type { CacheStore, CacheUsage, EntryMeta, EntryWriter, PurgeFilter, StoredEntry } from "./types.ts";

export interface DiskTierOptions {
  /**
   * Bytes the folder may hold as `du` counts them: bodies and bodies being written in whole 4 KiB
   * blocks, directories, and the index database (with room kept for it to grow).
   */
  readonly budgetBytes: number;
  readonly maxEntries: number;
  /** A body growing past this is dropped; default: the budget. */
  readonly maxObjectBytes?: number;
  /**
   * Chunks waiting for the disk, across all writers, stay under this: a chunk that would pass it
   * drops its writer. The client is never slowed down by the cache, and what the cache buffers
   * does not grow with the number of concurrent writers. Default 4 MiB (in bench/cache/budget.ts,
   * 16 MiB kept chunks alive into the old generation: ~35 MiB more RSS, no fewer drops).
   */
  readonly maxPendingBytes?: number;
  /** The tier dropped an entry on its own (budget eviction, a body that could not be written). */
  readonly onDrop?: (key: string) => void;
  /** How often index rows are handed to the writer thread at the latest. */
  readonly flushEveryMs?: number;
  readonly log?: Logger;
}

/** Writers the tier dropped, by reason. */
export interface DiskDrops {
  /** The body grew past maxObjectBytes. */
  tooLarge: number;
  /** Chunks waiting for the disk would have passed maxPendingBytes. */
  diskBehind: number;
  /** The body did not fit even with every other entry evicted (other writers hold the rest). */
  noRoom: number;
  ioError: number;
}

/** A writer of the disk tier: `stored` says whether commit() made the entry visible. */
export interface DiskEntryWriter extends EntryWriter {
  readonly stored: boolean;
}

const DB_HEADROOM = 512 * 1024;
/** The usual file system block (ext4, xfs): bodies and directories are counted in whole blocks. */
const BLOCK = 4096;
const KEY_RE = /^[0-9a-f]{8,128}$/;
const BODY_RE = /^([0-9a-f]{8,128})\.([0-9a-f]{12})\.body$/;
const HEX2_RE = /^[0-9a-f]{2}$/;

/** One stored body (one generation of a key). */
interface Rec {
  meta: EntryMeta;
  readonly gen: string;
  readonly file: string;
  /** The body file is in place; before that, readers wait in `waiters`. */
  ready: boolean;
  waiters: ((err: Error | undefined) => void)[] | undefined;
  /** open() calls whose file is not open yet: the file is unlinked only when none are left. */
  opening: number;
  /** Out of the index; the file goes once `opening` is zero. */
  dead: boolean;
  unlinkPending: boolean;
  /** The writer still writing this body (committed, not ready). */
  writer: Writing | undefined;
}

/** A body being written. */
interface Writing {
  readonly meta: Omit<EntryMeta, "size">;
  readonly gen: string;
  readonly tmp: string;
  state: "open" | "committed" | "failed";
  /** Bytes accepted (claimed in the budget). */
  size: number;
  /** Bytes in the tmp file (on disk). */
  written: number;
  queue: Buffer[];
  queued: number;
  fh: fsp.FileHandle | undefined;
  pumping: Promise<void> | undefined;
  rec: Rec | undefined;
}

class EntryGoneError extends Error {
  readonly code = "cache_entry_gone";
  constructor() {
    super("the cache entry was removed before its body was written");
  }
}

export class DiskTier implements CacheStore {
  private readonly entries = new Map<string, Rec>(); // least recently used first
  /** Per primary key: its variants, and the vary names of the one stored last. */
  private readonly byPrimary = new Map<string, { vary: readonly string[]; storedAt: number; keys: Set<string> }>();
  private readonly writers = new Set<Writing>();
  private readonly work = new Set<Promise<void>>();
  private readonly space: DiskSpace;
  private readonly db: CacheDbQueue;
  private readonly dirsMade = new Set<string>();
  private readonly maxObjectBytes: number;
  private readonly maxPendingBytes: number;
  private readonly evictAhead: number;
  private bytes = 0;
  /** Chunks accepted and not yet written, across writers. */
  private pendingBytes = 0;
  private hits = 0;
  private misses = 0;
  /** Writers the tier dropped, by why: over maxObjectBytes, over maxPendingBytes, no room even after evicting, I/O errors. */
  private readonly drops: DiskDrops = { tooLarge: 0, diskBehind: 0, noRoom: 0, ioError: 0 };
  private closing: Promise<void> | undefined;

  /** Opens (creating) the tier in `dir`, cleaning what a crash left behind and loading the index. */
  static async open(dir: string, o: DiskTierOptions): Promise<DiskTier> {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    await fsp.rm(join(dir, "tmp"), { recursive: true, force: true });
    await fsp.mkdir(join(dir, "tmp"), { mode: 0o700 });
    const dbPath = join(dir, "cache.db");
    let db: CacheDb;
    let rows: CacheRow[];
    try {
      db = openCacheDb(dbPath);
      rows = loadRows(db);
    } catch (err) {
      // An unreadable index is a lost cache, not a reason to stop: start over (its bodies are orphans now).
      o.log?.warn({ err: (err as Error).message }, "the cache index could not be read; starting with an empty cache");
      for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) await fsp.rm(f, { force: true });
      db = openCacheDb(dbPath);
      rows = [];
    }
    let keep: CacheRow[];
    let bodyDirs: string[];
    try {
      const { files, dirs } = await scanBodies(dir);
      bodyDirs = dirs;
      keep = [];
      const bad: string[] = [];
      for (const r of rows) {
        const rel = bodyRel(r.meta.key, r.gen);
        if (KEY_RE.test(r.meta.key) && files.get(rel) === r.meta.size) {
          keep.push(r);
          files.delete(rel);
        } else bad.push(r.meta.key);
      }
      deleteKeys(db, bad);
      // What is left has no row (or the row was bad): never visible, so never a half entry.
      await Promise.all([...files.keys()].map((rel) => fsp.rm(join(dir, rel), { force: true })));
    } finally {
      db.close();
    }
    const tier = new DiskTier(dir, dbPath, o);
    tier.load(keep, bodyDirs);
    return tier;
  }

  private constructor(
    private readonly dir: string,
    dbPath: string,
    private readonly o: DiskTierOptions,
  ) {
    // The database is measured after each batch of rows; what one batch can add to it (WAL pages,
    // then a checkpoint into the file) is kept free in advance.
    this.space = new DiskSpace(o.budgetBytes, Math.min(DB_HEADROOM, Math.floor(o.budgetBytes / 8)));
    this.space.setOverhead(cacheDbBytes(dbPath));
    this.maxObjectBytes = Math.min(o.maxObjectBytes ?? o.budgetBytes, o.budgetBytes);
    this.evictAhead = Math.min(8 << 20, Math.floor(o.budgetBytes / 32));
    this.maxPendingBytes = o.maxPendingBytes ?? 4 << 20;
    this.db = new CacheDbQueue(dbPath, {
      ...(o.flushEveryMs !== undefined ? { flushEveryMs: o.flushEveryMs } : {}),
      ...(o.log !== undefined ? { log: o.log } : {}),
      onSize: (n) => {
        this.space.setOverhead(n);
        this.makeRoom(0);
      },
    });
  }

  private load(rows: readonly CacheRow[], dirs: readonly string[]): void {
    // Directories take blocks too: the folder, tmp/ and every <aa> and <aa>/<bb>.
    for (const d of dirs) this.dirsMade.add(join(this.dir, d));
    this.space.occupy((dirs.length + 2) * BLOCK);
    this.space.claim((dirs.length + 2) * BLOCK);
    for (const r of rows) {
      const rec = this.newRec(r.meta, r.gen);
      rec.ready = true;
      this.space.occupy(footprint(r.meta.size));
      this.space.claim(footprint(r.meta.size));
      this.install(rec);
    }
    // The budget may have shrunk since the last run.
    this.makeRoom(0);
    while (this.entries.size > this.o.maxEntries) this.evictOldest();
  }

  get(key: string): StoredEntry | undefined {
    const rec = this.entries.get(key);
    if (rec === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.bump(rec);
    const meta = rec.meta;
    return { meta, open: () => this.openBody(rec) };
  }

  /** Refreshes the entry's recency without counting a hit (the tiered store served it from memory). */
  touch(key: string): void {
    const rec = this.entries.get(key);
    if (rec !== undefined) this.bump(rec);
  }

  private bump(rec: Rec): void {
    this.entries.delete(rec.meta.key);
    this.entries.set(rec.meta.key, rec);
    // A body not in place yet has no row; its row is written with the access time when it is.
    if (rec.ready) this.db.touch(rec.meta.key, rec.gen, Date.now());
  }

  /** The entry's meta without counting a hit or refreshing its recency. */
  peek(key: string): EntryMeta | undefined {
    return this.entries.get(key)?.meta;
  }

  varyOf(primary: string): readonly string[] | undefined {
    return this.byPrimary.get(primary)?.vary;
  }

  begin(meta: Omit<EntryMeta, "size">): DiskEntryWriter | undefined {
    if (this.closing !== undefined || !KEY_RE.test(meta.key)) return undefined;
    const gen = randomBytes(6).toString("hex");
    const w: Writing = {
      meta,
      gen,
      tmp: join(this.dir, "tmp", gen),
      state: "open",
      size: 0,
      written: 0,
      queue: [],
      queued: 0,
      fh: undefined,
      pumping: undefined,
      rec: undefined,
    };
    this.writers.add(w);
    return {
      write: (chunk) => this.writeChunk(w, chunk),
      commit: () => this.commitWriter(w),
      abort: () => this.failWriter(w),
      get stored() {
        return w.rec !== undefined && !w.rec.dead;
      },
    };
  }

  refresh(key: string, headers: readonly string[], policy: Readonly<Record<string, unknown>>): void {
    const rec = this.entries.get(key);
    if (rec === undefined) return;
    rec.meta = { ...rec.meta, headers, policy };
    // Not ready yet: the row written when it is carries the new meta.
    if (rec.ready) this.db.put({ op: "put", gen: rec.gen, meta: rec.meta, accessedAt: Date.now() });
  }

  delete(key: string): void {
    const rec = this.entries.get(key);
    if (rec !== undefined) this.retire(rec, false);
  }

  purge(filter: PurgeFilter): { entries: number; bytes: number } {
    const match = purgeMatcher(filter);
    let entries = 0;
    let bytes = 0;
    for (const rec of [...this.entries.values()]) {
      if (!match(rec.meta)) continue;
      entries++;
      bytes += rec.meta.size;
      this.retire(rec, false);
    }
    return { entries, bytes };
  }

  usage(): CacheUsage {
    return {
      memory: { entries: 0, bytes: 0, budgetBytes: 0 },
      disk: { entries: this.entries.size, bytes: this.bytes, budgetBytes: this.o.budgetBytes },
      hits: this.hits,
      misses: this.misses,
    };
  }

  /** Bytes the folder holds now and bytes promised (both include the index database). */
  diskSpace(): { onDisk: number; claimed: number } {
    return { onDisk: this.space.onDisk, claimed: this.space.claimed };
  }

  /** Writers dropped so far, by reason. */
  dropCounts(): DiskDrops {
    return { ...this.drops };
  }

  /** Resolves when every committed body is in place, every dropped file is unlinked and every row written. */
  async settled(): Promise<void> {
    while (this.work.size > 0) await Promise.all([...this.work]);
    await this.db.flush();
  }

  /** Drops bodies still being received, finishes committed ones, writes the index, ends the writer thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const w of [...this.writers]) if (w.state === "open") this.failWriter(w);
      await this.settled();
      await this.db.close();
    })();
    return this.closing;
  }

  // --- writing ---

  private writeChunk(w: Writing, chunk: Buffer): void {
    if (w.state !== "open" || chunk.length === 0) return;
    const n = chunk.length;
    const grow = footprint(w.size + n) - footprint(w.size);
    const why =
      w.size + n > this.maxObjectBytes
        ? "tooLarge"
        : this.pendingBytes + n > this.maxPendingBytes
          ? "diskBehind"
          : !this.makeRoom(grow)
            ? "noRoom"
            : undefined;
    if (why !== undefined) {
      this.drops[why]++;
      this.failWriter(w);
      return;
    }
    this.space.claim(grow);
    w.size += n;
    w.queue.push(chunk);
    w.queued += n;
    this.pendingBytes += n;
    this.pump(w);
  }

  private commitWriter(w: Writing): void {
    if (w.state !== "open") return;
    if (this.closing !== undefined) {
      this.failWriter(w);
      return;
    }
    w.state = "committed";
    const rec = this.newRec({ ...w.meta, size: w.size }, w.gen);
    rec.writer = w;
    w.rec = rec;
    const old = this.entries.get(rec.meta.key);
    if (old !== undefined) this.retire(old, false);
    while (this.entries.size >= this.o.maxEntries && this.entries.size > 0) this.evictOldest();
    this.install(rec);
    this.pump(w);
  }

  /** Aborts an open writer, or drops a committed entry whose body could not be written. */
  private failWriter(w: Writing, err?: unknown): void {
    if (w.state === "failed") return;
    if (err !== undefined) {
      this.drops.ioError++;
      this.o.log?.warn({ err: (err as Error).message, key: w.meta.key }, "could not write a cache body");
    }
    if (w.state === "committed") {
      if (w.rec !== undefined && !w.rec.dead) this.retire(w.rec, true);
    } else {
      this.space.release(footprint(w.size));
    }
    w.state = "failed";
    // Chunks not handed to the disk yet never will be.
    let unsent = 0;
    for (const c of w.queue) unsent += c.length;
    w.queue = [];
    w.queued -= unsent;
    this.pendingBytes -= unsent;
    this.space.abandon(w);
    if (w.pumping === undefined) this.track(this.discard(w));
  }

  private live(w: Writing): boolean {
    return w.state === "open" || (w.state === "committed" && w.rec !== undefined && !w.rec.dead);
  }

  private pump(w: Writing): void {
    if (w.pumping !== undefined) return;
    w.pumping = this.runPump(w);
    this.track(w.pumping);
  }

  /** Writes queued chunks in order; after commit, puts the body file in place. */
  private async runPump(w: Writing): Promise<void> {
    try {
      w.fh ??= await fsp.open(w.tmp, "wx", 0o600);
      while (w.queue.length > 0 && this.live(w)) {
        const chunks = w.queue;
        const n = w.queued;
        w.queue = [];
        const got = this.space.acquire(footprint(w.written + n) - footprint(w.written), w);
        if (got !== true && !(await got)) break;
        w.written += n;
        const { bytesWritten } = await w.fh.writev(chunks);
        if (bytesWritten !== n) throw new Error(`short write (${bytesWritten} of ${n} bytes)`);
        w.queued -= n;
        this.pendingBytes -= n;
      }
      // Open with nothing queued: the next write() starts the pump again.
      if (w.state === "committed" && this.live(w)) {
        await w.fh.close();
        w.fh = undefined;
        const rec = w.rec!;
        await this.mkdirFor(rec.meta.key);
        await fsp.rename(w.tmp, rec.file);
        w.written = 0; // the bytes belong to the body file now
        this.writers.delete(w);
        this.bodyReady(rec);
        return;
      }
    } catch (e) {
      this.failWriter(w, e);
    } finally {
      // Cleared before this promise settles, so a write() right after always restarts the pump.
      w.pumping = undefined;
    }
    if (!this.live(w)) await this.discard(w);
  }

  /** Removes a dropped writer's temp file and gives its bytes back. */
  private async discard(w: Writing): Promise<void> {
    this.writers.delete(w);
    w.queue = [];
    this.pendingBytes -= w.queued;
    w.queued = 0;
    const fh = w.fh;
    w.fh = undefined;
    await fh?.close().catch(() => {});
    await fsp.rm(w.tmp, { force: true }).catch(() => {});
    this.space.free(footprint(w.written));
    w.written = 0;
  }

  private async mkdirFor(key: string): Promise<void> {
    for (const d of [join(this.dir, key.slice(0, 2)), join(this.dir, key.slice(0, 2), key.slice(2, 4))]) {
      if (this.dirsMade.has(d)) continue;
      await fsp.mkdir(d, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== "EEXIST") throw e;
      });
      if (this.dirsMade.has(d)) continue;
      // Counted when made (within the database's reserve), then made room for.
      this.dirsMade.add(d);
      this.space.occupy(BLOCK);
      this.space.claim(BLOCK);
      this.makeRoom(0);
    }
  }

  private bodyReady(rec: Rec): void {
    rec.ready = true;
    rec.writer = undefined;
    const waiters = rec.waiters;
    rec.waiters = undefined;
    if (rec.dead) {
      for (const f of waiters ?? []) f(new EntryGoneError());
      this.scheduleUnlink(rec);
      return;
    }
    this.db.put({ op: "put", gen: rec.gen, meta: rec.meta, accessedAt: Date.now() });
    for (const f of waiters ?? []) f(undefined);
  }

  // --- the index ---

  private newRec(meta: EntryMeta, gen: string): Rec {
    return {
      meta,
      gen,
      file: join(this.dir, bodyRel(meta.key, gen)),
      ready: false,
      waiters: undefined,
      opening: 0,
      dead: false,
      unlinkPending: false,
      writer: undefined,
    };
  }

  private install(rec: Rec): void {
    const m = rec.meta;
    this.entries.set(m.key, rec);
    this.bytes += m.size;
    const p = this.byPrimary.get(m.primary);
    if (p === undefined) this.byPrimary.set(m.primary, { vary: m.vary, storedAt: m.storedAt, keys: new Set([m.key]) });
    else {
      // At start entries load in recency order, not in the order they were stored.
      if (m.storedAt >= p.storedAt) {
        p.vary = m.vary;
        p.storedAt = m.storedAt;
      }
      p.keys.add(m.key);
    }
  }

  /**
   * Evicts least-recently-used entries until `n` more bytes fit; false when they cannot. Once it
   * has to evict, it frees `evictAhead` more: their unlinks then run while writers still have room,
   * instead of every chunk waiting for the unlink of the file evicted for it.
   */
  private makeRoom(n: number): boolean {
    if (this.space.fits(n)) return true;
    while (!this.space.fits(n + this.evictAhead)) if (!this.evictOldest()) break;
    return this.space.fits(n);
  }

  private evictOldest(): boolean {
    const first = this.entries.values().next();
    if (first.done === true) return false;
    this.retire(first.value, true);
    return true;
  }

  /** Out of the index at once; the file and the row go after. `dropped`: the tier's own decision. */
  private retire(rec: Rec, dropped: boolean): void {
    if (rec.dead) return;
    rec.dead = true;
    const m = rec.meta;
    if (this.entries.get(m.key) === rec) this.entries.delete(m.key);
    this.bytes -= m.size;
    this.space.release(footprint(m.size));
    const p = this.byPrimary.get(m.primary);
    if (p !== undefined) {
      p.keys.delete(m.key);
      if (p.keys.size === 0) this.byPrimary.delete(m.primary);
    }
    if (rec.ready) {
      this.db.put({ op: "delete", key: m.key, gen: rec.gen });
      this.scheduleUnlink(rec);
    } else {
      // Still being written: the writer stops and removes its temp file; readers waiting for it fail.
      if (rec.writer !== undefined) this.space.abandon(rec.writer);
      const waiters = rec.waiters;
      rec.waiters = undefined;
      for (const f of waiters ?? []) f(new EntryGoneError());
    }
    if (dropped) this.o.onDrop?.(m.key);
  }

  private scheduleUnlink(rec: Rec): void {
    if (rec.opening > 0) {
      rec.unlinkPending = true;
      return;
    }
    rec.unlinkPending = false;
    this.track(
      fsp
        .unlink(rec.file)
        .catch((e: NodeJS.ErrnoException) => {
          if (e.code !== "ENOENT") this.o.log?.warn({ err: e.message }, "could not delete a cache body");
        })
        .then(() => this.space.free(footprint(rec.meta.size))),
    );
  }

  private track(p: Promise<void>): void {
    this.work.add(p);
    void p.finally(() => this.work.delete(p));
  }

  // --- reading ---

  private openBody(rec: Rec): Readable {
    rec.opening++;
    if (rec.ready) return this.fileStream(rec);
    const out = new PassThrough();
    if (rec.dead) {
      rec.opening--;
      out.destroy(new EntryGoneError());
      return out;
    }
    (rec.waiters ??= []).push((err) => {
      if (err !== undefined) {
        rec.opening--;
        this.afterOpen(rec);
        out.destroy(err);
        return;
      }
      pipeline(this.fileStream(rec), out, () => {});
    });
    return out;
  }

  /** A stream of the body file; `rec.opening` was counted for it. */
  private fileStream(rec: Rec): Readable {
    const s = createReadStream(rec.file);
    let counted = true;
    const opened = (err?: NodeJS.ErrnoException) => {
      if (!counted) return;
      counted = false;
      rec.opening--;
      // The file went missing behind the tier's back: the entry is gone.
      if (err?.code === "ENOENT" && !rec.dead) this.retire(rec, true);
      this.afterOpen(rec);
    };
    s.once("open", () => opened());
    s.once("error", opened);
    s.once("close", () => opened());
    return s;
  }

  private afterOpen(rec: Rec): void {
    if (rec.opening === 0 && rec.unlinkPending) this.scheduleUnlink(rec);
  }
}

/** What a file of `size` bytes takes on disk (whole blocks), as `du` counts it. */
function footprint(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** `<aa>/<bb>/<key>.<gen>.body`, relative to the tier's folder. */
function bodyRel(key: string, gen: string): string {
  return join(key.slice(0, 2), key.slice(2, 4), `${key}.${gen}.body`);
}

/**
 * Every body file under `dir` (relative path → size) and the body directories (relative);
 * anything else in the body directories is deleted.
 */
async function scanBodies(dir: string): Promise<{ files: Map<string, number>; dirs: string[] }> {
  const out = new Map<string, number>();
  const dirs: string[] = [];
  for (const a of await fsp.readdir(dir, { withFileTypes: true })) {
    if (!a.isDirectory() || !HEX2_RE.test(a.name)) continue;
    dirs.push(a.name);
    for (const b of await fsp.readdir(join(dir, a.name), { withFileTypes: true })) {
      const sub = join(dir, a.name, b.name);
      if (!b.isDirectory() || !HEX2_RE.test(b.name)) {
        await fsp.rm(sub, { recursive: true, force: true });
        continue;
      }
      dirs.push(join(a.name, b.name));
      const names = await fsp.readdir(sub, { withFileTypes: true });
      await Promise.all(
        names.map(async (f) => {
          const rel = join(a.name, b.name, f.name);
          const m = BODY_RE.exec(f.name);
          if (!f.isFile() || m === null || !m[1]!.startsWith(a.name + b.name)) {
            await fsp.rm(join(dir, rel), { recursive: true, force: true });
            return;
          }
          out.set(rel, (await fsp.stat(join(dir, rel))).size);
        }),
      );
    }
  }
  return { files: out, dirs };
}
