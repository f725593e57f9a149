import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryTier } from "../../../proxy/cache/memory-tier.ts";
import { CONFORMANCE_SETTINGS, describeCacheStore, meta } from "./store-conformance.ts";

describeCacheStore("memory tier", (s) => new MemoryTier(s));

describe("memory tier", () => {
  it("refuses bodies over hotObjectBytes (the disk tier's business)", () => {
    const s = new MemoryTier({ ...CONFORMANCE_SETTINGS, hotObjectBytes: 10 });
    const w = s.begin(meta("big"))!;
    w.write(Buffer.alloc(6));
    w.write(Buffer.alloc(6));
    w.commit();
    assert.equal(s.get("big"), undefined);
  });

  it("evicts the least recently used entries to stay within its byte budget and entry count", () => {
    const s = new MemoryTier({ ...CONFORMANCE_SETTINGS, memoryBytes: 4096, hotObjectBytes: 4096, maxEntries: 3 });
    const put = (k: string, n: number) => {
      const w = s.begin(meta(k))!;
      w.write(Buffer.alloc(n));
      w.commit();
    };
    put("a", 1000);
    put("b", 1000);
    s.get("a");
    put("c", 1500);
    assert.equal(s.get("b"), undefined, "b was the least recently used");
    assert.ok(s.get("a") !== undefined && s.get("c") !== undefined, "a and c stay");
    assert.ok(s.usage().memory.bytes <= 4096, `within the budget: ${s.usage().memory.bytes}`);
    put("d", 10);
    put("e", 10);
    assert.ok(s.usage().memory.entries <= 3, "within the entry count");
    assert.equal(s.varyOf("p-b"), undefined, "the evicted entry left the vary index");
  });
});
