// HTTP proxy bench (issue 4, acceptance 9). Run: node --import tsx bench/http/run.ts [options]
//
// In one run, at 64 connections, with 1 KiB and 64 KiB response bodies, closed-loop:
//   origin alone     a node:http origin in its own process (bench/http/origin.ts)
//   nginx            `proxy_pass` to that origin, worker_processes 1, upstream keep-alive
//                    (Debian's nginx; "nginx: not available" and the row is skipped when missing);
//                    the reference row
//   bare node proxy  node:http + one undici Pool, dispatch() straight into the response
//                    (bench/http/bare-proxy.ts): the ceiling of any Node proxy here
//   bare node proxy via tunnel  the same, its pool connecting through Warren's Yamux over TLS to
//                    bench/http/bare-agent.ts (agent/stream-relay.ts): the ceiling of the via-agent path
//   warren direct    one `warren serve` process, a route with a direct target
//   warren via agent the same server, a route with an agent target, a real `warren agent` process
//   warren + 10 WAF rules  "warren direct" with ten WAF rules that do not match (bench/http/waf-rules.ts)
//   warren + 5 rate limits (memory)  "warren direct" with five rate-limit rules that all match and
//                    count (bench/http/rate-limit-rules.ts), in the gateway's memory
//   warren cached (100 % hits)  "warren direct" with a cache rule (bench/http/cache-rule.ts) added
//                    for the row: every request is answered from the memory tier. Before the row the
//                    entry is stored and one request must say `Cache-Status: Warren; hit`; after it
//                    the cache's hit count (GetCacheUsage) must have grown by the requests made and
//                    its miss count not at all, or the bench fails.
//   warren + 5 rate limits (redis)   the same rules in a second `warren serve` whose RATE_LIMIT_STORE
//                    is a redis-server this bench starts on loopback ("redis-server: not available"
//                    and the row is skipped when missing); also open-loop beside warren direct at
//                    half its rate, for the p50 / p99 that five Redis round trips add to a request
//                    After each rate-limit row the bench checks that the rules counted (the checked
//                    rule's RateLimit `r`, the rule ids on the request events, Redis healthy with no
//                    memory-fallback decisions and keys in Redis) and fails otherwise.
// then open-loop at 50% of Warren direct's measured req/s: origin alone vs Warren direct, for the
// p99 Warren adds. Plus peak RSS (VmHWM) of Warren, the agent, nginx's worker, the bare proxy and the origin.
// With --rounds N every closed-loop row is measured N times, interleaved (round 1 of every case, then
// round 2, ...); each ratio is taken within a round and the median over rounds is reported.
//
// Load: `wrk` (Debian) for the closed-loop rows when installed, else bench/http/load.ts (undici) in a
// child process; the fixed-rate rows always use load.ts --rate (Debian's wrk has no -R). Every
// measurement is WARMUP s discarded + DURATION s measured, each generator in its own process.
//
// When a goal is missed (or with --profile), Warren (and, for the agent goal, the agent) are run
// once more under load with --cpu-prof into bench/out/prof/ and the profiles are summarised.
//
// Options: --duration S (8) --warmup S (2) --connections N (64) --gen wrk|node --quick (3 s + 1 s)
//          --rounds N (1) --cases a,b (only the closed-loop rows whose name contains one of these,
//          case-insensitive; the fixed-rate rows run when their rows do) --profile (always profile) --no-profile (never) --profile-only (just the
//          profile passes) --stand (start everything, print the URLs and pids, wait for Ctrl-C: for
//          strace / perf by hand) --warren-flags=… / --agent-flags=… / --bare-flags=… (node flags for
//          warren serve, warren agent, and the bare proxies + bare agent; the bare ones default to
//          --heap-growing-percent=400, what the warren bin sets for itself)
// Output: a table and a JSON blob on stdout, also written to bench/out/http.json.
import { NODE_FLAGS } from "../../cli/node-flags.ts";
import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { BIN, JsonApi, ROOT, WarrenProcess, cookieHeader, setupAdmin, type LogLine } from "../../test/helpers/warren-process.ts";
import { createAgent, freePort, startAgent, type AgentHandle } from "../../test/helpers/agent-process.ts";
import type { LoadResult } from "./load.ts";
import { formatSummary, summarize, type ProfileSummary } from "./profile-summary.ts";
import { BENCH_WAF_RULES } from "./waf-rules.ts";
import { BENCH_RATE_LIMIT_RULES, CHECKED_RATE_LIMIT, CHECKED_RATE_LIMIT_RULE } from "./rate-limit-rules.ts";
import { BENCH_CACHE_RULE } from "./cache-rule.ts";
import { RedisServer, redisMissing } from "../../test/helpers/redis-server.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "../..");
const outDir = join(root, "bench", "out");

