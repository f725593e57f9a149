// The conformance suite every CacheStore runs (STYLE.md: one suite, every implementation): the
// memory tier here; the disk tier and the tiered store call describeCacheStore with their own factory.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Readable } from "node:stream";
import type { CacheSettings, CacheStore, EntryMeta } from "../../../proxy/cache/types.ts";

export const CONFORMANCE_SETTINGS: CacheSettings = { enabled: true, memoryBytes: 8 * 1024 * 1024, diskBytes: 64 * 1024 * 1024, maxEntries: 1000, hotObjectBytes: 1024 * 1024 };

async function read(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

export function meta(key: string, o: Partial<Omit<EntryMeta, "size">> = {}): Omit<EntryMeta, "size"> {
  return {
    key,
    primary: o.primary ?? `p-${key}`,
    vary: o.vary ?? ["accept-encoding"],
    ruleId: o.ruleId ?? "r1",
    host: o.host ?? "example.com",
    path: o.path ?? `/${key}`,
    url: o.url ?? `example.com/${key}`,
    status: o.status ?? 200,
    headers: o.headers ?? ["content-type", "text/plain"],
    policy: o.policy ?? { v: 1 },
    storedAt: o.storedAt ?? 1,
  };
}

function put(s: CacheStore, m: Omit<EntryMeta, "size">, body: Buffer | string): void {
  const w = s.begin(m);
  assert.ok(w !== undefined, "the store takes the entry");
  const b = Buffer.from(body);
  w.write(b.subarray(0, Math.floor(b.length / 2)));
  w.write(b.subarray(Math.floor(b.length / 2)));
  w.commit();
}

export function describeCacheStore(name: string, make: (settings: CacheSettings) => CacheStore): void {
  describe(`CacheStore conformance: ${name}`, () => {
    it("an entry is invisible until commit, then readable any number of times", async () => {
      const s = make(CONFORMANCE_SETTINGS);
      const w = s.begin(meta("a"))!;
      w.write(Buffer.from("hello "));
      assert.equal(s.get("a"), undefined);
      w.write(Buffer.from("world"));
      w.commit();
      const e = s.get("a")!;
      assert.equal(e.meta.size, 11);
      assert.equal(e.meta.status, 200);
      assert.deepEqual(e.meta.headers, ["content-type", "text/plain"]);
      assert.equal((await read(e.open())).toString(), "hello world");
      assert.equal((await read(e.open())).toString(), "hello world");
      await s.close();
    });

    it("an aborted entry is never visible; a commit replaces an older entry with the same key", async () => {
      const s = make(CONFORMANCE_SETTINGS);
      const w = s.begin(meta("a"))!;
      w.write(Buffer.from("x"));
      w.abort();
      assert.equal(s.get("a"), undefined);
      put(s, meta("a"), "one");
      put(s, meta("a", { status: 203 }), "two!");
      const e = s.get("a")!;
      assert.equal(e.meta.status, 203);
      assert.equal((await read(e.open())).toString(), "two!");
      await s.close();
    });

    it("remembers the vary names per primary key until its last variant goes", () => {
      const s = make(CONFORMANCE_SETTINGS);
      assert.equal(s.varyOf("p"), undefined);
      put(s, meta("v1", { primary: "p", vary: ["accept-encoding"] }), "1");
      put(s, meta("v2", { primary: "p", vary: ["accept-encoding", "accept-language"] }), "2");
      assert.deepEqual(s.varyOf("p"), ["accept-encoding", "accept-language"]);
      s.delete("v1");
      assert.deepEqual(s.varyOf("p"), ["accept-encoding", "accept-language"]);
      s.delete("v2");
      assert.equal(s.varyOf("p"), undefined);
    });

    it("refresh replaces headers and policy and keeps the body", async () => {
      const s = make(CONFORMANCE_SETTINGS);
      put(s, meta("a"), "body");
      s.refresh("a", ["etag", '"2"'], { v: 1, t: 5 });
      const e = s.get("a")!;
      assert.deepEqual(e.meta.headers, ["etag", '"2"']);
      assert.deepEqual(e.meta.policy, { v: 1, t: 5 });
      assert.equal((await read(e.open())).toString(), "body");
      s.refresh("missing", [], {});
      assert.equal(s.get("missing"), undefined);
    });

    it("purges by all, rule, host, path prefix (segment-aware) and exact URL, visibly at once", () => {
      const s = make(CONFORMANCE_SETTINGS);
      const fill = (): void => {
        put(s, meta("k1", { ruleId: "r1", host: "a.com", path: "/img/x", url: "a.com/img/x" }), "11");
        put(s, meta("k2", { ruleId: "r1", host: "a.com", path: "/imgs/y", url: "a.com/imgs/y?q=1" }), "222");
        put(s, meta("k3", { ruleId: "r2", host: "b.com", path: "/img", url: "b.com/img" }), "3");
      };
      fill();
      assert.deepEqual(s.purge({ kind: "path_prefix", host: "", pathPrefix: "/img" }), { entries: 2, bytes: 3 });
      assert.equal(s.get("k1"), undefined);
      assert.ok(s.get("k2") !== undefined, "/imgs is not under /img");
      fill();
      assert.deepEqual(s.purge({ kind: "path_prefix", host: "a.com", pathPrefix: "/img" }), { entries: 1, bytes: 2 });
      fill();
      assert.deepEqual(s.purge({ kind: "url", url: "a.com/imgs/y?q=1" }), { entries: 1, bytes: 3 });
      fill();
      assert.deepEqual(s.purge({ kind: "host", host: "b.com" }), { entries: 1, bytes: 1 });
      fill();
      assert.deepEqual(s.purge({ kind: "rule", ruleId: "r1" }), { entries: 2, bytes: 5 });
      fill();
      assert.deepEqual(s.purge({ kind: "all" }), { entries: 3, bytes: 6 });
      assert.equal(s.get("k3"), undefined);
      assert.equal(s.usage().memory.entries + s.usage().disk.entries, 0);
    });

    it("counts hits and misses; refuses new entries once closed", async () => {
      const s = make(CONFORMANCE_SETTINGS);
      put(s, meta("a"), "x");
      s.get("a");
      s.get("nope");
      const u = s.usage();
      assert.equal(u.hits, 1);
      assert.equal(u.misses, 1);
      assert.equal(u.memory.entries + u.disk.entries, 1);
      await s.close();
      assert.equal(s.begin(meta("b")), undefined);
    });
  });
}
