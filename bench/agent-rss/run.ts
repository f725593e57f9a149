// Idle memory of an agent: the self-contained agent (dist/agent-bundle/warren-agent.cjs, what the
// install snippet runs on a host with only Node) against `warren agent` from the full package and a
// bare Node process (the floor), each connected to one `warren serve` and idle. Goal (issue 8): the
// snippet's agent at most 50 MB RSS when idle. Also prints what the bundle is made of.
// Two windows per process: the first --idle-seconds after it came online ("just online": start-up's
// garbage and V8's grown young generation still there), and the same length after --settle-seconds
// more ("idle": V8's memory reducer has given back what start-up used, as on a host where the agent
// waits for hours). The goal is on the second. Then the snippet's agent relays --requests requests
// (--concurrency at a time, --sizes KiB answers from a local origin, through `warren serve`'s
// public listener) and is measured idle again after --settle-seconds: what an agent that has served
// traffic and gone quiet keeps (glibc's heap and V8's optimized code; see the README). It also
// prints the agent's CPU time per relayed request (what a flag such as --max-opt=1 costs).
// The baseline for that after-traffic window, measured in the same run: a bare Node TLS relay (a
// dozen lines: tls.createServer piping each connection to the origin with net.connect) that relays
// the same requests to the same origin and is measured the same way. It is the least any Node
// process that moved these bytes through TLS keeps; --node-flags and --agent-env apply to it too.
// Run: node --import tsx bench/agent-rss/run.ts [--idle-seconds 10] [--settle-seconds 30] [--requests 2000]
//        [--concurrency 8] [--sizes 1,4,16,64,256] (answer sizes in KiB, taken in turn)
import { parseArgs } from "node:util";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { JsonApi, ROOT, WarrenProcess, cookieHeader, publicListener, setupAdmin } from "../../test/helpers/warren-process.ts";
import { createAgent, freePort, startAgent } from "../../test/helpers/agent-process.ts";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { pollUntil } from "../../test/helpers/wait.ts";
import { cpuTicks } from "../../test/helpers/raw-agent.ts";

const { values } = parseArgs({ options: { "idle-seconds": { type: "string", default: "10" }, "settle-seconds": { type: "string", default: "30" }, "node-options": { type: "string", default: "" }, "node-flags": { type: "string", default: "" }, "agent-env": { type: "string", multiple: true, default: [] }, requests: { type: "string", default: "2000" }, concurrency: { type: "string", default: "8" }, sizes: { type: "string", default: "1,4,16,64,256" } } });
const idleMs = Number(values["idle-seconds"]) * 1000;
const settleMs = Number(values["settle-seconds"]) * 1000;
const GOAL_MB = 50;
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);

// The origin the agent relays to: answers GET /<n>k with n KiB.
const SIZES = values.sizes.split(",").map(Number);
const origin = http.createServer((req, res) => {
  const kib = Number(/^\/(\d+)k$/.exec(req.url ?? "")?.[1] ?? 0);
  res.writeHead(kib ? 200 : 404, { "content-length": kib * 1024 });
  res.end(Buffer.alloc(kib * 1024, 0x61));
});
await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
const originPort = (origin.address() as AddressInfo).port;

/**
 * `requests` GETs, `concurrency` at a time: to host rss.bench on Warren's public listener, or over TLS
 * to the bare relay (`ca` given). Every one must be a 200 with its whole body.
 */
async function relay(port: number, ca?: string): Promise<void> {
  const agent = ca ? new https.Agent({ keepAlive: true, maxSockets: concurrency, ca, servername: "localhost" }) : new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const get = ca ? https.get : http.get;
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const kib = SIZES[i % SIZES.length]!;
      get({ host: "127.0.0.1", port, path: `/${kib}k`, headers: { host: "rss.bench" }, agent }, (res) => {
          let n = 0;
          res.on("data", (b: Buffer) => (n += b.length));
          res.on("end", () => (res.statusCode === 200 && n === kib * 1024 ? resolve() : reject(new Error(`request ${i}: ${res.statusCode}, ${n} bytes`))));
        })
        .on("error", reject);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) await one(next++);
    }),
  );
  agent.destroy();
}

interface Mem {
  /** Resident set: what `ps`/`top` show, the issue's measure. */
  rss: number;
  /** Pages only this process has (anonymous heap, stacks): what another agent would add. */
  private: number;
  /** Pages of the node executable itself, shared with every Node process on the host. */
  nodeBinary: number;
}