const { values: argv } = parseArgs({
  options: {
    duration: { type: "string" },
    warmup: { type: "string" },
    connections: { type: "string", default: "64" },
    gen: { type: "string" },
    profile: { type: "boolean", default: false },
    "no-profile": { type: "boolean", default: false },
    "profile-only": { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    rounds: { type: "string", default: "1" },
    cases: { type: "string" },
    stand: { type: "boolean", default: false },
    "warren-flags": { type: "string" },
    "agent-flags": { type: "string" },
    // The bare rows are the ceiling of any Node proxy: they get the GC setting the warren bin sets
    // for itself (cli/bin.mjs), or they would measure a different V8 instead of less proxy work.
    "bare-flags": { type: "string", default: "--heap-growing-percent=400" },
  },
});
const DURATION = Number(argv.duration ?? (argv.quick ? 3 : 8));
const WARMUP = Number(argv.warmup ?? (argv.quick ? 1 : 2));
const CONNS = Number(argv.connections);
const ROUNDS = Math.max(1, Number(argv.rounds));
const SIZES = [
  { path: "/1k", label: "1 KiB", bytes: 1024 },
  { path: "/64k", label: "64 KiB", bytes: 64 * 1024 },
] as const;
/** Ratios of req/s with their goals, each measured within one round; plus the p99 Warren adds at half its rate. */
const RATIO_GOALS = [
  { id: "directVsBare", body: "1 KiB", num: "warren direct", den: "bare node proxy", min: 0.75 },
  { id: "agentVsDirect", body: "64 KiB", num: "warren via agent", den: "warren direct", min: 0.7 },
  { id: "wafVsDirect", body: "1 KiB", num: "warren + 10 WAF rules", den: "warren direct", min: 0.9 },
  { id: "rateLimitsVsDirect", body: "1 KiB", num: "warren + 5 rate limits (memory)", den: "warren direct", min: 0.9 },
  { id: "cachedVsDirect", body: "1 KiB", num: "warren cached (100 % hits)", den: "warren direct", min: 1.5 },
] as const;
const RL_MEMORY = "warren + 5 rate limits (memory)";
const RL_REDIS = "warren + 5 rate limits (redis)";
const CACHED = "warren cached (100 % hits)";
/** --cases: which closed-loop rows to measure. */
const CASES = argv.cases ? argv.cases.split(",").map((x) => x.trim().toLowerCase()).filter(Boolean) : undefined;
const selected = (c: string) => CASES === undefined || CASES.some((x) => c.toLowerCase().includes(x));
const GOALS = { addedP99Ms: 2 };
/** Printed for every body size, without a goal. */
const INFO_RATIOS = [
  { id: "directVsBare", num: "warren direct", den: "bare node proxy" },
  { id: "agentVsDirect", num: "warren via agent", den: "warren direct" },
  { id: "directVsNginx", num: "warren direct", den: "nginx proxy_pass" },
  { id: "bareVsNginx", num: "bare node proxy", den: "nginx proxy_pass" },
  { id: "bareTunnelVsBare", num: "bare proxy via tunnel", den: "bare node proxy" },
  { id: "agentVsBareTunnel", num: "warren via agent", den: "bare proxy via tunnel" },
  { id: "directVsOrigin", num: "warren direct", den: "origin alone" },
  { id: "wafVsDirect", num: "warren + 10 WAF rules", den: "warren direct" },
  { id: "rateLimitsVsDirect", num: RL_MEMORY, den: "warren direct" },
  { id: "redisRateLimitsVsDirect", num: RL_REDIS, den: "warren direct" },
  { id: "cachedVsDirect", num: CACHED, den: "warren direct" },
] as const;


const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`;
const note = (msg: string) => process.stderr.write(`[bench ${elapsed()}] ${msg}\n`);

function maxRssKiB(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((_, reject) => {
    t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** All-CPU jiffies from /proc/stat: idle (+iowait), steal (time the hypervisor gave to others) and total. */
function cpuTimes(): { idle: number; steal: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3]! + (f[4] ?? 0), steal: f[7] ?? 0, total: f.slice(0, 8).reduce((a, b) => a + b, 0) };
}

/** Runs `fn` and says how idle the machine was meanwhile and how much CPU the hypervisor stole. */
async function withCpu<T>(fn: () => Promise<T>): Promise<{ value: T; idlePct: number; stealPct: number }> {
  const a = cpuTimes();
  const value = await fn();
  const b = cpuTimes();
  const total = Math.max(1, b.total - a.total);
  return { value, idlePct: (100 * (b.idle - a.idle)) / total, stealPct: (100 * (b.steal - a.steal)) / total };
}

/** % of CPU time idle over `ms`: other load on the machine skews every row. */
async function idlePct(ms: number): Promise<number> {
  return (await withCpu(() => new Promise((r) => setTimeout(r, ms)))).idlePct;
}

// ---------------------------------------------------------------- origin

interface OriginProc {
  child: ChildProcess;
  port: number;
  /** bare-proxy.ts --tunnel: where bare-agent.ts connects. */
  tunnelPort?: number;
  url: string;
  stop(): Promise<void>;
}

/** Forks one of bench/http's servers (origin.ts, bare-proxy.ts), which reports {port} over IPC. */
async function forkServer(file: string, args: string[], nodeFlags: string[] = []): Promise<OriginProc> {
  const child = fork(join(here, file), args, { execArgv: ["--import", "tsx", ...nodeFlags], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const [msg] = (await withTimeout(once(child, "message"), 15_000, `${file} start`)) as [{ port: number; tunnelPort?: number }];
  return {
    child,
    port: msg.port,
    tunnelPort: msg.tunnelPort,
    url: `http://127.0.0.1:${msg.port}`,
    async stop() {
      if (child.exitCode !== null) return;
      child.send({ cmd: "exit" });
      await once(child, "exit");
    },
  };
}

const startOriginProcess = () => forkServer("origin.ts", ["0"]);
const nodeFlags = (s: string | undefined) => (s ? s.split(/\s+/).filter(Boolean) : undefined);
const startBareProxy = (originUrl: string, viaTunnel = false) =>
  forkServer("bare-proxy.ts", viaTunnel ? [originUrl, "--tunnel"] : [originUrl], nodeFlags(argv["bare-flags"]));
const startBareAgent = (tunnelPort: number) => forkServer("bare-agent.ts", [String(tunnelPort)], nodeFlags(argv["bare-flags"]));

// ---------------------------------------------------------------- nginx

interface NginxProc {
  child: ChildProcess;
  port: number;
  dir: string;
  workerPid(): number | undefined;
  stop(): Promise<void>;
}

