// Idle memory of an agent: the self-contained agent (dist/agent-bundle/warren-agent.mjs, what the
// install snippet runs on a host with only Node) against `warren agent` from the full package and a
// bare Node process (the floor), each connected to one `warren serve` and idle. Goal (issue 8): the
// snippet's agent at most 50 MB RSS when idle. Also prints what the bundle is made of.
// Run: node --import tsx bench/agent-rss/run.ts [--idle-seconds 10]
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { JsonApi, ROOT, WarrenProcess, cookieHeader, setupAdmin } from "../../test/helpers/warren-process.ts";
import { createAgent, freePort, startAgent } from "../../test/helpers/agent-process.ts";
import { pollUntil } from "../../test/helpers/wait.ts";

const { values } = parseArgs({ options: { "idle-seconds": { type: "string", default: "10" }, "node-options": { type: "string", default: "" }, "node-flags": { type: "string", default: "" } } });
const idleMs = Number(values["idle-seconds"]) * 1000;
const GOAL_MB = 50;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Highest RSS seen while idling (sampled every second), after the agent came online. */
async function idleRss(pid: number): Promise<number> {
  let max = 0;
  for (let t = 0; t < idleMs; t += 1000) {
    max = Math.max(max, rssMb(pid));
    await new Promise((r) => setTimeout(r, 1000));
  }
  return max;
}

const port = await freePort();
const w = await WarrenProcess.start({ env: { MANAGEMENT_PORT: String(port), MANAGEMENT_PUBLIC_URL: `https://localhost:${port}` } });
const api = new JsonApi(w.baseUrl, w.caPem);
const { cookie } = await setupAdmin(w, api);
const c = cookieHeader(cookie);
const online = (id: string) => pollUntil(`agent ${id} online`, () => api.call("AgentService/GetAgent", { id }, c), (r) => (r.json.agent as { status?: { online?: boolean } }).status?.online === true);
const rows: [string, number][] = [];
const dirs: string[] = [];
try {
  // 1. The install snippet's command line, run by sh in an empty folder.
  const created = await api.call("AgentService/CreateAgent", { name: "snippet" }, c);
  const { agent, install } = created.json as { agent: { id: string }; install: { commandLine: string } };
  const dir = mkdtempSync(join(tmpdir(), "warren-agent-rss-"));
  dirs.push(dir);
  const sh = spawn("sh", ["-c", `${install.commandLine.replace(/ node warren-agent\.mjs$/, ` exec node ${values["node-flags"]} warren-agent.mjs`)}`], { cwd: dir, stdio: "ignore", env: { PATH: process.env.PATH ?? "", NODE_OPTIONS: values["node-options"] } });
  await online(agent.id);
  // sh execs node for the last command, so the agent is sh's own pid.
  rows.push(["self-contained agent (install snippet)", await idleRss(sh.pid!)]);
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
} finally {
  await w.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

console.log(`| process | idle RSS MB (max over ${idleMs / 1000} s) |\n|---|---|`);
for (const [name, mb] of rows) console.log(`| ${name} | ${mb.toFixed(1)} |`);
const snippet = rows[0]![1];
console.log(`\nsnippet agent: ${snippet.toFixed(1)} MB — goal ≤ ${GOAL_MB} MB ${snippet <= GOAL_MB ? "met" : "MISSED"}`);

// What the bundle holds, by package (esbuild's metafile of the same build).
const { build } = await import("esbuild");
const meta = await build({ absWorkingDir: ROOT, entryPoints: ["cli/agent-bundle.ts"], bundle: true, platform: "node", format: "esm", minify: true, write: false, metafile: true, define: { __WARREN_BUNDLED_VERSION__: '"bench"' }, logLevel: "silent" });
const byPkg = new Map<string, number>();
for (const [file, info] of Object.entries(Object.values(meta.metafile.outputs)[0]!.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  const key = m ? m[1]! : `warren ${file.split("/")[0]}/`;
  byPkg.set(key, (byPkg.get(key) ?? 0) + info.bytesInOutput);
}
console.log("\nbundle contents (minified bytes):");
for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(28)} ${(v / 1024).toFixed(0)} KiB`);
