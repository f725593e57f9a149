// HTTP/2 vs HTTP/1.1 to clients, through Warren. Run: node --import tsx bench/http2/run.ts [options]
//
// One `warren serve` with an HTTPS listener that has `http2` on (Warren's self-signed fallback
// certificate), a catch-all route to bench/http's origin (its own process, HTTP/1.1 keep-alive), and
// Debian's `h2load` (nghttp2-client; installed when missing and apt-get works) as the client, for both
// protocols on the same port, so the generator's own cost is the same kind of code either way. Small
// GETs (GET /1k: 1 KiB bodies), closed loop, WARMUP s discarded + DURATION s measured per row:
//   h1.1   --h1, 64 connections, one request at a time on each (what a browser pool or wrk does)
//   h2     4 connections x 16 concurrent streams (the same 64 requests in flight)
//   h2 1c  1 connection x 64 concurrent streams
// With --rounds N every row is measured N times, interleaved; each ratio is taken within a round and
// the median over rounds is reported. Generator, origin and Warren share the machine's cores.
//
// Options: --duration S (8) --warmup S (2) --rounds N (1) --path /1k|/4k|/16k|/64k (/1k) --quick (3 s + 1 s)
// Output: a table, the ratio line, and a JSON blob on stdout, also written to bench/out/http2.json.
import { fork, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { JsonApi, ROOT, WarrenProcess, cookieHeader, setupAdmin } from "../../test/helpers/warren-process.ts";

const { values: argv } = parseArgs({
  options: {
    duration: { type: "string", default: "8" },
    warmup: { type: "string", default: "2" },
    rounds: { type: "string", default: "1" },
    path: { type: "string", default: "/1k" },
    quick: { type: "boolean", default: false },
  },
});
const DURATION = argv.quick ? 3 : Number(argv.duration);
const WARMUP = argv.quick ? 1 : Number(argv.warmup);
const ROUNDS = Math.max(1, Number(argv.rounds));
const here = fileURLToPath(new URL(".", import.meta.url));

interface Row {
  readonly name: string;
  readonly args: string[];
}
const ROWS: Row[] = [
  { name: "h1.1 (64 conns)", args: ["--h1", "-c", "64", "-m", "1"] },
  { name: "h2 (4 conns x 16 streams)", args: ["-c", "4", "-m", "16"] },
  { name: "h2 (1 conn x 64 streams)", args: ["-c", "1", "-m", "64"] },
];

function ensureH2load(): boolean {
  if (spawnSync("h2load", ["--version"]).status === 0) return true;
  console.error("h2load missing: trying apt-get install -y nghttp2-client");
  spawnSync("apt-get", ["install", "-y", "nghttp2-client"], { stdio: "inherit" });
  return spawnSync("h2load", ["--version"]).status === 0;
}

/** One h2load run; req/s over the measured time, and how many requests failed. */
function h2load(url: string, row: Row): { rps: number; failed: number; protocol: string } {
  const r = spawnSync("h2load", ["-t", "1", "-D", String(DURATION), `--warm-up-time=${WARMUP}`, ...row.args, url], { encoding: "utf8", timeout: (DURATION + WARMUP + 30) * 1000 });
  const out = `${r.stdout}\n${r.stderr}`;
  const rps = /finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(out);
  const failed = /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed/.exec(out);
  const protocol = /Application protocol: (\S+)/.exec(out);
  if (!rps || !failed) throw new Error(`h2load ${row.name}: unexpected output:\n${out}`);
  return { rps: Number(rps[1]), failed: Number(failed[1]), protocol: protocol?.[1] ?? "?" };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  if (!ensureH2load()) {
    console.log("h2load: not available (Debian's nghttp2-client); nothing measured");
    return;
  }
  const origin: ChildProcess = fork(join(here, "../http/origin.ts"), ["0"], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const [{ port: originPort }] = (await once(origin, "message")) as [{ port: number }];
  let w: WarrenProcess;
  try {
    w = await WarrenProcess.start({ env: { LOG_LEVEL: "info" } });
  } catch (e) {
    origin.send({ cmd: "exit" });
    throw e;
  }
  const api = new JsonApi(w.baseUrl, w.caPem);
  try {
    const c = cookieHeader((await setupAdmin(w, api)).cookie);
    const l = await api.call("ProxyService/CreateListener", { spec: { name: "bench-h2", bindAddress: "127.0.0.1", port: 0, protocol: "LISTENER_PROTOCOL_HTTPS", enabled: true, http2: true } }, c);
    if (l.status !== 200) throw new Error(`CreateListener: ${l.text}`);
    const listenerId = String((l.json.listener as { id: string }).id);
    const r = await api.call("ProxyService/CreateRoute", { spec: { listenerId, name: "bench", action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: `http://127.0.0.1:${originPort}`, enabled: true }] } }, c);
    if (r.status !== 200) throw new Error(`CreateRoute: ${r.text}`);
    let port = 0;
    for (let i = 0; i < 100 && port === 0; i++) {
      const cfg = await api.call("ProxyService/GetProxyConfig", {}, c);
      port = (cfg.json.listeners as { id: string; status?: { boundPort?: number } }[]).find((x) => x.id === listenerId)?.status?.boundPort ?? 0;
      if (port === 0) await new Promise((res) => setTimeout(res, 100));
    }
    if (port === 0) throw new Error("the HTTPS listener did not start");
    const url = `https://127.0.0.1:${port}${argv.path}`;
    const results = new Map<string, { rps: number; failed: number; protocol: string }[]>(ROWS.map((x) => [x.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const row of ROWS) {
        const m = h2load(url, row);
        results.get(row.name)!.push(m);
        console.error(`round ${round + 1}: ${row.name}: ${m.rps.toFixed(0)} req/s (${m.protocol}, ${m.failed} failed)`);
      }
    }
    const ratio = (name: string) => median(results.get(name)!.map((m, i) => m.rps / results.get(ROWS[0]!.name)![i]!.rps));
    console.log(`\nWarren, HTTPS listener with http2, GET ${argv.path}, h2load -t1, ${WARMUP} s warm-up + ${DURATION} s, ${ROUNDS} round(s), median:`);
    console.log("| client side | protocol | req/s | failed |\n|---|---|---|---|");
    for (const row of ROWS) {
      const ms = results.get(row.name)!;
      console.log(`| ${row.name} | ${ms[0]!.protocol} | ${median(ms.map((m) => m.rps)).toFixed(0)} | ${ms.reduce((a, m) => a + m.failed, 0)} |`);
    }
    const line = `h2/h1.1 throughput, small GETs through Warren: ${ratio(ROWS[1]!.name).toFixed(2)} (4x16 streams vs 64 conns), ${ratio(ROWS[2]!.name).toFixed(2)} (1x64 streams vs 64 conns)`;
    console.log(`\n${line}`);
    const json = { path: argv.path, durationS: DURATION, warmupS: WARMUP, rounds: ROUNDS, rows: Object.fromEntries(results), ratios: { h2_4x16: ratio(ROWS[1]!.name), h2_1x64: ratio(ROWS[2]!.name) } };
    console.log(JSON.stringify(json));
    mkdirSync(join(ROOT, "bench/out"), { recursive: true });
    writeFileSync(join(ROOT, "bench/out/http2.json"), JSON.stringify(json, null, 2));
  } finally {
    await api.close();
    await w.stop();
    w.cleanup();
    origin.send({ cmd: "exit" });
  }
}

await main();