function ensureInstalled(cmd: string, pkg: string): boolean {
  if (has(cmd)) return true;
  if (process.getuid?.() !== 0) return false;
  note(`${cmd} missing: apt-get install -y ${pkg}`);
  let r = spawnSync("apt-get", ["install", "-y", "-q", pkg], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (r.status !== 0) {
    spawnSync("apt-get", ["update", "-q"], { stdio: "ignore" });
    r = spawnSync("apt-get", ["install", "-y", "-q", pkg], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  }
  return r.status === 0 && has(cmd);
}

async function waitHttp(url: string, host: string | undefined, expectBytes: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const r = await request(url, { headers: host ? { host } : {} });
      const body = Buffer.from(await r.body.arrayBuffer());
      if (r.statusCode === 200 && body.length === expectBytes) return;
      last = `${r.statusCode} ${body.length} bytes ${body.subarray(0, 200).toString()}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} (host ${host ?? "-"}) not ready: ${last}`);
}

async function startNginx(originPort: number): Promise<NginxProc | null> {
  if (!ensureInstalled("nginx", "nginx")) return null;
  const dir = mkdtempSync(join(tmpdir(), "warren-bench-nginx-"));
  const port = await freePort();
  const user = process.getuid?.() === 0 ? "user root;\n" : "";
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `${user}worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy_temp;
  fastcgi_temp_path ${dir}/fastcgi_temp;
  uwsgi_temp_path ${dir}/uwsgi_temp;
  scgi_temp_path ${dir}/scgi_temp;
  keepalive_requests 1000000;
  upstream origin {
    server 127.0.0.1:${originPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const child = spawn("nginx", ["-p", `${dir}/`, "-c", conf, "-e", `${dir}/error.log`], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  try {
    await Promise.race([
      waitHttp(`http://127.0.0.1:${port}/1k`, undefined, 1024, 10_000),
      once(child, "exit").then(() => {
        throw new Error(`nginx exited: ${err}`);
      }),
    ]);
  } catch (e) {
    note(`nginx failed to start: ${(e as Error).message}`);
    if (child.exitCode === null) child.kill("SIGKILL");
    return null;
  }
  return {
    child,
    port,
    dir,
    workerPid() {
      for (const d of readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) continue;
        try {
          const stat = readFileSync(`/proc/${d}/stat`, "utf8");
          const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
          if (ppid === child.pid) return Number(d);
        } catch {
          // raced with an exiting process
        }
      }
      return undefined;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- warren

interface Around {
  before(): Promise<void>;
  after(): Promise<void>;
}

interface WarrenBench {
  w: WarrenProcess;
  agent: WarrenProcess | null;
  api: JsonApi;
  port: number;
  /** Adds `rules` before, removes them after. */
  wafRules(rules: readonly Record<string, unknown>[]): Around;
  /** The same for rate-limit rules; ids() are those of the rules added by the last before(). */
  rateLimitRules(rules: readonly Record<string, unknown>[]): Around & { ids(): string[] };
  /** The same for cache rules; after() also purges the whole cache. */
  cacheRules(rules: readonly Record<string, unknown>[]): Around & { ids(): string[] };
  /** A management API call as the admin; throws unless it answers 200. */
  call(procedure: string, body: unknown): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

const isMsg = (msg: string, extra: (l: LogLine) => boolean = () => true) => (l: LogLine) => l.msg === msg && extra(l);

// Node 20 refuses --cpu-prof in NODE_OPTIONS, so profiled processes get it as a node flag. The
// helpers spawn `node cli/bin.mjs …` without flags, so for those we spawn the child here and hand it
// to WarrenProcess (whose constructor is private only to TypeScript) for the same log handling.
type WarrenCtor = new (child: ChildProcess, configDir: string) => WarrenProcess;

function spawnWarrenWithFlags(nodeFlags: string[], args: string[], env: Record<string, string>, configDir: string): WarrenProcess {
  const child = spawn(process.execPath, [...NODE_FLAGS, ...nodeFlags, BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new (WarrenProcess as unknown as WarrenCtor)(child, configDir);
}

/** `warren serve` as WarrenProcess.start() runs it, plus node flags. */
async function startServerWithFlags(nodeFlags: string[], env: Record<string, string>): Promise<WarrenProcess> {
  const configDir = mkdtempSync(join(tmpdir(), "warren-bench-"));
  const w = spawnWarrenWithFlags(nodeFlags, ["serve"], { CONFIG_DIR: configDir, MANAGEMENT_PORT: "0", MANAGEMENT_BIND_ADDRESS: "127.0.0.1", PUBLIC_HTTP_PORT: "0", ...env }, configDir);
  await w.ready();
  return w;
}

/** `warren agent` as startAgent() runs it, plus node flags. */
function startAgentWithFlags(nodeFlags: string[], server: WarrenProcess, agent: AgentHandle, env: Record<string, string>): WarrenProcess {
  const dir = mkdtempSync(join(tmpdir(), "warren-agent-"));
  const caFile = join(dir, "management-ca.pem");
  writeFileSync(caFile, server.caPem);
  const a = { MANAGEMENT_URL: server.baseUrl.replace("127.0.0.1", "localhost"), AGENT_ID: agent.id, AGENT_TOKEN: agent.token, MANAGEMENT_CA_FILE: caFile, AGENT_STATE_DIR: dir };
  return spawnWarrenWithFlags(nodeFlags, ["agent"], { ...a, ...env }, dir);
}

async function startWarrenBench(
  originUrl: string,
  opts: { withAgent: boolean; serverNodeFlags?: string[]; agentNodeFlags?: string[]; env?: Record<string, string> },
): Promise<WarrenBench> {
  const env: Record<string, string> = { LOG_LEVEL: "info", ...opts.env };
  const w = await withTimeout(opts.serverNodeFlags ? startServerWithFlags(opts.serverNodeFlags, env) : WarrenProcess.start({ env }), 60_000, "warren serve start");
  const api = new JsonApi(w.baseUrl, w.caPem);
  const c = cookieHeader((await setupAdmin(w, api)).cookie);
  const cfg = await api.call("ProxyService/GetProxyConfig", {}, c);
  const l = (cfg.json.listeners as { id: string; status: { boundPort: number } }[])[0]!;
  const route = async (name: string, host: string, target: Record<string, unknown>) => {
    const r = await api.call("ProxyService/CreateRoute", { spec: { listenerId: l.id, name, hosts: [host], action: "ROUTE_ACTION_FORWARD", targets: [{ ...target, enabled: true }] } }, c);
    if (r.status !== 200) throw new Error(`CreateRoute ${name}: ${r.text}`);
  };
  await route("bench-direct", "direct.bench", { kind: "TARGET_KIND_DIRECT", url: originUrl });
  let agent: WarrenProcess | null = null;
  if (opts.withAgent) {
    await route("bench-agent", "agent.bench", { kind: "TARGET_KIND_AGENT", url: originUrl, agentSelector: { bench: "http" } });
    const handle = await createAgent(api, c, { name: "bench-agent", labels: { bench: "http" } });
    const agentEnv: Record<string, string> = { LOG_LEVEL: "info" };
    agent = opts.agentNodeFlags ? startAgentWithFlags(opts.agentNodeFlags, w, handle, agentEnv) : startAgent(w, handle, agentEnv);
    await withTimeout(w.waitForLog(isMsg("agent online", (x) => x.agentId === handle.id)), 30_000, "agent online");
  }
  const policyRules = (kind: "WafRule" | "RateLimitRule" | "CacheRule", rules: readonly Record<string, unknown>[]) => {
    const ids: string[] = [];
    return {
      async before() {
        for (const spec of rules) {
          const r = await api.call(`PolicyService/Create${kind}`, { spec }, c);
          if (r.status !== 200) throw new Error(`Create${kind} ${String(spec.name)}: ${r.text}`);
          ids.push(String((r.json.rule as { id: string }).id));
        }
      },
      async after() {
        for (const id of ids.splice(0)) await api.call(`PolicyService/Delete${kind}`, { id }, c);
        if (kind === "CacheRule") await api.call("PolicyService/PurgeCache", { all: true }, c);
      },
      ids: () => [...ids],
    };
  };
  const b: WarrenBench = {
    w,
    agent,
    api,
    port: l.status.boundPort,
    wafRules: (rules) => policyRules("WafRule", rules),
    rateLimitRules: (rules) => policyRules("RateLimitRule", rules),
    cacheRules: (rules) => policyRules("CacheRule", rules),
    async call(procedure, body) {
      const r = await api.call(procedure, body, c);
      if (r.status !== 200) throw new Error(`${procedure}: ${r.status} ${r.text}`);
      return r.json;
    },
    async stop() {
      // The server first: its tunnel closes, so the agent has no open streams to drain on SIGTERM.
      await api.close();
      await w.stop();
      if (agent) await agent.stop();
      w.cleanup();
      if (agent) rmSync(agent.configDir, { recursive: true, force: true });
    },
  };
  return b;
}

// ---------------------------------------------------------------- load generation

function parseWrkDuration(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "ms" ? v : m[2] === "s" ? v * 1000 : v * 60_000;
}

function runProcess(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited ${code}: ${err || out}`));
    });
  });
}

async function wrk(url: string, host: string | undefined, durationS: number, withLatency: boolean): Promise<LoadResult> {
  const args = ["-t1", `-c${CONNS}`, `-d${durationS}s`, "--timeout", "5s"];
  if (withLatency) args.push("--latency");
  if (host) args.push("-H", `Host: ${host}`);
  args.push(url);
  const out = await runProcess("wrk", args, (durationS + 30) * 1000);
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : 0;
  };
  const lat = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, "m").exec(out);
    return m ? parseWrkDuration(m[1]!) : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const requests = num(/(\d+) requests in/);
  return {
    mode: "closed",
    connections: CONNS,
    durationS,
    requests,
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: lat("50"),
    p90Ms: lat("90"),
    p99Ms: lat("99"),
    maxMs: parseWrkDuration(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? ""),
    meanMs: parseWrkDuration(/Latency\s+(\S+)/.exec(out)?.[1] ?? ""),
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    bytes: 0,
  };
}

async function nodeLoad(url: string, host: string | undefined, rate?: number): Promise<LoadResult> {
  const args = ["--import", "tsx", join(here, "load.ts"), "--url", url, "--connections", String(CONNS), "--duration", String(DURATION), "--warmup", String(WARMUP)];
  if (host) args.push("--host", host);
  if (rate !== undefined) args.push("--rate", String(rate));
  const out = await runProcess(process.execPath, args, (DURATION + WARMUP + 60) * 1000);
  return JSON.parse(out.trim().split("\n").pop()!) as LoadResult;
}


const useWrk = argv.gen !== "node" && ensureInstalled("wrk", "wrk");

/** With wrk, `warmupRequests` is what the discarded warm-up made (load.ts counts only its measured window). */
async function closedLoop(url: string, host: string | undefined): Promise<LoadResult & { warmupRequests?: number }> {
  if (!useWrk) return nodeLoad(url, host);
  const warm = await wrk(url, host, WARMUP, false); // warm-up, discarded
  return { ...(await wrk(url, host, DURATION, true)), warmupRequests: warm.requests };
}

// ---------------------------------------------------------------- the run

interface Row {
  case: string;
  body: string;
  rate?: number;
  result: LoadResult;
  /** Whole machine during the measurement (warm-up included). */
  idlePct: number;
  stealPct: number;
  /** Closed-loop rows with --rounds > 1: req/s of every round, in order. */
  roundsRps?: number[];
  /** Closed-loop rows served by a Warren process, with wrk: its CPU time (user + sys) per request made, warm-up included. */
  cpuUsPerReq?: number;
}

/** User + system CPU of a process so far, in µs (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuUs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return null;
  }
}

async function measure(c: string, body: string, rate: number | undefined, fn: () => Promise<LoadResult>): Promise<Row> {
  const r = await withCpu(fn);
  return { case: c, body, rate, result: r.value, idlePct: r.idlePct, stealPct: r.stealPct };
}

const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "-");
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function table(rows: Row[]): string {
  const head = ["case", "body", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "non-2xx", "cpu idle %", "steal %"];
  if (ROUNDS > 1) head.push("req/s per round");
  const body = rows.map((r) => {
    const cells = [
      r.rate !== undefined ? `${r.case} @ ${r.rate} req/s` : r.case,
      r.body,
      fmt(r.result.rps, 0),
      fmt(r.result.p50Ms),
      fmt(r.result.p99Ms),
      fmt(r.result.maxMs, 1),
      String(r.result.errors),
      String(r.result.non2xx),
      fmt(r.idlePct, 0),
      fmt(r.stealPct, 1),
    ];
    if (ROUNDS > 1) cells.push(r.roundsRps ? r.roundsRps.map((x) => fmt(x, 0)).join(" ") : "");
    return cells;
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 || i === 10 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** `which`: the body path (/1k, /64k) to load each pass with, or undefined to skip that pass. */
async function profilePass(originUrl: string, which: { direct?: string; agent?: string; rateLimits?: string; cached?: string }): Promise<Record<string, ProfileSummary>> {
  const profDir = join(outDir, "prof");
  rmSync(profDir, { recursive: true, force: true });
  mkdirSync(profDir, { recursive: true });
  const result: Record<string, ProfileSummary> = {};
  const pick = (pid: number | undefined, dir: string) => {
    const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile") && f.includes(`.${pid}.0.`));
    return files.length ? join(dir, files[0]!) : undefined;
  };
  const pass = async (name: string, host: string, withAgent: boolean, path: string, rateLimits = false, cached = false) => {
    const dir = join(profDir, name);
    mkdirSync(dir, { recursive: true });
    const flags = ["--cpu-prof", `--cpu-prof-dir=${dir}`];
    const size = SIZES.find((x) => x.path === path) ?? SIZES[0];
    note(`profile pass "${name}": warren${withAgent ? " + agent" : ""}${rateLimits ? " + 5 rate limits (memory)" : ""}${cached ? " + a cache rule (100 % hits)" : ""} with --cpu-prof under ${host} ${size.label} load`);
    const b = await startWarrenBench(originUrl, { withAgent, serverNodeFlags: flags, agentNodeFlags: withAgent ? flags : undefined });
    if (rateLimits) await b.rateLimitRules(BENCH_RATE_LIMIT_RULES).before();
    const url = `http://127.0.0.1:${b.port}${size.path}`;
    await waitHttp(url, host, size.bytes, 15_000);
    const cache = cached ? cachedRow(b, `http://127.0.0.1:${b.port}`, host) : undefined;
    await cache?.around.before();
    const us = () => Number(process.hrtime.bigint() / 1000n);
    // Warm-up is left out of the profile window; the generator runs in its own process.
    if (useWrk) await wrk(url, host, WARMUP, false);
    const fromUs = us();
    const load = useWrk ? await wrk(url, host, Math.max(3, DURATION - 3), false) : await nodeLoad(url, host);
    const window = { fromUs, toUs: us() };
    note(`  ${Math.round(load.rps)} req/s under the profiler`);
    await cache?.verify(load, size.path).catch((e: Error) => note(`  ${e.message}`));
    const serverPid = b.w.child.pid;
    const agentPid = b.agent?.child.pid;
    await b.stop();
    const sf = pick(serverPid, dir);
    if (sf) result[`warren (${name}, ${size.label})`] = summarize(sf, 20, window);
    const af = agentPid ? pick(agentPid, dir) : undefined;
    if (af) result[`agent (${name}, ${size.label})`] = summarize(af, 20, window);
  };
  if (which.direct) await pass("direct", "direct.bench", false, which.direct);
  if (which.agent) await pass("agent", "agent.bench", true, which.agent);
  if (which.rateLimits) await pass("rate limits", "direct.bench", false, which.rateLimits, true);
  if (which.cached) await pass("cached", "direct.bench", false, which.cached, false, true);
  return result;
}

interface Target {
  case: string;
  base: string;
  host?: string;
  /** The Warren process that serves this row: its CPU time per request is reported. */
  pid?: number;
  /** Run before and after each measurement of this row (e.g. add and remove WAF rules). */
  around?: Around;
  /** After each measurement of this row, before around.after(): throws when the row measured the wrong thing. */
  verify?(result: LoadResult, path: string): Promise<void>;
}

/** Script calls Redis has run since it started (INFO commandstats: EVALSHA + EVAL), over a raw socket. */
function redisScriptCalls(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write("INFO commandstats\r\n"));
    let reply = "";
    socket.setTimeout(5000, () => socket.destroy(new Error("redis INFO: no answer")));
    socket.on("data", (d: Buffer) => {
      reply += d.toString("latin1");
      const m = /^\$(\d+)\r\n/.exec(reply);
      if (!m) {
        if (reply.includes("\r\n")) reject(new Error(`redis answered INFO with ${JSON.stringify(reply.slice(0, 200))}`));
        return;
      }
      if (reply.length < m[0].length + Number(m[1])) return;
      socket.destroy();
      let calls = 0;
      for (const c of reply.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) calls += Number(c[1]);
      resolve(calls);
    });
    socket.on("error", reject);
  });
}

