import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { openStore } from "../../../management/store/index.ts";
import { EventWriter } from "../../../management/observe/event-writer.ts";
import type { RequestEvent } from "../../../proxy/observe/request-event.ts";

const ev = (at: number, i: number): RequestEvent => ({
  at,
  requestId: `r${i}`,
  listenerId: "l",
  routeId: "r",
  targetId: "",
  agentId: "",
  method: "GET",
  host: "h",
  path: "/",
  status: 200,
  bytesIn: 0,
  bytesOut: 1,
  durationMs: 1,
  errorKind: "",
  clientIp: "127.0.0.1",
});

describe("EventWriter", () => {
  it("batches, writes on its own thread, prunes by age and by row cap, and bounds its queue", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "warren-ev-")), "w.db");
    const store = openStore(path);
    const w = new EventWriter(path, { retentionDays: 1, maxRows: 1000, batchSize: 10_000, maxQueued: 3000, flushEveryMs: 3_600_000 }, pino({ level: "silent" }));
    try {
      const now = Date.now();
      for (let i = 0; i < 5000; i++) w.record(ev(i < 100 ? now - 2 * 86_400_000 : now, i));
      assert.equal(store.events.count(), 0, "nothing is written on the request path");
      await w.sync();
      assert.equal(store.events.count(), 3000, "the queue is bounded; the excess is dropped");
      // Events handed to the worker still count against the bound until it confirms them.
      for (let i = 0; i < 4000; i++) w.record(ev(now, 5000 + i));
      w.flush();
      for (let i = 0; i < 10; i++) w.record(ev(now, 8000 + i));
      await w.sync();
      assert.equal(store.events.count(), 6000, "3000 more were queued; the 10 sent while the worker held them were dropped");
      for (let i = 0; i < 10; i++) w.record(ev(now, 9000 + i));
      await w.sync();
      assert.equal(store.events.count(), 6010, "once the worker confirmed them, there is room again");
      assert.equal(await w.prune(now), 5010, "age first (100 old rows), then the row cap");
      assert.equal(store.events.count(), 1000);
      assert.equal(store.events.recent(1)[0]!.request_id, "r9009", "the newest rows are kept");
      w.record(ev(now, 10_000));
    } finally {
      await w.close();
    }
    assert.equal(store.events.recent(1)[0]!.request_id, "r10000", "close() writes what is still queued");
    store.close();
  });
});