function memMb(pid: number): Mem {
  let rss = 0;
  let priv = 0;
  let bin = 0;
  let inBinary = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inBinary = line.endsWith(process.execPath);
    else if (line.startsWith("Rss:")) {
      const kb = Number(line.split(/\s+/)[1]);
      rss += kb;
      if (inBinary) bin += kb;
    } else if (line.startsWith("Private_Dirty:") || line.startsWith("Private_Clean:")) priv += Number(line.split(/\s+/)[1]);
  }
  return { rss: rss / 1024, private: priv / 1024, nodeBinary: bin / 1024 };
}

/** Highest RSS seen over idleMs (sampled every second), with its breakdown. */
async function maxRss(pid: number): Promise<Mem> {
  let max: Mem = { rss: 0, private: 0, nodeBinary: 0 };
  for (let t = 0; t < idleMs; t += 1000) {
    const m = memMb(pid);
    if (m.rss > max.rss) max = m;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return max;
}

/** Both windows: right after the process came online, then after settleMs more. */
async function idleRss(pid: number): Promise<Windows> {
  const justOnline = await maxRss(pid);
  await new Promise((r) => setTimeout(r, settleMs));
  return { justOnline, idle: await maxRss(pid) };
}

interface Windows {
  justOnline: Mem;
  idle: Mem;
}

interface AfterTraffic {
  /** How long the requests took and what CPU the relaying process spent on them. */
  relayed: string;
  /** Idle again, settleMs after the last request. */
  idle: Mem;
  /** Peak RSS while relaying (VmHWM). */
  peak: number;
}

/** Sends the requests through the process `pid` relays with, waits settleMs, measures it idle again. */
async function afterTraffic(pid: number, port: number, ca?: string): Promise<AfterTraffic> {
  const started = performance.now();
  const ticksBefore = cpuTicks(pid);
  await relay(port, ca);
  const cpu = (cpuTicks(pid) - ticksBefore) * 10; // ms: Linux counts 100 ticks a second
  const relayed = `${((performance.now() - started) / 1000).toFixed(1)} s, CPU ${cpu.toFixed(0)} ms (${((cpu * 1000) / requests).toFixed(0)} µs a request)`;
  await new Promise((r) => setTimeout(r, settleMs));
  const idle = await maxRss(pid);
  const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  return { relayed, idle, peak };
}

/** The baseline: Node's own TLS server piping each connection to the origin, nothing else. */
const BARE_RELAY = `
const tls = require("node:tls"), net = require("node:net");
const server = tls.createServer({ key: process.env.RELAY_KEY, cert: process.env.RELAY_CERT }, (s) => {
  const o = net.connect(Number(process.env.ORIGIN_PORT), "127.0.0.1");
  o.setNoDelay(true);
  s.on("error", () => o.destroy());
  o.on("error", () => s.destroy());
  s.pipe(o).pipe(s);
});
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
`;

/** A throwaway self-signed certificate for the bare relay. */
function selfSigned(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "warren-agent-rss-tls-"));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1", "-subj", "/CN=localhost"], { stdio: "ignore" });
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const nodeFlags = values["node-flags"].split(" ").filter(Boolean);
const agentEnv = Object.fromEntries(values["agent-env"].map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
const port = await freePort();
const w = await WarrenProcess.start({ env: { MANAGEMENT_PORT: String(port), MANAGEMENT_PUBLIC_URL: `https://localhost:${port}` } });
const api = new JsonApi(w.baseUrl, w.caPem);
const { cookie } = await setupAdmin(w, api);
const c = cookieHeader(cookie);
const online = (id: string) => pollUntil(`agent ${id} online`, () => api.call("AgentService/GetAgent", { id }, c), (r) => (r.json.agent as { status?: { online?: boolean } }).status?.online === true);
const rows: [string, Windows][] = [];
const dirs: string[] = [];
let agentAfter: AfterTraffic | undefined;
let bareAfter: AfterTraffic | undefined;
try {
  // 1. The install snippet's command line, run by sh in an empty folder.
  const created = await api.call("AgentService/CreateAgent", { name: "snippet", labels: { bench: "rss" } }, c);
  const { agent, install } = created.json as { agent: { id: string }; install: { commandLine: string } };
  const dir = mkdtempSync(join(tmpdir(), "warren-agent-rss-"));
  dirs.push(dir);
  const sh = spawn("sh", ["-c", `${install.commandLine.replace(/ node warren-agent\.cjs$/, ` exec node ${nodeFlags.join(" ")} warren-agent.cjs`)}`], { cwd: dir, stdio: "ignore", env: { PATH: process.env.PATH ?? "", NODE_OPTIONS: values["node-options"], ...agentEnv } });
  await online(agent.id);
  // sh execs node for the last command, so the agent is sh's own pid.
  rows.push(["self-contained agent (install snippet)", await idleRss(sh.pid!)]);
  // The same agent after it has relayed traffic, idle again.
  const listener = await publicListener(api, c);
  const route = await api.call("ProxyService/CreateRoute", { spec: { listenerId: listener.id, name: "rss", hosts: ["rss.bench"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_AGENT", url: `http://127.0.0.1:${originPort}`, agentSelector: { bench: "rss" } }] } }, c);
  if (route.status !== 200) throw new Error(`CreateRoute: ${route.text}`);
  agentAfter = await afterTraffic(sh.pid!, listener.port);
  sh.kill("SIGTERM");
  await once(sh, "exit");

  // 2. `warren agent` from the package (compiled dist/).
  const full = await createAgent(api, c, { name: "package" });
  const p = startAgent(w, full);
  await online(full.id);
  rows.push(["warren agent (full package)", await idleRss(p.child.pid!)]);
  await p.stop();

  // 3. Node itself, idle.
  const bare = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  rows.push(["bare node (floor)", await idleRss(bare.pid!)]);
  bare.kill();

  // 4. The bare TLS relay: idle, then after the same requests.
  const { key, cert } = selfSigned();
  const relayProc = spawn(process.execPath, [...nodeFlags, "-e", BARE_RELAY], { stdio: ["ignore", "pipe", "inherit"], env: { PATH: process.env.PATH ?? "", NODE_OPTIONS: values["node-options"], ...agentEnv, RELAY_KEY: key, RELAY_CERT: cert, ORIGIN_PORT: String(originPort) } });
  const [line] = (await once(relayProc.stdout!, "data")) as [Buffer];
  rows.push(["bare node TLS relay", await idleRss(relayProc.pid!)]);
  bareAfter = await afterTraffic(relayProc.pid!, Number(String(line).trim()), cert);
  relayProc.kill();
} finally {
  await w.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  origin.close();
}

console.log(`| process | just online: RSS MB (max over ${idleMs / 1000} s) | idle: RSS MB (max over ${idleMs / 1000} s, ${settleMs / 1000} s later) | idle: private | idle: node binary (shared) |\n|---|---|---|---|---|`);
for (const [name, w] of rows) console.log(`| ${name} | ${w.justOnline.rss.toFixed(1)} | ${w.idle.rss.toFixed(1)} | ${w.idle.private.toFixed(1)} | ${w.idle.nodeBinary.toFixed(1)} |`);
const snippet = rows[0]![1].idle.rss;
const floor = rows[2]![1].idle;
console.log(`\nsnippet agent idle: ${snippet.toFixed(1)} MB RSS — goal ≤ ${GOAL_MB} MB ${snippet <= GOAL_MB ? "met" : "MISSED"}; ${(snippet - floor.rss).toFixed(1)} MB above an idle node (just online: ${rows[0]![1].justOnline.rss.toFixed(1)} MB)`);
const traffic = `${requests} requests, ${concurrency} at a time, ${SIZES.join("/")} KiB answers`;
console.log(`\nafter relaying ${traffic}, idle again ${settleMs / 1000} s later:`);
console.log(`| process | idle: RSS MB | idle: private | idle: node binary | peak while relaying | relaying took |\n|---|---|---|---|---|---|`);
for (const [name, a] of [["self-contained agent (install snippet)", agentAfter!], ["bare node TLS relay (baseline)", bareAfter!]] as const) {
  console.log(`| ${name} | ${a.idle.rss.toFixed(1)} | ${a.idle.private.toFixed(1)} | ${a.idle.nodeBinary.toFixed(1)} | ${a.peak.toFixed(1)} | ${a.relayed} |`);
}
console.log(`agent / bare relay after traffic: ${(agentAfter!.idle.rss / bareAfter!.idle.rss).toFixed(2)}× (${(agentAfter!.idle.rss - bareAfter!.idle.rss).toFixed(1)} MB more)`);

// What the bundle holds, by package (esbuild's metafile of the same build).
const { build } = await import("esbuild");
const meta = await build({ absWorkingDir: ROOT, entryPoints: ["cli/agent-bundle.ts"], bundle: true, platform: "node", format: "cjs", minify: true, write: false, metafile: true, define: { __WARREN_BUNDLED_VERSION__: '"bench"' }, logLevel: "silent" });
const byPkg = new Map<string, number>();
for (const [file, info] of Object.entries(Object.values(meta.metafile.outputs)[0]!.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  const key = m ? m[1]! : `warren ${file.split("/")[0]}/`;
  byPkg.set(key, (byPkg.get(key) ?? 0) + info.bytesInOutput);
}
console.log("\nbundle contents (minified bytes):");
for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(28)} ${(v / 1024).toFixed(0)} KiB`);