/**
 * Fails the bench unless the rate-limit rules of a row really counted: the checked rule's RateLimit
 * field on one more request says it counted at least the requests the generator made; a request
 * event of the row names every rule (the stage records a rule just before it consumes); no request
 * was refused; and with Redis, the store is healthy, Redis ran a script for every rule and request
 * (INFO commandstats, since the previous check), and at most 1 % of the row's decisions were made by
 * the memory fallback (a Redis command that timed out, 250 ms, on a loaded machine), which is
 * reported. (Redis keys are no measure: a token bucket this far from its limit is whole again within
 * microseconds, and its key expires at once.)
 */
function rateLimitCheck(b: WarrenBench, rules: ReturnType<WarrenBench["rateLimitRules"]>, base: string, host: string, redis?: RedisServer): Target["verify"] {
  const checkedIndex = BENCH_RATE_LIMIT_RULES.findIndex((r) => r.name === CHECKED_RATE_LIMIT_RULE);
  let fallbackBefore = 0;
  let scriptsBefore = 0;
  return async (result, path) => {
    let fallback = 0;
    let st: Record<string, unknown> = {};
    if (redis) {
      st = await b.call("PolicyService/GetRateLimitStoreStatus", {});
      const total = Number(st.fallbackDecisions ?? 0);
      fallback = total - fallbackBefore;
      fallbackBefore = total;
    }
    const ids = rules.ids();
    if (ids.length !== BENCH_RATE_LIMIT_RULES.length) throw new Error(`rate-limit check: ${ids.length} rules exist, expected ${BENCH_RATE_LIMIT_RULES.length}`);
    if (result.non2xx > 0 || result.errors > 0) {
      // Refused by a rule is a broken row; a few other failures are reported (and shown in the table).
      const denied = await b.call("ObservabilityService/ListRequestEvents", { host, errorCode: "rate_limited", pageSize: 1 });
      if (((denied.events as unknown[] | undefined) ?? []).length > 0) throw new Error(`rate-limit check: a rule refused requests under load`);
      const failed = await b.call("ObservabilityService/ListRequestEvents", { host, statusClass: "STATUS_CLASS_5XX", pageSize: 5 });
      const what = ((failed.events as { status?: number; errorCode?: string }[] | undefined) ?? []).map((e) => `${e.status} ${e.errorCode}`);
      note(`  warning: ${result.non2xx} non-2xx answers and ${result.errors} errors under load (none rate_limited; recent 5xx events: ${what.join(", ") || "-"})`);
      if (result.non2xx + result.errors > result.requests / 100) throw new Error(`rate-limit check: ${result.non2xx} non-2xx answers and ${result.errors} errors of ${result.requests} requests`);
    }
    // One more request, to read the checked rule's RateLimit field; retried a few times. A gateway
    // that keeps answering 504 upstream_timeout ("no connection to the upstream within 5000 ms") here
    // has run out of upstream connections: seen with the Redis store after several runs, when clients
    // left while their requests awaited Redis (forward.ts registers its "close" listener only after
    // the rate-limit stage, so a client already gone is never noticed and its relay holds a pooled
    // connection). Not a rate-limit cost: the row fails rather than measure it.
    let status = 0;
    let field = "";
    for (let attempt = 0; attempt < 5 && status !== 200; attempt++) {
      if (attempt > 0) note(`  probe answered ${status}; again`);
      const r = await request(base + path, { headers: { host } });
      await r.body.dump();
      status = r.statusCode;
      field = String(r.headers["ratelimit"] ?? "");
    }
    const id = ids[checkedIndex]!;
    const m = new RegExp(`"${id}";r=(\\d+)`).exec(field);
    if (status !== 200 || !m) throw new Error(`rate-limit check: status ${status}, RateLimit ${JSON.stringify(field)}: expected 200 with an item for rule ${id}`);
    const counted = CHECKED_RATE_LIMIT - Number(m[1]);
    if (counted < result.requests - fallback) throw new Error(`rate-limit check: rule "${CHECKED_RATE_LIMIT_RULE}" counted ${counted} requests, the generator made ${result.requests}`);
    const deadline = Date.now() + 15_000;
    let named = false;
    while (!named && Date.now() < deadline) {
      const ev = await b.call("ObservabilityService/ListRequestEvents", { host, pageSize: 20 });
      named = ((ev.events as { rateLimitRuleIds?: string[] }[] | undefined) ?? []).some((e) => ids.every((x) => e.rateLimitRuleIds?.includes(x)));
      if (!named) await new Promise((res) => setTimeout(res, 250));
    }
    if (!named) throw new Error(`rate-limit check: no recent request event of ${host} names all ${ids.length} rules`);
    let extra = "";
    if (redis) {
      const decisions = counted * ids.length;
      if (st.kind !== "redis" || st.healthy !== true || fallback > decisions / 100) {
        throw new Error(`rate-limit check: ${fallback} of ~${decisions} decisions by the memory fallback in this row; Redis store status ${JSON.stringify(st)}`);
      }
      const scripts = await redisScriptCalls(redis.port);
      const ran = scripts - scriptsBefore;
      scriptsBefore = scripts;
      if (ran < ids.length * result.requests - fallback) throw new Error(`rate-limit check: Redis ran ${ran} scripts, expected at least ${ids.length} x ${result.requests} requests`);
      extra = `; Redis healthy, ran ${ran} scripts (>= ${ids.length} x ${result.requests}), ${fallback} decisions by the memory fallback in this row`;
      if (fallback > 0) {
        const warned = b.w.logs.filter((l) => l.msg === "rate-limit store unavailable, using memory fallback").at(-1);
        note(`  warning: ${fallback} rate-limit decisions fell back to memory (${JSON.stringify(warned?.err ?? st.lastError ?? "-")})`);
      }
    }
    note(`  rate limits counted: "${CHECKED_RATE_LIMIT_RULE}" at ${counted} (>= ${result.requests} measured), events name all ${ids.length} rules${extra}`);
  };
}

