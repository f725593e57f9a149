// One suite for every cache store (DESIGN.md §8): the disk tier, the tiered store (memory copies in
// front of the disk tier) and, once it lands, the memory tier — adding a store is one entry in STORES.
// Every case runs against a fresh store in a fresh folder; budgets are chosen so each store's own
// eviction decides (the disk tier's budget also counts its index database, hence the half-object slack).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiskTier } from "../../proxy/cache/disk-tier.ts";
import { openTieredStore } from "../../proxy/cache/tiered-store.ts";
import type { CacheStore, CacheUsage, TierUsage } from "../../proxy/cache/types.ts";
import { bodyOf, bodyOfEntry, metaFor, put } from "../helpers/cache-entries.ts";
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
  open(o: { dir: string; budgetBytes: number; maxEntries: number }): Promise<Opened>;
}

const MiB = 1 << 20;

const STORES: Subject[] = [
  {
    name: "disk tier",
    async open(o) {
      const d = await DiskTier.open(o.dir, o);
      return { store: d, settle: () => d.settled(), tier: (u) => u.disk };
    },
  },
  {
    name: "tiered store (memory copies ≤ 64 KiB + disk)",
    async open(o) {
      const settings = { enabled: true, memoryBytes: 64 * MiB, diskBytes: o.budgetBytes, maxEntries: o.maxEntries, hotObjectBytes: 64 * 1024 };
      const t = await openTieredStore(o.dir, settings, new MapCacheStore(64 * MiB));
      return { store: t, settle: () => t.settled(), tier: (u) => u.disk };
    },
  },
  // { name: "memory tier", async open(o) { const m = new MemoryTier({ budgetBytes: o.budgetBytes, maxEntries: o.maxEntries }); return { store: m, settle: async () => {}, tier: (u) => u.memory }; } },
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
      const { store, settle, tier } = await open(3 * S + S / 2);
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

describe("cache store conformance: disk-only", () => {
  it("the conformance folders hold no temp files after the suite's stores closed", () => {
    // Checked last: every subject's stores are closed by then (after hooks ran per describe).
    for (const d of readdirSync(root)) {
      let tmp: string[] = [];
      try {
        tmp = readdirSync(join(root, d, "tmp"));
      } catch {
        // a memory store made no folder
      }
      assert.deepEqual(tmp, [], d);
    }
  });
});
