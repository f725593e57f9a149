// One suite for every cache store (DESIGN.md §8): the disk tier, the tiered store (memory copies in
// front of the disk tier) and, once it lands, the memory tier — adding a store is one entry in STORES.
// Every case runs against a fresh store in a fresh folder; budgets are chosen so each store's own
// eviction decides (the disk tier's budget also counts its index database and room for it to grow,
// hence budgets of N objects plus almost one more).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { DiskTier } from "../../proxy/cache/disk-tier.ts";
import { openTieredStore } from "../../proxy/cache/tiered-store.ts";
import { MemoryTier } from "../../proxy/cache/memory-tier.ts";
import type { CacheStore, CacheUsage, TierUsage } from "../../proxy/cache/types.ts";
import { bodyOf, bodyOfEntry, filesUnder, metaFor, put } from "../helpers/cache-entries.ts";
import { MapCacheStore } from "../helpers/map-cache-store.ts";

interface Opened {
  readonly store: CacheStore;
  /** Waits for what the store does in the background (disk writes, index rows). */
  settle(): Promise<void>;
  /** The usage of the tier whose budget the store enforces. */
  tier(u: CacheUsage): TierUsage;
}

interface Subject {
  readonly name: string;
  /** Keeps entries in its folder across close and open. */
  readonly durable: boolean;
  open(o: { dir: string; budgetBytes: number; maxEntries: number }): Promise<Opened>;
}

const MiB = 1 << 20;

const STORES: Subject[] = [
  {
    name: "disk tier",
    durable: true,
    async open(o) {
      const d = await DiskTier.open(o.dir, o);
      return { store: d, settle: () => d.settled(), tier: (u) => u.disk };
    },
  },
  {
    name: "tiered store (memory copies ≤ 64 KiB + disk)",
    durable: true,
    async open(o) {
      const settings = { enabled: true, memoryBytes: 64 * MiB, diskBytes: o.budgetBytes, maxEntries: o.maxEntries, hotObjectBytes: 64 * 1024 };
      const t = await openTieredStore(o.dir, settings, new MapCacheStore(64 * MiB));
      return { store: t, settle: () => t.settled(), tier: (u) => u.disk };
    },
  },
  {
    name: "memory tier",
    durable: false,
    async open(o) {
      const m = new MemoryTier({ enabled: true, memoryBytes: o.budgetBytes, diskBytes: 0, maxEntries: o.maxEntries, hotObjectBytes: o.budgetBytes });
      return { store: m, settle: async () => {}, tier: (u) => u.memory };
    },
  },
];

const root = mkdtempSync(join(tmpdir(), "warren-cache-conf-"));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

