// Per-function bench: the cost of writing one request event (EventsRepo.insertBatch in batches of
// 128, as the EventWriter does). Run: node --import tsx bench/events/insert.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../management/store/index.ts";
import type { RequestEvent } from "../../proxy/index.ts";

const dir = mkdtempSync(join(tmpdir(), "warren-events-bench-"));
const store = openStore(join(dir, "warren.db"));
const names = ["hygiene", "client_identity", "reserved_paths", "route", "route_action", "select_target", "forward"];
const ev = (i: number): RequestEvent => ({
  at: Date.now(),
  requestId: `abcd-${i}`,
  listenerId: "lst_1",
  routeId: "rt_1",
  targetId: "tgt_1",
  agentId: "",
  method: "GET",
  host: "app.test",
  path: "/1k",
  status: 200,
  bytesIn: 0,
  bytesOut: 1024,
  durationMs: 1.234,
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
  timings: [0.01, 0.001, 0.0005, 0.002, 0.0004, 0.003, 1.2],
  stageNames: names,
});
const batch = Array.from({ length: 128 }, (_, i) => ev(i));
for (let round = 0; round < 5; round++) {
  const t0 = performance.now();
  for (let k = 0; k < 80; k++) store.events.insertBatch(batch);
  console.log(`round ${round}: ${(((performance.now() - t0) * 1000) / (80 * 128)).toFixed(2)} µs per event`);
}
store.close();
rmSync(dir, { recursive: true, force: true });