/**
 * The cached row: around it the cache rule is added, every body size stored and checked to be a hit
 * (`Cache-Status: Warren; hit`); after each measurement the cache's counters (GetCacheUsage) must
 * say that every request the generator made was a hit and none a miss, or the bench fails. wrk's
 * warm-up counts too (its requests are hits as well), and up to one request per connection of each
 * wrk run may have been answered after wrk stopped counting.
 */
function cachedRow(b: WarrenBench, base: string, host: string): { around: Around; verify: NonNullable<Target["verify"]> } {
  const rules = b.cacheRules([BENCH_CACHE_RULE]);
  const usage = async () => {
    const u = await b.call("PolicyService/GetCacheUsage", {});
    return { hits: Number(u.hits ?? 0), misses: Number(u.misses ?? 0), memoryEntries: Number((u.memory as { entries?: string } | undefined)?.entries ?? 0) };
  };
  const probe = async (path: string) => {
    const r = await request(base + path, { headers: { host } });
    await r.body.dump();
    return { status: r.statusCode, cacheStatus: String(r.headers["cache-status"] ?? "-") };
  };
  let before = { hits: 0, misses: 0, memoryEntries: 0 };
  return {
    around: {
      async before() {
        await rules.before();
        for (const s of SIZES) {
          let p = await probe(s.path);
          // The first request stores the entry (commit at the end of its body); the next is a hit.
          for (let i = 0; i < 20 && !(p.status === 200 && p.cacheStatus === "Warren; hit"); i++) {
            await new Promise((res) => setTimeout(res, 50));
            p = await probe(s.path);
          }
          if (p.status !== 200 || p.cacheStatus !== "Warren; hit") throw new Error(`cache check: ${host}${s.path} is no hit after warming: ${p.status}, Cache-Status ${p.cacheStatus}`);
        }
        before = await usage();
        if (before.memoryEntries < SIZES.length) throw new Error(`cache check: ${before.memoryEntries} entries in the memory tier, expected ${SIZES.length}`);
      },
      after: () => rules.after(),
    },
    async verify(result, path) {
      const after = await usage();
      const hits = after.hits - before.hits;
      const misses = after.misses - before.misses;
      const warmup = (result as LoadResult & { warmupRequests?: number }).warmupRequests;
      const made = result.requests + (warmup ?? 0);
      const slack = warmup === undefined ? Infinity : 2 * CONNS;
      const what = `${hits} hits and ${misses} misses counted for ${made} requests made (${result.requests} measured${warmup === undefined ? "" : ` + ${warmup} warm-up`}) on ${host}${path}`;
      if (misses !== 0 || hits < made || hits > made + slack) throw new Error(`cache check: ${what}; expected every request a hit`);
      const p = await probe(path);
      if (p.cacheStatus !== "Warren; hit") throw new Error(`cache check: a request after the row answered ${p.status}, Cache-Status ${p.cacheStatus}`);
      before = await usage();
      note(`  cache hits counted: ${what}`);
    },
  };
}

