// The tiered store beyond the conformance suite: which bodies get a memory copy, that memory only
// holds copies of disk entries, copies coming back after a restart, and both budgets under a stream
// of objects many times their size (the test-sized version of bench/cache/budget.ts).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { openTieredStore, type TieredStore } from "../../../proxy/cache/tiered-store.ts";
import type { CacheSettings } from "../../../proxy/cache/types.ts";
import { bodyOf, bodyOfEntry, folderAllocatedBytes, folderBytes, metaFor, put } from "../../helpers/cache-entries.ts";
import { MapCacheStore } from "../../helpers/map-cache-store.ts";
import { pollUntil } from "../../helpers/wait.ts";

const KiB = 1024;
const MiB = 1 << 20;
const root = mkdtempSync(join(tmpdir(), "warren-tiered-"));
const stores: TieredStore[] = [];
after(async () => {
  for (const s of stores) await s.close();
  rmSync(root, { recursive: true, force: true });
});
let dirs = 0;

const settings = (o: Partial<CacheSettings> = {}): CacheSettings => ({
  enabled: true,
  memoryBytes: 4 * MiB,
  diskBytes: 64 * MiB,
  maxEntries: 10_000,
  hotObjectBytes: 64 * KiB,
  ...o,
});

async function open(s: CacheSettings, dir = join(root, `t${++dirs}`)) {
  const memory = new MapCacheStore(s.memoryBytes);
  const store = await openTieredStore(dir, s, memory);
  stores.push(store);
  return { store, memory, dir };
}

describe("tiered store", () => {
  it("writes every body to disk and copies those up to hotObjectBytes into memory", async () => {
    const { store, memory } = await open(settings());
    const small = metaFor("a.test/small");
    const edge = metaFor("a.test/edge");
    const large = metaFor("a.test/large");
    put(store, small, bodyOf("s", 1000));
    put(store, edge, bodyOf("e", 64 * KiB));
    put(store, large, bodyOf("l", 64 * KiB + 1));
    const u = store.usage();
    assert.deepEqual(u.memory, { entries: 2, bytes: 1000 + 64 * KiB, budgetBytes: 4 * MiB });
    assert.deepEqual(u.disk, { entries: 3, bytes: 1000 + 128 * KiB + 1, budgetBytes: 64 * MiB });
    assert.ok(memory.get(small.key) !== undefined && memory.get(large.key) === undefined);
    assert.ok((await bodyOfEntry(store.get(large.key)))!.equals(bodyOf("l", 64 * KiB + 1)));
    // Replaced by a large body: the stale memory copy goes.
    put(store, small, bodyOf("s2", 100 * KiB));
    assert.equal(memory.get(small.key), undefined);
    assert.ok((await bodyOfEntry(store.get(small.key)))!.equals(bodyOf("s2", 100 * KiB)));
    // Purge counts each entry once.
    assert.deepEqual(store.purge({ kind: "all" }), { entries: 3, bytes: 64 * KiB + 100 * KiB + 64 * KiB + 1 });
    assert.deepEqual([store.usage().memory.entries, store.usage().disk.entries], [0, 0]);
  });

  it("keeps a body served from memory recent on disk, and drops the memory copy of what disk evicts", async () => {
    const S = 40 * KiB;
    const { store, memory } = await open(settings({ diskBytes: 4 * S - 1 + 512 * KiB, maxEntries: 3 }));
    const m = ["A", "B", "C", "D"].map((n) => metaFor(`a.test/hot/${n}`));
    for (const x of m.slice(0, 3)) put(store, x, bodyOf(x.url, S));
    assert.ok(store.get(m[0]!.key) !== undefined); // from memory
    put(store, m[3]!, bodyOf(m[3]!.url, S)); // disk evicts B, not the hot A
    assert.deepEqual(
      m.map((x) => store.get(x.key) !== undefined),
      [true, false, true, true],
    );
    assert.equal(memory.get(m[1]!.key), undefined, "B's memory copy left with it");
    assert.equal(store.usage().memory.entries, 3);
  });

  it("copies a small body found only on disk back into memory, after a restart", async () => {
    const dir = join(root, `t${++dirs}`);
    const meta = metaFor("a.test/warm");
    let { store } = await open(settings(), dir);
    put(store, meta, bodyOf("w", 5000));
    await store.close();
    const reopened = await open(settings(), dir);
    store = reopened.store;
    assert.equal(store.usage().memory.entries, 0);
    assert.ok((await bodyOfEntry(store.get(meta.key)))!.equals(bodyOf("w", 5000)));
    await pollUntil("the memory copy", async () => reopened.memory.usage().memory.entries, (n) => n === 1, { intervalMs: 5 });
    assert.ok((await bodyOfEntry(reopened.memory.get(meta.key)))!.equals(bodyOf("w", 5000)));
    const u = store.usage();
    assert.deepEqual([u.hits, u.misses], [1, 0]);
  });

  it("holds both budgets under 64 MiB of distinct objects: 1 MiB memory, 8 MiB disk", async () => {
    const s = settings({ memoryBytes: MiB, diskBytes: 8 * MiB, hotObjectBytes: 64 * KiB });
    const { store, memory, dir } = await open(s);
    let maxFolder = 0;
    let maxMemory = 0;
    const sample = () => {
      maxFolder = Math.max(maxFolder, folderBytes(dir), folderAllocatedBytes(dir));
      maxMemory = Math.max(maxMemory, store.usage().memory.bytes);
    };
    const timer = setInterval(sample, 3);
    let written = 0;
    let stored = 0;
    for (let i = 0; written < 64 * MiB; i++) {
      // Mostly small (memory and disk), every 8th 100 KiB to 1 MiB (disk only), every 40th 3 MiB.
      const size = i % 40 === 0 ? 3 * MiB : i % 8 === 0 ? 100 * KiB + ((i * 7_919) % (900 * KiB)) : 1 + ((i * 104_729) % (64 * KiB));
      const meta = metaFor(`a.test/budget/${i}`);
      const w = store.begin(meta)!;
      const body = bodyOf(`b${i}`, size);
      for (let off = 0; off < size; off += 64 * KiB) {
        w.write(body.subarray(off, off + 64 * KiB));
        if (off % (512 * KiB) === 0) await delay(0);
      }
      w.commit();
      written += size;
      if (store.get(meta.key) !== undefined) stored++;
      if (i % 4 === 0) store.get(metaFor(`a.test/budget/${i - 2}`).key);
      if (i % 16 === 0) sample();
    }
    await store.settled();
    clearInterval(timer);
    sample();
    assert.ok(maxFolder <= s.diskBytes, `folder reached ${maxFolder} bytes (budget ${s.diskBytes})`);
    assert.ok(maxMemory <= s.memoryBytes && memory.peakBytes <= s.memoryBytes, `memory reached ${Math.max(maxMemory, memory.peakBytes)} bytes`);
    assert.ok(store.usage().disk.bytes > s.diskBytes / 2, "the disk budget is used");
    assert.ok(stored > 0);
  });
});
