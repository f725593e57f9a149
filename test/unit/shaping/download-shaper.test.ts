import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Dispatcher } from "undici";
import { DownloadShaper } from "../../../proxy/handlers/download-shaper.ts";
import { Pacer } from "../../../proxy/shaping/pacer.ts";
import { TokenBucket } from "../../../proxy/shaping/byte-bucket.ts";
import type { ShapingState } from "../../../proxy/shaping/types.ts";
import { shaperRule } from "../../helpers/shaper-rule.ts";

/** undici's side: records pause/resume/abort. */
class FakeUpstream implements Dispatcher.DispatchController {
  paused = false;
  aborted = false;
  reason: Error | null = null;
  readonly log: string[] = [];
  pause(): void {
    this.paused = true;
    this.log.push("pause");
  }
  resume(): void {
    this.paused = false;
    this.log.push("resume");
  }
  abort(reason: Error): void {
    this.aborted = true;
    this.reason = reason;
    this.log.push("abort");
  }
}

/** The relay's side: records what reaches it, and may pause like a full client socket. */
function relay(seen: string[], pauseOnData = false): Dispatcher.DispatchHandler {
  return {
    onRequestStart: () => {},
    onResponseStart: () => void seen.push("start"),
    onResponseData: (c: Dispatcher.DispatchController, chunk: Buffer) => {
      seen.push(`data:${chunk.length}`);
      if (pauseOnData) c.pause();
    },
    onResponseEnd: () => void seen.push("end"),
    onResponseError: (_c: Dispatcher.DispatchController, e: Error) => void seen.push(`error:${e.message}`),
  };
}

function shaper(next: Dispatcher.DispatchHandler, rate = 1000, burst = 100): { s: DownloadShaper; up: FakeUpstream } {
  const rule = shaperRule({ id: "s", downloadBytesPerSecond: rate, burstBytes: burst });
  const state: ShapingState = { rule, upload: undefined, download: new TokenBucket(rate, burst, performance.now()), shapedBytesIn: 0, shapedBytesOut: 0, exemptBytesIn: 0, exemptBytesOut: 0 };
  const s = new DownloadShaper(next, new Pacer(state, state.download!, "out"));
  const up = new FakeUpstream();
  s.onRequestStart(up, {});
  s.onResponseStart(up, 200, {});
  return { s, up };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("DownloadShaper", () => {
  it("passes chunks within the burst at once", () => {
    const seen: string[] = [];
    const { s, up } = shaper(relay(seen));
    s.onResponseData(up, Buffer.alloc(100));
    assert.deepEqual(seen, ["start", "data:100"]);
    assert.deepEqual(up.log, []);
  });

  it("holds a chunk that must wait with the upstream paused, and the end behind it", async () => {
    const seen: string[] = [];
    const { s, up } = shaper(relay(seen), 1000, 1);
    s.onResponseData(up, Buffer.alloc(1));
    s.onResponseData(up, Buffer.alloc(50));
    s.onResponseEnd(up, {});
    assert.deepEqual(seen, ["start", "data:1"], "held, and the end did not overtake it");
    assert.deepEqual(up.log, ["pause"]);
    await tick(80);
    assert.deepEqual(seen, ["start", "data:1", "data:50", "end"]);
  });

  it("does not resume an upstream the relay paused meanwhile; the relay's resume does", async () => {
    const seen: string[] = [];
    const { s, up } = shaper(relay(seen, true), 1000, 1);
    s.onResponseData(up, Buffer.alloc(1));
    up.log.length = 0;
    s.onResponseData(up, Buffer.alloc(20));
    await tick(50);
    assert.deepEqual(up.log, ["pause", "pause"], "the shaper's pause, then the relay's; no resume");
    assert.equal(up.paused, true);
    s.resume();
    assert.equal(up.paused, false);
  });

  it("on abort drops the held chunk and its timer; an error reaches the relay", async () => {
    const seen: string[] = [];
    const { s, up } = shaper(relay(seen), 1000, 1);
    s.onResponseData(up, Buffer.alloc(1));
    s.onResponseData(up, Buffer.alloc(50));
    s.abort(new Error("client gone"));
    s.onResponseError(up, new Error("aborted"));
    await tick(80);
    assert.deepEqual(seen, ["start", "data:1", "error:aborted"]);
    assert.equal(up.aborted, true);
  });
});