for (const subject of STORES) {
  describe(`cache store conformance: ${subject.name}`, () => {
    const opened: Opened[] = [];
    after(async () => {
      for (const o of opened) await o.store.close();
    });
    const open = async (budgetBytes = 64 * MiB, maxEntries = 10_000) => {
      const o = await subject.open({ dir: join(root, `s${++dirs}`), budgetBytes, maxEntries });
      opened.push(o);
      return o;
    };

    it("stores and returns a body with its status, headers, policy and meta", async () => {
      const { store, settle } = await open();
      for (const [name, size] of [["small", 1000], ["large", 300 * 1024], ["empty", 0]] as const) {
        const meta = metaFor(`a.test/${name}?x=1`, { vary: ["accept-encoding"], status: 203, headers: ["content-type", "image/png", "etag", `"${name}"`] });
        const body = bodyOf(name, size);
        assert.ok(put(store, meta, body));
        const e = store.get(meta.key);
        assert.ok(e !== undefined, name);
        assert.deepEqual(e.meta, { ...meta, size });
        assert.ok((await bodyOfEntry(e))!.equals(body), name);
        // Each open() is a new stream from the start.
        assert.ok((await bodyOfEntry(e))!.equals(body), name);
      }
      await settle();
      assert.ok((await bodyOfEntry(store.get(metaFor("a.test/large?x=1").key)))!.equals(bodyOf("large", 300 * 1024)));
    });

    it("a second store of the same key replaces the first", async () => {
      const { store, settle, tier } = await open();
      const meta = metaFor("a.test/r");
      put(store, meta, bodyOf("v1", 5000));
      await settle();
      put(store, { ...meta, headers: ["etag", '"v2"'] }, bodyOf("v2", 7000));
      const e = store.get(meta.key)!;
      assert.deepEqual(e.meta.headers, ["etag", '"v2"']);
      assert.ok((await bodyOfEntry(e))!.equals(bodyOf("v2", 7000)));
      await settle();
      assert.deepEqual(tier(store.usage()), { ...tier(store.usage()), entries: 1, bytes: 7000 });
    });

    it("an entry is invisible until commit, and the older one stays visible meanwhile", async () => {
      const { store } = await open();
      const meta = metaFor("a.test/pending");
      const w = store.begin(meta)!;
      w.write(bodyOf("new", 3000));
      assert.equal(store.get(meta.key), undefined);
      w.commit();
      assert.equal(store.get(meta.key)!.meta.size, 3000);

      const w2 = store.begin(meta)!;
      w2.write(bodyOf("newer", 4000));
      const e = store.get(meta.key)!;
      assert.equal(e.meta.size, 3000);
      assert.ok((await bodyOfEntry(e))!.equals(bodyOf("new", 3000)));
      w2.commit();
      assert.ok((await bodyOfEntry(store.get(meta.key)))!.equals(bodyOf("newer", 4000)));
    });

    it("abort leaves nothing, and keeps an older entry of the key", async () => {
      const { store, settle, tier } = await open();
      const meta = metaFor("a.test/abort");
      const w = store.begin(meta)!;
      w.write(bodyOf("x", 100_000));
      w.abort();
      w.commit(); // too late: nothing
      assert.equal(store.get(meta.key), undefined);
      assert.equal(store.varyOf(meta.primary), undefined);
      await settle();
      assert.deepEqual([tier(store.usage()).entries, tier(store.usage()).bytes], [0, 0]);

      put(store, meta, bodyOf("kept", 2000));
      const w2 = store.begin(meta)!;
      w2.write(bodyOf("dropped", 2000));
      w2.abort();
      assert.ok((await bodyOfEntry(store.get(meta.key)))!.equals(bodyOf("kept", 2000)));
    });

    it("refresh replaces headers and policy, keeping the body and the rest of the meta", async () => {
      const { store, settle } = await open();
      const meta = metaFor("a.test/refresh");
      put(store, meta, bodyOf("r", 4096));
      await settle();
      store.refresh(meta.key, ["etag", '"v9"', "cache-control", "max-age=60"], { v: 1, t: 42 });
      const e = store.get(meta.key)!;
      assert.deepEqual(e.meta, { ...meta, size: 4096, headers: ["etag", '"v9"', "cache-control", "max-age=60"], policy: { v: 1, t: 42 } });
      assert.ok((await bodyOfEntry(e))!.equals(bodyOf("r", 4096)));
      store.refresh(metaFor("a.test/none").key, [], {}); // unknown key: nothing happens
      assert.equal(store.get(metaFor("a.test/none").key), undefined);
    });

    it("varyOf names the vary headers last stored for a primary key, until its last variant goes", async () => {
      const { store } = await open();
      const gz = metaFor("a.test/v", { variant: "gzip", vary: ["accept-encoding"] });
      const br = metaFor("a.test/v", { variant: "br", vary: ["accept-encoding", "accept-language"], storedAt: gz.storedAt + 1 });
      assert.equal(store.varyOf(gz.primary), undefined);
      put(store, gz, bodyOf("gz", 10));
      assert.deepEqual(store.varyOf(gz.primary), ["accept-encoding"]);
      put(store, br, bodyOf("br", 10));
      assert.deepEqual(store.varyOf(gz.primary), ["accept-encoding", "accept-language"]);
      assert.equal(store.get(gz.key)!.meta.key, gz.key);
      assert.equal(store.get(br.key)!.meta.key, br.key);
      store.delete(gz.key);
      assert.deepEqual(store.varyOf(gz.primary), ["accept-encoding", "accept-language"]);
      store.delete(br.key);
      assert.equal(store.varyOf(gz.primary), undefined);
    });

    it("delete removes one entry at once", async () => {
      const { store, tier } = await open();
      const a = metaFor("a.test/d1");
      const b = metaFor("a.test/d2");
      put(store, a, bodyOf("a", 100));
      put(store, b, bodyOf("b", 200));
      store.delete(a.key);
      store.delete(a.key);
      assert.equal(store.get(a.key), undefined);
      assert.ok(store.get(b.key) !== undefined);
      assert.deepEqual([tier(store.usage()).entries, tier(store.usage()).bytes], [1, 200]);
    });

    it("purges by all, rule, host, segment-aware path prefix and URL with exact counts and bytes", async () => {
      const { store, settle, tier } = await open();
      const urls: [string, string, number][] = [
        ["a.test/a", "r1", 100],
        ["a.test/a/x?q=1", "r1", 200],
        ["a.test/ab", "r1", 400],
        ["a.test/b/a", "r2", 800],
        ["b.test/a/y", "r2", 1600],
        ["b.test/c", "r3", 3200],
        ["c.test/c?z=2", "r3", 6400],
      ];
      const fill = () => {
        for (const [url, ruleId, size] of urls) put(store, metaFor(url, { ruleId }), bodyOf(url, size));
      };
      const present = () => urls.filter(([url]) => store.get(metaFor(url).key) !== undefined).map(([u]) => u);
      const cases: [Parameters<CacheStore["purge"]>[0], string[]][] = [
        [{ kind: "path_prefix", host: "a.test", pathPrefix: "/a" }, ["a.test/a", "a.test/a/x?q=1"]],
        [{ kind: "path_prefix", host: "", pathPrefix: "/a" }, ["a.test/a", "a.test/a/x?q=1", "b.test/a/y"]],
        [{ kind: "path_prefix", host: "", pathPrefix: "/a/" }, ["a.test/a/x?q=1", "b.test/a/y"]],
        [{ kind: "path_prefix", host: "A.Test:8080", pathPrefix: "/" }, ["a.test/a", "a.test/a/x?q=1", "a.test/ab", "a.test/b/a"]],
        [{ kind: "host", host: "b.test" }, ["b.test/a/y", "b.test/c"]],
        [{ kind: "rule", ruleId: "r3" }, ["b.test/c", "c.test/c?z=2"]],
        [{ kind: "url", url: "c.test/c?z=2" }, ["c.test/c?z=2"]],
        [{ kind: "url", url: "c.test/c" }, []],
        [{ kind: "all" }, urls.map(([u]) => u)],
      ];
      for (const [filter, gone] of cases) {
        store.purge({ kind: "all" });
        fill();
        await settle();
        const bytes = urls.filter(([u]) => gone.includes(u)).reduce((n, [, , s]) => n + s, 0);
        assert.deepEqual(store.purge(filter), { entries: gone.length, bytes }, JSON.stringify(filter));
        // Visible before purge returns.
        assert.deepEqual(present(), urls.map(([u]) => u).filter((u) => !gone.includes(u)), JSON.stringify(filter));
        assert.equal(tier(store.usage()).entries, urls.length - gone.length);
        assert.equal(tier(store.usage()).bytes, urls.reduce((n, [, , s]) => n + s, 0) - bytes);
      }
      await settle();
    });

    it("evicts the least recently used entries at the byte budget", async () => {
      const S = 256 * 1024;
      const { store, settle, tier } = await open(4 * S - 1); // three fit, a fourth does not
      const m = ["A", "B", "C", "D", "E"].map((n) => metaFor(`a.test/lru/${n}`));
      for (const x of m.slice(0, 3)) {
        put(store, x, bodyOf(x.url, S));
        await settle();
      }
      assert.ok(store.get(m[0]!.key) !== undefined); // A is now the most recent
      put(store, m[3]!, bodyOf(m[3]!.url, S));
      assert.equal(store.get(m[1]!.key), undefined, "B was least recently used");
      for (const i of [0, 2, 3]) assert.ok((await bodyOfEntry(store.get(m[i]!.key)))!.equals(bodyOf(m[i]!.url, S)));
      put(store, m[4]!, bodyOf(m[4]!.url, S));
      assert.equal(store.get(m[0]!.key), undefined, "A was least recently used");
      await settle();
      assert.deepEqual([tier(store.usage()).entries, tier(store.usage()).bytes], [3, 3 * S]);
      // Larger than the whole budget: refused, and nothing is evicted for it... beyond what it needed.
      const big = metaFor("a.test/lru/big");
      put(store, big, bodyOf("big", 4 * S));
      assert.equal(store.get(big.key), undefined);
    });

    it("evicts the least recently used entries at maxEntries", async () => {
      const { store, tier } = await open(64 * MiB, 3);
      const m = ["A", "B", "C", "D"].map((n) => metaFor(`a.test/n/${n}`));
      for (const x of m.slice(0, 3)) put(store, x, bodyOf(x.url, 10));
      store.get(m[0]!.key);
      put(store, m[3]!, bodyOf(m[3]!.url, 10));
      assert.deepEqual(
        m.map((x) => store.get(x.key) !== undefined),
        [true, false, true, true],
      );
      assert.equal(tier(store.usage()).entries, 3);
      // Replacing a key at the limit evicts nothing.
      put(store, m[3]!, bodyOf("again", 20));
      assert.deepEqual(
        m.map((x) => store.get(x.key) !== undefined),
        [true, false, true, true],
      );
    });

    it("reports usage: entries, bytes, budget, hits and misses", async () => {
      const { store, tier } = await open(8 * MiB);
      const u0 = store.usage();
      assert.deepEqual(tier(u0), { entries: 0, bytes: 0, budgetBytes: 8 * MiB });
      put(store, metaFor("a.test/u1"), bodyOf("u1", 1234));
      put(store, metaFor("a.test/u2"), bodyOf("u2", 4321));
      store.get(metaFor("a.test/u1").key);
      store.get(metaFor("a.test/u1").key);
      store.get(metaFor("a.test/missing").key);
      const u = store.usage();
      assert.deepEqual(tier(u), { entries: 2, bytes: 5555, budgetBytes: 8 * MiB });
      assert.equal(u.hits - u0.hits, 2);
      assert.equal(u.misses - u0.misses, 1);
    });

    it("refuses new entries once closed", async () => {
      const { store } = await open();
      await store.close();
      assert.equal(store.begin(metaFor("a.test/closed")), undefined);
    });
  });
}

