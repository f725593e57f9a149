// The buffer reclaimer frees dead Buffers' memory (outside the JS heap) soon after it piles up,
// instead of at V8's 64 MiB external-memory limit, and leaves live ones alone.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bufferReclaimerCollections, retainBufferReclaimer } from "../../../lib/buffer-reclaimer.ts";
import { pollUntil } from "../../helpers/wait.ts";

const MiB = 1024 * 1024;

describe("the buffer reclaimer", () => {
  it("collects dead Buffers once 8 MiB of them have appeared, and keeps live ones", async () => {
    const release = retainBufferReclaimer();
    try {
      const live = Buffer.alloc(4 * MiB, 1);
      const before = bufferReclaimerCollections();
      // Dead on arrival, like socket reads a relay has passed on: 24 MiB outside the heap, almost no JS allocation.
      for (let i = 0; i < 384; i++) Buffer.allocUnsafeSlow(64 * 1024).fill(i);
      assert.ok(process.memoryUsage().arrayBuffers >= 24 * MiB, "the dead Buffers are still counted before a GC");
      await pollUntil("a reclaiming collection", async () => bufferReclaimerCollections(), (n) => n > before, { timeoutMs: 5_000, intervalMs: 50 });
      const after = process.memoryUsage().arrayBuffers;
      assert.ok(after < 12 * MiB, `array buffers after the collection: ${(after / MiB).toFixed(1)} MiB`);
      assert.equal(live[live.length - 1], 1, "a live Buffer is untouched");
    } finally {
      release();
    }
  });
});
