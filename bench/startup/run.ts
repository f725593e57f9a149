// Start-up bench: how long `warren serve` takes from spawn to an answered /healthz over HTTPS, on a
// fresh CONFIG_DIR (CA, server certificate and database created) and again on the same one.
// Goal (issue 2): within 5 s. Run: node --import tsx bench/startup/run.ts [--runs N]
import { parseArgs } from "node:util";
import { rmSync } from "node:fs";
import { JsonApi, WarrenProcess } from "../../test/helpers/warren-process.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(values.runs);
const GOAL_MS = 5_000;

async function once(configDir?: string): Promise<{ ms: number; configDir: string }> {
  const t0 = performance.now();
  const w = await WarrenProcess.start(configDir ? { configDir } : {});
  const api = new JsonApi(w.baseUrl, w.caPem);
  const r = await api.raw("/healthz", { method: "GET" });
  const ms = performance.now() - t0;
  if (r.status !== 200) throw new Error(`/healthz answered ${r.status}`);
  await w.stop();
  return { ms, configDir: w.configDir };
}

const fresh: number[] = [];
const again: number[] = [];
for (let i = 0; i < runs; i++) {
  const a = await once();
  fresh.push(a.ms);
  again.push((await once(a.configDir)).ms);
  rmSync(a.configDir, { recursive: true, force: true });
}
const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)]!;
for (const [name, v] of [
  ["fresh CONFIG_DIR", fresh],
  ["existing CONFIG_DIR", again],
] as const) {
  const m = median(v);
  console.log(`${name}: median ${m.toFixed(0)} ms, max ${Math.max(...v).toFixed(0)} ms over ${v.length} runs — goal ${GOAL_MS} ms ${Math.max(...v) < GOAL_MS ? "met" : "MISSED"}`);
}