/** Everything the closed-loop rows load, started once. */
async function startAll(origin: OriginProc, cleanup: (() => Promise<void>)[]) {
  const nginx = await startNginx(origin.port);
  if (nginx) cleanup.unshift(() => nginx.stop());
  else console.log("nginx: not available");
  const bare = await startBareProxy(origin.url);
  cleanup.unshift(() => bare.stop());
  const bareTunnel = await startBareProxy(origin.url, true);
  cleanup.unshift(() => bareTunnel.stop());
  const bareAgent = await startBareAgent(bareTunnel.tunnelPort!);
  cleanup.unshift(() => bareAgent.stop());
  const warren = await startWarrenBench(origin.url, { withAgent: true, serverNodeFlags: nodeFlags(argv["warren-flags"]), agentNodeFlags: nodeFlags(argv["agent-flags"]) });
  cleanup.unshift(() => warren.stop());
  const warrenBase = `http://127.0.0.1:${warren.port}`;
  const rlMemory = warren.rateLimitRules(BENCH_RATE_LIMIT_RULES);
  // The Redis row needs a gateway of its own: the store is chosen at start-up (RATE_LIMIT_STORE).
  let redis: RedisServer | null = null;
  let warrenRedis: WarrenBench | null = null;
  if (selected(RL_REDIS)) {
    if (redisMissing) console.log(`redis-server: not available (${redisMissing})`);
    else {
      redis = await RedisServer.start();
      const r = redis;
      cleanup.unshift(() => r.stop());
      warrenRedis = await startWarrenBench(origin.url, { withAgent: false, serverNodeFlags: nodeFlags(argv["warren-flags"]), env: { RATE_LIMIT_STORE: redis.url } });
      const wr = warrenRedis;
      cleanup.unshift(() => wr.stop());
      const deadline = Date.now() + 15_000;
      let st: Record<string, unknown> = {};
      while (Date.now() < deadline && (st = await wr.call("PolicyService/GetRateLimitStoreStatus", {})).healthy !== true) await new Promise((res) => setTimeout(res, 100));
      if (st.kind !== "redis" || st.healthy !== true) throw new Error(`the Redis rate-limit store is not healthy: ${JSON.stringify(st)}`);
    }
  }
  const rlRedis = warrenRedis?.rateLimitRules(BENCH_RATE_LIMIT_RULES);
  const targets: Target[] = [
    { case: "origin alone", base: origin.url },
    ...(nginx ? [{ case: "nginx proxy_pass", base: `http://127.0.0.1:${nginx.port}` }] : []),
    { case: "bare node proxy", base: bare.url },
    { case: "bare proxy via tunnel", base: bareTunnel.url },
    { case: "warren direct", base: `http://127.0.0.1:${warren.port}`, host: "direct.bench", pid: warren.w.child.pid },
    { case: "warren via agent", base: `http://127.0.0.1:${warren.port}`, host: "agent.bench" },
    // The same gateway and route as "warren direct", with ten WAF rules no request matches added just
    // for this row: what rules cost when they don't fire, without a second process to compare with.
    { case: "warren + 10 WAF rules", base: `http://127.0.0.1:${warren.port}`, host: "direct.bench", pid: warren.w.child.pid, around: warren.wafRules(BENCH_WAF_RULES) },
    // The same gateway and route again, with five rate-limit rules that every request matches and
    // counts against (in memory), added just for this row.
    { case: RL_MEMORY, base: warrenBase, host: "direct.bench", pid: warren.w.child.pid, around: rlMemory, verify: rateLimitCheck(warren, rlMemory, warrenBase, "direct.bench") },
    // The same gateway and route again, with a cache rule added just for this row: every measured
    // request is a hit from the memory tier (checked by the cache's counters after the row).
    { case: CACHED, base: warrenBase, host: "direct.bench", pid: warren.w.child.pid, ...cachedRow(warren, warrenBase, "direct.bench") },
  ];
  if (warrenRedis && rlRedis && redis) {
    const base = `http://127.0.0.1:${warrenRedis.port}`;
    targets.push({ case: RL_REDIS, base, host: "direct.bench", pid: warrenRedis.w.child.pid, around: rlRedis, verify: rateLimitCheck(warrenRedis, rlRedis, base, "direct.bench", redis) });
  }
  for (const t of targets) for (const s of SIZES) await waitHttp(t.base + s.path, t.host, s.bytes, 15_000);
  return { nginx, bare, bareTunnel, bareAgent, warren, warrenRedis, redis, targets };
}