// The stores that keep entries on disk: the same folder opened again keeps them, and whatever a crash
// left half done is gone.
for (const subject of STORES.filter((s) => s.durable)) {
  describe(`cache store conformance, durable: ${subject.name}`, () => {
    const opened: Opened[] = [];
    after(async () => {
      for (const o of opened) await o.store.close();
    });
    const open = async (dir: string, budgetBytes = 64 * MiB, maxEntries = 10_000) => {
      const o = await subject.open({ dir, budgetBytes, maxEntries });
      opened.push(o);
      return o;
    };
    const bodies = (dir: string) => filesUnder(dir).filter((f) => f.endsWith(".body"));

    it("keeps entries across a restart: meta, bodies, vary and recency", async () => {
      const dir = join(root, `s${++dirs}`);
      const sizes = [0, 10, 70_000, 300_000];
      const metas = sizes.map((n, i) => metaFor(`a.test/keep/${i}`, { vary: i === 2 ? ["accept-encoding"] : [] }));
      let s = await open(dir);
      metas.forEach((m, i) => put(s.store, m, bodyOf(m.url, sizes[i]!)));
      s.store.refresh(metas[1]!.key, ["etag", '"r"'], { v: 1, refreshed: true });
      await s.settle();
      // Recency as of the last run: 3, 0, 2 then 1 most recent (accesses a few ms apart).
      for (const i of [3, 0, 2, 1]) {
        await delay(3);
        s.store.get(metas[i]!.key);
      }
      await s.store.close();

      s = await open(dir, 64 * MiB, 4);
      for (const i of [3, 0, 2, 1]) {
        // In the same order again, so the recency the next run sees is unchanged.
        await delay(3);
        const m = metas[i]!;
        const e = s.store.get(m.key);
        assert.ok(e !== undefined, `entry ${i}`);
        const want = i === 1 ? { ...m, size: 10, headers: ["etag", '"r"'], policy: { v: 1, refreshed: true } } : { ...m, size: sizes[i] };
        assert.deepEqual(e.meta, want);
        assert.ok((await bodyOfEntry(e))!.equals(bodyOf(m.url, sizes[i]!)));
      }
      assert.deepEqual(s.store.varyOf(metas[2]!.primary), ["accept-encoding"]);
      assert.deepEqual([s.tier(s.store.usage()).entries, s.tier(s.store.usage()).bytes], [4, sizes.reduce((a, b) => a + b)]);
      await s.store.close();

      // The order survives too: at maxEntries the least recent of the last run goes first.
      s = await open(dir, 64 * MiB, 4);
      put(s.store, metaFor("a.test/keep/new"), bodyOf("new", 5));
      assert.deepEqual(
        metas.map((m) => s.store.get(m.key) !== undefined),
        [true, true, true, false],
      );
      await s.store.close();
    });

    it("cleans what a crash leaves: temp files, rows without a body or with another size, bodies without a row", async () => {
      const dir = join(root, `s${++dirs}`);
      const [a, b, c] = ["a", "b", "c"].map((n) => metaFor(`a.test/crash/${n}`));
      let s = await open(dir);
      for (const m of [a!, b!, c!]) put(s.store, m, bodyOf(m.url, 5000));
      await s.settle();
      await s.store.close();
      const files = bodies(dir);
      const fileOf = (key: string) => join(dir, files.find((f) => f.includes(key))!);
      rmSync(fileOf(b!.key)); // a row without its body
      truncateSync(fileOf(c!.key), 4000); // a body shorter than its row says
      writeFileSync(join(dir, "tmp", "0123456789ab"), "half a body");
      const orphanKey = metaFor("a.test/crash/orphan").key;
      mkdirSync(join(dir, orphanKey.slice(0, 2), orphanKey.slice(2, 4)), { recursive: true });
      writeFileSync(join(dir, orphanKey.slice(0, 2), orphanKey.slice(2, 4), `${orphanKey}.0123456789ab.body`), "no row"); // a body without a row
      writeFileSync(join(dir, orphanKey.slice(0, 2), orphanKey.slice(2, 4), "stray.txt"), "?");

      s = await open(dir);
      assert.ok((await bodyOfEntry(s.store.get(a!.key)))!.equals(bodyOf(a!.url, 5000)));
      assert.equal(s.store.get(b!.key), undefined);
      assert.equal(s.store.get(c!.key), undefined);
      assert.equal(s.store.get(orphanKey), undefined);
      assert.deepEqual(readdirSync(join(dir, "tmp")), []);
      assert.deepEqual(
        filesUnder(dir).filter((f) => !f.startsWith("cache.db")),
        [files.find((f) => f.includes(a!.key))],
      );
      assert.deepEqual([s.tier(s.store.usage()).entries, s.tier(s.store.usage()).bytes], [1, 5000]);
      await s.store.close();
      // The bad rows are gone too: a further restart sees the same.
      s = await open(dir);
      assert.equal(s.tier(s.store.usage()).entries, 1);
      await s.store.close();
    });

    it("takes concurrent writers of different keys, interleaved, some aborted", async () => {
      const dir = join(root, `s${++dirs}`);
      const s = await open(dir);
      const n = 24;
      const metas = Array.from({ length: n }, (_, i) => metaFor(`a.test/conc/${i}`));
      const size = (i: number) => 1000 + i * 9_000;
      const ws = metas.map((m) => s.store.begin(m)!);
      const off = new Array<number>(n).fill(0);
      for (let round = 0; off.some((o, i) => o < size(i)); round++) {
        for (let i = 0; i < n; i++) {
          if (off[i]! >= size(i)) continue;
          const body = bodyOf(metas[i]!.url, size(i));
          const len = 1 + ((round * 7919 + i * 104_729) % 16_384);
          ws[i]!.write(body.subarray(off[i], off[i]! + len));
          off[i] = Math.min(size(i), off[i]! + len);
        }
        if (round % 3 === 0) await delay(0);
      }
      const aborted = (i: number) => i % 5 === 3;
      for (const i of [...metas.keys()].reverse()) (aborted(i) ? ws[i]!.abort() : ws[i]!.commit());
      for (const i of [3, 0, 2, 1]) {
        // In the same order again, so the recency the next run sees is unchanged.
        await delay(3);
        const m = metas[i]!;
        const e = s.store.get(m.key);
        if (aborted(i)) assert.equal(e, undefined);
        else assert.ok((await bodyOfEntry(e))!.equals(bodyOf(m.url, size(i))), `entry ${i}`);
      }
      await s.settle();
      assert.deepEqual(readdirSync(join(dir, "tmp")), []);
      assert.equal(bodies(dir).length, metas.filter((_, i) => !aborted(i)).length);
      await s.store.close();
    });
  });
}
