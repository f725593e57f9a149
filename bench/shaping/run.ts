// Traffic shaping end to end (DESIGN.md §5 stage 6): an in-process data plane with one shaper of
// 2 MiB/s each way (128 KiB burst); origins and client in a child process (peer.ts), so this process
// is the proxy alone. Downloads 20 MiB, uploads 20 MiB and echoes 20 MiB over a WebSocket through
// it, one after the other; prints the seconds each took (expected ≈ (20 MiB − burst) / 2 MiB/s =
// 9.94 s) and this process's RSS growth over each (goal < 16 MiB: a shaped stream holds a chunk,
// not the body).
// Run: node --import tsx --expose-gc bench/shaping/run.ts [--mib 20] [--rate-kib 2048] [--burst-kib 128]
import { fork } from "node:child_process";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { Harness } from "../../test/pipeline/harness.ts";
import { shaperRule } from "../../test/helpers/shaper-rule.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";

const { values } = parseArgs({ options: { mib: { type: "string", default: "20" }, "rate-kib": { type: "string", default: "2048" }, "burst-kib": { type: "string", default: "128" } } });
const KiB = 1024;
const TOTAL = Number(values.mib) * KiB * KiB;
const RATE = Number(values["rate-kib"]) * KiB;
const BURST = Number(values["burst-kib"]) * KiB;

const child = fork(fileURLToPath(new URL("./peer.ts", import.meta.url)), { execArgv: ["--import", "tsx"] });
const urls = await new Promise<{ http: string; ws: string }>((r) => child.once("message", (m) => r(m as { http: string; ws: string })));
const direct = (url: string) => [{ kind: TargetKind.DIRECT, url, enabled: true }];
const h = await Harness.start({
  listeners: [{ routes: [{ pathPrefix: "/ws", action: RouteAction.FORWARD, targets: direct(urls.ws) }, { pathPrefix: "/", action: RouteAction.FORWARD, targets: direct(urls.http) }] }],
  shapers: [shaperRule({ id: "shp_bench", uploadBytesPerSecond: RATE, downloadBytesPerSecond: RATE, burstBytes: BURST, budget: "per_request" })],
});

interface Result {
  readonly name: string;
  readonly seconds: number;
  readonly bytes: number;
  readonly rssGrowthMiB: number;
  /** RSS over the base once the phase is over and garbage is collected (with --expose-gc). */
  readonly afterGcMiB: number;
}

/** Runs one phase, sampling RSS every 50 ms: growth is the peak over the RSS just before it. */
async function phase(name: string, run: () => Promise<number>): Promise<Result> {
  global.gc?.();
  const base = process.memoryUsage.rss();
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  const t0 = performance.now();
  const bytes = await run();
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  global.gc?.();
  return { name, seconds, bytes, rssGrowthMiB: (peak - base) / (KiB * KiB), afterGcMiB: (process.memoryUsage.rss() - base) / (KiB * KiB) };
}

/** Has the peer drive one phase through the proxy; resolves with the bytes it moved. */
function drive(cmd: "download" | "upload" | "websocket"): () => Promise<number> {
  return () =>
    new Promise<number>((resolve) => {
      child.once("message", (m) => resolve((m as { bytes: number }).bytes));
      child.send({ cmd, proxy: h.url(), bytes: TOTAL });
    });
}

// Warm-up, not reported: the first requests compile the hot paths and open the pools.
for (const cmd of ["download", "upload", "websocket"] as const) {
  await new Promise<void>((resolve) => {
    child.once("message", () => resolve());
    child.send({ cmd, proxy: h.url(), bytes: KiB * KiB });
  });
}

const results: Result[] = [];
results.push(await phase("download", drive("download")));
results.push(await phase("upload", drive("upload")));
results.push(await phase("websocket echo", drive("websocket")));

// --rate-kib 0: the same phases unshaped, for comparison.
const expected = RATE > 0 ? (TOTAL - BURST) / RATE : 0;
console.log(RATE > 0 ? `shaping bench: ${TOTAL / KiB / KiB} MiB at ${RATE / KiB} KiB/s, burst ${BURST / KiB} KiB (expected ≈ ${expected.toFixed(2)} s)` : `shaping bench: ${TOTAL / KiB / KiB} MiB unshaped`);
console.log("phase            seconds   MiB      peak RSS growth MiB   after GC MiB");
for (const r of results) console.log(`${r.name.padEnd(16)} ${r.seconds.toFixed(2).padStart(7)}   ${(r.bytes / KiB / KiB).toFixed(2).padStart(6)}   ${r.rssGrowthMiB.toFixed(1).padStart(19)}   ${r.afterGcMiB.toFixed(1).padStart(12)}`);
console.log(JSON.stringify({ totalBytes: TOTAL, rate: RATE, burst: BURST, expectedSeconds: expected, results }));

await h.close();
child.disconnect();
