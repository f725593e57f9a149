// The memory store's own promises beyond the conformance suite: synchronous answers, the idle
// timeout, retain(), and bounded memory under many keys.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryStore } from "../../../proxy/policy/rate-limit/memory-store.ts";
import type { LimitSpec, RateLimitAlgorithm } from "../../../proxy/policy/rate-limit/store.ts";

const T0 = 1_800_000_000_000;
const spec = (algorithm: RateLimitAlgorithm, limit = 3, windowMs = 86_400_000): LimitSpec => ({ algorithm, limit, windowMs, burst: 0, failClosed: false });

describe("MemoryStore", () => {
  it("answers synchronously, never with a Promise", () => {
    const store = new MemoryStore({ pruneIntervalMs: 0 });
    for (const algorithm of ["fixed_window", "sliding_window", "token_bucket"] as const) {
      const d = store.consume("ns", algorithm, spec(algorithm));
      assert.equal(typeof (d as { then?: unknown }).then, "undefined");
      assert.equal(d.allowed, true);
    }
  });

  it("drops keys idle for 15 minutes even when their window has not ended", () => {
    const store = new MemoryStore({ pruneIntervalMs: 0 });
    store.consume("ns", "old", spec("fixed_window"), T0);
    store.consume("ns", "recent", spec("fixed_window"), T0 + 10 * 60_000);
    store.prune(T0 + 15 * 60_000 - 1);
    assert.equal(store.keyCount("ns"), 2);
    store.prune(T0 + 15 * 60_000);
    assert.equal(store.keyCount("ns"), 1);
    assert.equal(store.consume("ns", "old", spec("fixed_window"), T0 + 15 * 60_000).remaining, 2, "starts afresh");
  });

  it("retain() drops the namespaces of rules no longer live", () => {
    const store = new MemoryStore({ pruneIntervalMs: 0 });
    store.consume("rule_a:fp1", "k", spec("fixed_window"), T0);
    store.consume("rule_b:fp1", "k", spec("fixed_window"), T0);
    store.retain(new Set(["rule_b:fp1"]));
    assert.equal(store.keyCount("rule_a:fp1"), 0);
    assert.equal(store.keyCount("rule_b:fp1"), 1);
  });

  it("holds at most maxKeysPerNamespace keys (10,000 by default) however many clients it sees", () => {
    const store = new MemoryStore({ pruneIntervalMs: 0 });
    for (let i = 0; i < 25_000; i++) store.consume("ns", `10.0.${i >> 8}.${i & 255}`, spec("sliding_window"), T0 + i);
    assert.equal(store.keyCount("ns"), 10_000);
  });

  it("reports itself as the memory store", () => {
    assert.deepEqual(new MemoryStore({ pruneIntervalMs: 0 }).status(), { kind: "memory", healthy: true, lastError: "", fallbackDecisions: 0, target: "" });
  });
});
