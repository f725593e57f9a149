import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { openStore } from "../../../management/store/index.ts";
import { EventWriter } from "../../../management/observe/event-writer.ts";
import type { RequestEvent } from "../../../proxy/index.ts";

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
  answeredBy: "forward",
  upgrade: false,
  ruleId: "",
  ruleAction: "",
  rateLimitRuleIds: "",
  limited: false,
  shaperRuleId: "",
  shapedBytesIn: 0,
  shapedBytesOut: 0,
  cacheStatus: "",
  timings: [0.01, 0.0020004],
  stageNames: ["hygiene", "route"],
});

describe("EventWriter", () => {
  it("batches to its writer thread, prunes by age and by row cap, and bounds its queue", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "warren-ev-")), "w.db");
    const store = openStore(path);
    const w = new EventWriter(path, { retentionDays: 1, maxRows: 1000, batchSize: 10_000, maxQueued: 3000, flushEveryMs: 3_600_000 }, pino({ level: "silent" }));
    const now = Date.now();
    for (let i = 0; i < 5000; i++) w.record(ev(i < 100 ? now - 2 * 86_400_000 : now, i));
    assert.equal(store.events.count(), 0, "nothing is written on the request path");
    await w.flush();
    assert.equal(store.events.count(), 3000, "the queue is bounded; the excess is dropped");
    assert.equal(await w.prune(now), 2000);
    assert.equal(store.events.count(), 1000, "age first (100 old rows), then the row cap");
    const newest = store.events.recent(1)[0]!;
    assert.equal(newest.request_id, "r2999", "the newest rows are kept");
    assert.equal(newest.answered_by, "forward");
    assert.equal(newest.upgrade, 0);
    assert.deepEqual(JSON.parse(newest.stage_timings), { hygiene: 0.01, route: 0.002 });
    for (let i = 0; i < 10; i++) w.record(ev(now, 5000 + i));
    await w.close();
    assert.equal(store.events.count(), 1010, "what was still queued is written on close");
    store.close();
  });
});
