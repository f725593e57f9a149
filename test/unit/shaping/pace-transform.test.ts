import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { PaceTransform } from "../../../proxy/shaping/pace-transform.ts";
import { Pacer } from "../../../proxy/shaping/pacer.ts";
import { TokenBucket } from "../../../proxy/shaping/byte-bucket.ts";
import type { ShapingState } from "../../../proxy/shaping/types.ts";
import { shaperRule } from "../../helpers/shaper-rule.ts";

const KiB = 1024;

function pacer(rate: number, burst: number): Pacer {
  const rule = shaperRule({ id: "s", uploadBytesPerSecond: rate, burstBytes: burst });
  const state: ShapingState = { rule, upload: new TokenBucket(rate, burst, performance.now()), download: undefined, shapedBytesIn: 0, shapedBytesOut: 0, exemptBytesIn: 0, exemptBytesOut: 0 };
  return new Pacer(state, state.upload!, "in");
}

describe("PaceTransform", () => {
  it("pulls from a fast source only as fast as the rate lets chunks out (one chunk held at most)", async () => {
    const chunk = Buffer.alloc(16 * KiB, 1);
    const total = 32;
    let produced = 0;
    let consumed = 0;
    let worst = 0;
    const source = new Readable({
      highWaterMark: 16 * KiB,
      read() {
        if (produced === total) return void this.push(null);
        produced++;
        this.push(chunk);
      },
    });
    const sink = new Writable({
      highWaterMark: 16 * KiB,
      write(c: Buffer, _e, cb) {
        consumed++;
        cb();
      },
    });
    const t = new PaceTransform(pacer(256 * KiB, 16 * KiB));
    const watch = setInterval(() => (worst = Math.max(worst, produced - consumed)), 5);
    const t0 = performance.now();
    await pipeline(source, t, sink);
    clearInterval(watch);
    assert.equal(consumed, total);
    // 512 KiB at 256 KiB/s after a 16 KiB burst: at least 1.9 s (lower bound only).
    assert.ok(performance.now() - t0 >= 1800, "paced to the rate");
    // Source buffer + the held chunk + the sink's: a handful of chunks, never the whole body.
    assert.ok(worst <= 5, `${worst} chunks between source and sink`);
  });

  it("clears its timer when destroyed while a chunk waits", async () => {
    const t = new PaceTransform(pacer(1024, 1));
    t.write(Buffer.alloc(64 * KiB));
    const timers = () => process.getActiveResourcesInfo().filter((x) => x === "Timeout").length;
    assert.ok(timers() >= 1, "a chunk is waiting on a timer");
    t.destroy();
    await new Promise((r) => setImmediate(r));
    assert.equal(timers(), 0, "no timer left");
  });
});