async function stand(origin: OriginProc): Promise<void> {
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const { nginx, bare, bareTunnel, bareAgent, warren, targets } = await startAll(origin, cleanup);
    const pids = {
      origin: origin.child.pid,
      nginxWorker: nginx?.workerPid(),
      bare: bare.child.pid,
      bareTunnel: bareTunnel.child.pid,
      bareAgent: bareAgent.child.pid,
      warren: warren.w.child.pid,
      agent: warren.agent?.child.pid,
    };
    // Their output (logs, and whatever --warren-flags / --agent-flags print, e.g. --trace-gc) goes to files.
    const logs: Record<string, string> = {};
    for (const [name, p] of [["warren", warren.w], ["agent", warren.agent]] as const) {
      if (!p) continue;
      logs[name] = join(outDir, `stand-${name}.log`);
      const file = createWriteStream(logs[name]);
      p.child.stdout!.pipe(file);
      p.child.stderr!.pipe(file);
    }
    console.log(JSON.stringify({ pids, logs, targets: targets.map((t) => ({ case: t.case, url: t.base, host: t.host })) }));
    note("standing; Ctrl-C (SIGINT) or SIGTERM stops everything");
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
  } finally {
    for (const c of cleanup) await c().catch(() => {});
  }
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  note(
    `load generator: ${useWrk ? "wrk (closed-loop) + load.ts (fixed rate)" : "load.ts (undici) for everything"}; ${CONNS} connections, ${WARMUP}s warm-up + ${DURATION}s per measurement` +
      (ROUNDS > 1 ? `, ${ROUNDS} interleaved rounds` : ""),
  );
  const idleBefore = await idlePct(1000);
  if (idleBefore < 90) note(`warning: the machine is only ${idleBefore.toFixed(0)}% idle before the run; other load skews the numbers`);
  const origin = await startOriginProcess();
  if (argv.stand) {
    try {
      await stand(origin);
    } finally {
      await origin.stop();
    }
    return;
  }
  if (argv["profile-only"]) {
    try {
      const profiles = await profilePass(origin.url, {
        direct: selected("warren direct") ? "/1k" : undefined,
        agent: selected("warren via agent") ? "/64k" : undefined,
        rateLimits: selected(RL_MEMORY) ? "/1k" : undefined,
        cached: selected(CACHED) ? "/1k" : undefined,
      });
      for (const [label, sum] of Object.entries(profiles)) console.log("\n" + formatSummary(sum, label));
    } finally {
      await origin.stop();
    }
    return;
  }
  const cleanup: (() => Promise<void>)[] = [() => origin.stop()];
  try {
    const { nginx, bare, bareTunnel, bareAgent, warren, warrenRedis, redis, targets: all } = await startAll(origin, cleanup);
    note(
      `origin :${origin.port}, nginx ${nginx ? `:${nginx.port}` : "-"}, bare proxy :${bare.port}, via tunnel :${bareTunnel.port} (agent pid ${bareAgent.child.pid}), warren :${warren.port} (pid ${warren.w.child.pid}), agent pid ${warren.agent?.child.pid}` +
        (warrenRedis ? `, warren with Redis :${warrenRedis.port} (pid ${warrenRedis.w.child.pid}), redis-server :${redis!.port}` : ""),
    );
    const targets = all.filter((t) => selected(t.case));
    if (targets.length === 0) throw new Error(`--cases ${argv.cases}: no row matches`);
    const measureTarget = async (t: Target, s: (typeof SIZES)[number], rate?: number): Promise<Row> => {
      await t.around?.before();
      try {
        const cpu0 = rate === undefined ? cpuUs(t.pid) : null;
        const row = await measure(t.case, s.label, rate, () => (rate === undefined ? closedLoop(t.base + s.path, t.host) : nodeLoad(t.base + s.path, t.host, rate)));
        const cpu1 = cpu0 === null ? null : cpuUs(t.pid);
        const warm = (row.result as LoadResult & { warmupRequests?: number }).warmupRequests;
        if (cpu0 !== null && cpu1 !== null && warm !== undefined) row.cpuUsPerReq = (cpu1 - cpu0) / Math.max(1, row.result.requests + warm);
        await t.verify?.(row.result, s.path);
        return row;
      } finally {
        await t.around?.after();
      }
    };

    // rounds[r][`${case}|${body}`]: one closed-loop measurement.
    const rounds: Map<string, Row>[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const round = new Map<string, Row>();
      rounds.push(round);
      for (const s of SIZES) {
        for (const t of targets) {
          note(`${ROUNDS > 1 ? `round ${r + 1}/${ROUNDS}: ` : ""}${t.case}, ${s.label}`);
          round.set(`${t.case}|${s.label}`, await measureTarget(t, s));
        }
      }
    }
    // The row shown for each case is its median round by req/s.
    const rows: Row[] = [];
    for (const s of SIZES) {
      for (const t of targets) {
        const all = rounds.map((round) => round.get(`${t.case}|${s.label}`)!);
        const byRps = [...all].sort((a, b) => a.result.rps - b.result.rps);
        rows.push({ ...byRps[(byRps.length - 1) >> 1]!, ...(ROUNDS > 1 ? { roundsRps: all.map((x) => x.result.rps) } : {}) });
      }
    }
    const find = (c: string, body: string, rate = false) => rows.find((r) => r.case === c && r.body === body && (r.rate !== undefined) === rate)?.result;
    /** num / den req/s within each round, median over rounds; null when a row is missing (no nginx). */
    const ratio = (num: string, den: string, body: string): number | null => {
      const per = rounds.map((round) => {
        const a = round.get(`${num}|${body}`);
        const b = round.get(`${den}|${body}`);
        return a && b ? a.result.rps / b.result.rps : null;
      });
      return per.includes(null) ? null : median(per as number[]);
    };

    // Open loop at half of Warren direct's max: origin alone vs Warren direct at the same rate.
    const openLoop = new Map<string, Row>();
    const halfRate = (rps: number) => Math.max(100, Math.round(rps / 2 / 50) * 50);
    const tOrigin = targets.find((x) => x.case === "origin alone");
    const tDirect = targets.find((x) => x.case === "warren direct");
    const tRedis = targets.find((x) => x.case === RL_REDIS);
    for (const s of SIZES) {
      if (!tOrigin || !tDirect) break;
      const rate = halfRate(find("warren direct", s.label)!.rps);
      for (const t of [tOrigin, tDirect]) {
        note(`${t.case}, ${s.label}, fixed ${rate} req/s`);
        const row = await measureTarget(t, s, rate);
        rows.push(row);
        openLoop.set(`${t.case}|${s.label}`, row);
      }
    }
    // Open loop at half the slower of warren direct and the Redis row: what five Redis round trips
    // add to a request's latency when neither gateway is saturated.
    const redisAdded: { body: string; atRate: number; addedP50Ms: number; addedP99Ms: number; closedLoopAddedP50Ms: number }[] = [];
    for (const s of SIZES) {
      if (!tDirect || !tRedis) break;
      const direct = find("warren direct", s.label)!;
      const withRedis = find(RL_REDIS, s.label)!;
      const rate = halfRate(Math.min(direct.rps, withRedis.rps));
      const pair: Row[] = [];
      for (const t of [tDirect, tRedis]) {
        note(`${t.case}, ${s.label}, fixed ${rate} req/s (beside the Redis row)`);
        pair.push(await measureTarget(t, s, rate));
      }
      rows.push(...pair);
      redisAdded.push({
        body: s.label,
        atRate: rate,
        addedP50Ms: pair[1]!.result.p50Ms - pair[0]!.result.p50Ms,
        addedP99Ms: pair[1]!.result.p99Ms - pair[0]!.result.p99Ms,
        closedLoopAddedP50Ms: withRedis.p50Ms - direct.p50Ms,
      });
    }

    const rss = {
      warrenKiB: maxRssKiB(warren.w.child.pid),
      agentKiB: maxRssKiB(warren.agent?.child.pid),
      nginxWorkerKiB: nginx ? maxRssKiB(nginx.workerPid()) : null,
      bareProxyKiB: maxRssKiB(bare.child.pid),
      bareTunnelProxyKiB: maxRssKiB(bareTunnel.child.pid),
      bareAgentKiB: maxRssKiB(bareAgent.child.pid),
      originKiB: maxRssKiB(origin.child.pid),
      warrenRedisKiB: maxRssKiB(warrenRedis?.w.child.pid),
    };

    const goals = RATIO_GOALS.map((g) => {
      const value = ratio(g.num, g.den, g.body);
      return { id: g.id, body: g.body, what: `${g.num} / ${g.den}`, value, min: g.min, met: value === null ? null : value >= g.min };
    });
    const ratios = SIZES.map((s) => {
      const rOrigin = openLoop.get(`origin alone|${s.label}`)?.result;
      const rDirect = openLoop.get(`warren direct|${s.label}`)?.result;
      const addedP99Ms = rOrigin && rDirect ? rDirect.p99Ms - rOrigin.p99Ms : NaN;
      return {
        body: s.label,
        ...Object.fromEntries(INFO_RATIOS.map((x) => [x.id, ratio(x.num, x.den, s.label)])),
        addedP99Ms,
        atRate: rDirect?.targetRate,
        addedP99Met: Number.isNaN(addedP99Ms) ? null : addedP99Ms <= GOALS.addedP99Ms,
      } as { body: string; addedP99Ms: number; atRate: number | undefined; addedP99Met: boolean | null } & Record<(typeof INFO_RATIOS)[number]["id"], number | null>;
    });
    // Profile each pass at the body size that missed its goal; the direct pass also for a missed p99.
    const missedGoal = (id: string) => goals.find((g) => g.id === id && g.met === false);
    const p99Miss = ratios.filter((r) => r.addedP99Met === false).sort((a, b) => b.addedP99Ms - a.addedP99Ms)[0];
    const pathOf = (body: string) => SIZES.find((x) => x.label === body)!.path;
    const missed = {
      direct: missedGoal("directVsBare") ? pathOf(missedGoal("directVsBare")!.body) : p99Miss ? pathOf(p99Miss.body) : undefined,
      agent: missedGoal("agentVsDirect") ? pathOf(missedGoal("agentVsDirect")!.body) : undefined,
      rateLimits: missedGoal("rateLimitsVsDirect") ? pathOf(missedGoal("rateLimitsVsDirect")!.body) : undefined,
      cached: missedGoal("cachedVsDirect") ? pathOf(missedGoal("cachedVsDirect")!.body) : undefined,
    };

    const mib = (k: number | null) => (k === null ? "-" : `${(k / 1024).toFixed(1)} MiB`);
    const ok = (b: boolean | null) => (b === null ? "n/a" : b ? "ok" : "MISSED");
    const lines: string[] = [];
    lines.push("");
    lines.push(
      `HTTP bench: ${CONNS} connections, ${WARMUP}s warm-up + ${DURATION}s each${ROUNDS > 1 ? `, ${ROUNDS} interleaved rounds (median round shown)` : ""}; ` +
        `closed-loop by ${useWrk ? "wrk -t1" : "load.ts"}, fixed-rate rows by load.ts --rate (open loop)`,
    );
    lines.push(`node ${process.version}, ${readFileSync("/proc/cpuinfo", "utf8").split("\n").filter((x) => x.startsWith("processor")).length} CPUs${nginx ? "" : "; nginx: not available"}`);
    lines.push("");
    lines.push(table(rows));
    const cpuRows = rows.filter((r) => r.cpuUsPerReq !== undefined);
    if (cpuRows.length) {
      lines.push("Warren's CPU time (user + sys) per request made, warm-up included" + (ROUNDS > 1 ? " (median round)" : "") + ":");
      for (const r of cpuRows) lines.push(`  ${r.case.padEnd(34)} ${r.body.padEnd(6)} ${fmt(r.cpuUsPerReq!, 0)} µs`);
    }
    const lag = rows.filter((r) => r.result.lagP99Ms !== undefined).map((r) => fmt(r.result.lagP99Ms!));
    if (lag.length) lines.push(`(fixed-rate rows: latency from hand-off to the pool; generator schedule lag p99 ${lag.join(" / ")} ms; machine ${idleBefore.toFixed(0)}% idle before the run)`);
    lines.push("");
    lines.push(
      `peak RSS (VmHWM): warren ${mib(rss.warrenKiB)}, agent ${mib(rss.agentKiB)}, nginx worker ${mib(rss.nginxWorkerKiB)}, bare proxy ${mib(rss.bareProxyKiB)} (via tunnel ${mib(rss.bareTunnelProxyKiB)} + agent ${mib(rss.bareAgentKiB)}), origin ${mib(rss.originKiB)}`,
    );
    lines.push("");
    lines.push("Goals (req/s ratios within a round" + (ROUNDS > 1 ? ", median over rounds" : "") + "):");
    for (const g of goals) lines.push(`  ${g.what.padEnd(36)} ${g.body.padEnd(6)} = ${g.value === null ? "n/a" : fmt(g.value)}  (goal >= ${g.min}: ${ok(g.met)})`);
    for (const r of ratios) lines.push(`  ${`p99 added @ ${r.atRate ?? "-"} req/s`.padEnd(36)} ${r.body.padEnd(6)} = ${fmt(r.addedP99Ms)} ms  (goal <= ${GOALS.addedP99Ms} ms: ${ok(r.addedP99Met)})`);
    if (redisAdded.length) lines.push("Five rate limits in Redis vs warren direct (report only, no goal):");
    for (const r of redisAdded) {
      lines.push(
        `  ${`p50 / p99 added @ ${r.atRate} req/s`.padEnd(36)} ${r.body.padEnd(6)} = ${fmt(r.addedP50Ms)} / ${fmt(r.addedP99Ms)} ms  (closed loop, ${CONNS} connections: p50 +${fmt(r.closedLoopAddedP50Ms)} ms)`,
      );
    }
    lines.push("Other ratios:");
    for (const r of ratios) {
      lines.push(`  ${r.body.padEnd(6)}: ` + INFO_RATIOS.map((x) => `${x.num} / ${x.den} = ${r[x.id] === null ? "n/a" : fmt(r[x.id]!)}`).join("; "));
    }
    console.log(lines.join("\n"));

    const report: Record<string, unknown> = {
      date: new Date().toISOString(),
      node: process.version,
      generator: useWrk ? "wrk" : "load.ts",
      connections: CONNS,
      warmupS: WARMUP,
      durationS: DURATION,
      rounds: ROUNDS,
      nginx: nginx !== null,
      idleBeforePct: idleBefore,
      rows: rows.map((r) => ({ case: r.case, body: r.body, rate: r.rate ?? null, ...r.result, machineIdlePct: r.idlePct, stealPct: r.stealPct, roundsRps: r.roundsRps ?? null, warrenCpuUsPerReq: r.cpuUsPerReq ?? null })),
      goals,
      ratios,
      addedP99GoalMs: GOALS.addedP99Ms,
      peakRss: rss,
      redisRateLimitsAdded: redisAdded,
    };

    for (const c of cleanup.splice(0)) await c();
    note("stopped");

    if (!argv["no-profile"] && (argv.profile || missed.direct || missed.agent || missed.rateLimits || missed.cached)) {
      const o2 = await startOriginProcess();
      cleanup.push(() => o2.stop());
      const profiles = await profilePass(
        o2.url,
        argv.profile
          ? { direct: missed.direct ?? "/1k", agent: missed.agent ?? "/64k", rateLimits: missed.rateLimits ?? (selected(RL_MEMORY) ? "/1k" : undefined), cached: missed.cached ?? (selected(CACHED) ? "/1k" : undefined) }
          : missed,
      );
      report.profiles = profiles;
      console.log("\nCPU profiles (goals missed" + (argv.profile ? " or --profile" : "") + "):");
      for (const [label, s] of Object.entries(profiles)) console.log("\n" + formatSummary(s, label));
    }

    writeFileSync(join(outDir, "http.json"), JSON.stringify(report, null, 2) + "\n");
    console.log("\nJSON:");
    console.log(JSON.stringify({ ...report, profiles: report.profiles ? Object.keys(report.profiles as object) : undefined }));
    note(`done; written to ${join(outDir, "http.json")}`);
  } finally {
    for (const c of cleanup) await c().catch(() => {});
  }
}

if (!existsSync(join(root, "node_modules"))) {
  console.error("run npm ci first");
  process.exit(1);
}
await main();
