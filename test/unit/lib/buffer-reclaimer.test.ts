// The buffer reclaimer frees dead Buffers' memory (outside the JS heap) soon after it piles up,
// instead of at V8's 64 MiB external-memory limit, and leaves live ones alone.
// The checks are driven by hand where the outcome matters: V8 runs collections of its own when it
// likes (Node 22 and 24 often do one in a test process's first few hundred milliseconds), and one that
// lands between allocating and a timer's check would free the Buffers before the reclaimer looks.
import { describe, it } from "node:test";
import { PerformanceObserver, constants } from "node:perf_hooks";
import assert from "node:assert/strict";
import { ReclaimPolicy, bufferReclaimerCollections, retainBufferReclaimer } from "../../../lib/buffer-reclaimer.ts";
import { exposedGc } from "../../../lib/exposed-gc.ts";
import { pollUntil } from "../../helpers/wait.ts";

const MiB = 1024 * 1024;

const gc = exposedGc()!;
const arrayBuffers = (): number => process.memoryUsage().arrayBuffers;

/** Dead on arrival, like socket reads a relay has passed on: memory outside the heap, almost no JS allocation. */
function deadBuffers(mib: number): void {
  for (let i = 0; i < mib * 16; i++) Buffer.allocUnsafeSlow(64 * 1024).fill(i);
}

describe("the buffer reclaimer", () => {
  it("collects once 8 MiB appeared since the level it counts from, and counts from the lower level after a GC of V8's own", () => {
    let level = 100 * MiB;
    let collected = 0;
    const p = new ReclaimPolicy(
      () => level,
      () => {
        collected++;
        level -= 6 * MiB; // 6 of the 8 MiB were dead; 2 stay alive
      },
    );
    level += 8 * MiB - 1;
    assert.equal(p.check(), false, "just under 8 MiB: no collection");
    level += 1;
    assert.equal(p.check(), true, "8 MiB: a collection");
    assert.equal(collected, 1);
    // The level is now 102 MiB (what survived); growth counts from there.
    level += 7 * MiB;
    assert.equal(p.check(), false, "7 MiB above what survived");
    level = 90 * MiB; // V8 collected on its own
    assert.equal(p.check(), false);
    level += 8 * MiB;
    assert.equal(p.check(), true, "8 MiB above the lower level");
    assert.equal(p.collections, 2);
  });

  it("frees 24 MiB of dead Buffers with a real minor GC and keeps the live ones", async () => {
    const live = Buffer.alloc(4 * MiB, 1);
    // An empty young generation: the loop below cannot make V8 collect on its own.
    gc({ type: "minor" });
    const p = new ReclaimPolicy(arrayBuffers, () => gc({ type: "minor" }));
    deadBuffers(24);
    assert.ok(arrayBuffers() >= 24 * MiB, "the dead Buffers are still counted before a GC");
    assert.equal(p.check(), true);
    // V8 frees the dead Buffers' memory on a background thread after the scavenge (its ArrayBuffer
    // sweeper), so the count drops a moment later. Nothing else in this quiet process collects.
    await pollUntil("the dead Buffers' memory freed", async () => arrayBuffers(), (n) => n < 12 * MiB, { timeoutMs: 2_000, intervalMs: 10 });
    assert.equal(live[live.length - 1], 1, "a live Buffer is untouched");
  });

  it("runs a forced minor GC from its own timer while retained", async () => {
    // Forced minor GCs in this test come only from the reclaimer: V8's own are never "forced".
    let forcedMinor = 0;
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const d = (e as unknown as { detail: { kind: number; flags: number } }).detail;
        if (d.kind === constants.NODE_PERFORMANCE_GC_MINOR && (d.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0) forcedMinor++;
      }
    });
    observer.observe({ entryTypes: ["gc"] });
    const release = retainBufferReclaimer();
    try {
      const before = bufferReclaimerCollections();
      // 9 MiB more dead Buffers at each poll: a timer check finds them unless V8 happened to collect first.
      await pollUntil(
        "a collection by the reclaimer's timer, seen as a forced minor GC",
        async () => {
          deadBuffers(9);
          // GC entries reach observers on a later turn: give them one.
          await new Promise((r) => setImmediate(r));
          return { collections: bufferReclaimerCollections() - before, forcedMinor };
        },
        (n) => n.collections > 0 && n.forcedMinor > 0,
        { timeoutMs: 5_000, intervalMs: 50 },
      );
    } finally {
      release();
      observer.disconnect();
    }
  });
});
