// Summarises a V8 .cpuprofile (from `node --cpu-prof`): top functions by self time, self time by
// package / file, and the project's own functions by inclusive (total) time.
//
//   node --import tsx bench/http/profile-summary.ts <file.cpuprofile> [--top 25]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { relative } from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Entry {
  name: string;
  /** For self-time entries: the most common chain of callers (nearest first), as "f (file) < g (file)". */
  via?: string;
  where: string;
  category: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  file: string;
  window: string;
  sampledMs: number;
  idleMs: number;
  busyMs: number;
  /** By self time, % of busy (non-idle) time. */
  topSelf: Entry[];
  /** Self time by package / project file / node internals / GC, % of busy time. */
  byCategory: { category: string; ms: number; pct: number }[];
  /** The project's own functions by inclusive time (self + callees), % of busy time. */
  topProjectInclusive: Entry[];
  /** Node and npm functions by inclusive time, leaving out generic event-loop frames. */
  topLibraryInclusive: Entry[];
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function categoryOf(cf: CallFrame): string {
  const n = cf.functionName;
  if (n === "(idle)" || n === "(program)" || n === "(garbage collector)" || n === "(root)") return n;
  const url = cf.url;
  if (!url) return "(native / builtins)";
  if (url.startsWith("node:")) return "node internals";
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = path.slice(nm + "/node_modules/".length).split("/");
    return `npm:${rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (path.startsWith(ROOT)) return relative(ROOT, path);
  return path;
}

function whereOf(cf: CallFrame): string {
  if (!cf.url) return "";
  const path = cf.url.startsWith("file://") ? fileURLToPath(cf.url) : cf.url;
  const nm = path.lastIndexOf("/node_modules/");
  const short = nm >= 0 ? path.slice(nm + "/node_modules/".length) : path.startsWith(ROOT) ? relative(ROOT, path) : path;
  return `${short}:${cf.lineNumber + 1}`;
}

/** Frames every callback runs under: their inclusive time says nothing. */
const GENERIC = new Set(["(root)", "(program)", "(idle)", "processTicksAndRejections", "runMicrotasks", "emit", "onceWrapper", "processImmediate", "listOnTimeout", "processTimers", "(anonymous)", "emitReadable_", "endReadableNT", "emitCloseNT", "afterWriteTick", "afterWrite", "onStreamRead", "Readable.push", "readableAddChunk", "readableAddChunkPushByteMode", "addChunk", "evaluate", "run"]);

const isProject = (category: string) => !category.startsWith("npm:") && !category.startsWith("(") && category !== "node internals" && !category.startsWith("/");

/**
 * `window` (µs on the monotonic clock: process.hrtime.bigint() / 1000n, the clock V8 stamps profiles
 * with on Linux) keeps only the samples taken while the load ran, leaving out start-up and shutdown.
 */
export function summarize(file: string, top = 25, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // Each sample lasts until the next one (DevTools' convention); the last gets the mean interval.
  const selfUs = new Map<number, number>();
  const n = p.samples.length;
  const mean = n > 1 ? (p.endTime - p.startTime) / n : 0;
  const stamps: number[] = [];
  for (let i = 0, t = p.startTime; i < n; i++) stamps.push((t += p.timeDeltas[i]!));
  const inWindow = window ? stamps.filter((t) => t >= window.fromUs && t <= window.toUs).length : n;
  const useWindow = window !== undefined && inWindow > 0;
  for (let i = 0; i < n; i++) {
    if (useWindow && (stamps[i]! < window.fromUs || stamps[i]! > window.toUs)) continue;
    const dt = i + 1 < n ? p.timeDeltas[i + 1]! : mean;
    const id = p.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }

  const key = (cf: CallFrame) => `${cf.functionName || "(anonymous)"}\u0000${cf.url}\u0000${cf.lineNumber}`;
  const self = new Map<string, { cf: CallFrame; us: number }>();
  const callers = new Map<string, Map<string, number>>();
  const frameLabel = (cf: CallFrame) => `${cf.functionName || "(anonymous)"}${cf.url ? ` (${whereOf(cf).replace(/:\d+$/, "")})` : ""}`;
  const incl = new Map<string, { cf: CallFrame; us: number }>();
  const cats = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const cf = node.callFrame;
    total += us;
    if (cf.functionName === "(idle)") {
      idle += us;
      continue;
    }
    const k = key(cf);
    const e = self.get(k) ?? { cf, us: 0 };
    e.us += us;
    self.set(k, e);
    const chain: string[] = [];
    for (let cur = parent.get(id); cur !== undefined && chain.length < 4; cur = parent.get(cur)) chain.push(frameLabel(byId.get(cur)!.callFrame));
    const cm = callers.get(k) ?? new Map<string, number>();
    const ck0 = chain.join(" < ");
    cm.set(ck0, (cm.get(ck0) ?? 0) + us);
    callers.set(k, cm);
    const cat = categoryOf(cf);
    cats.set(cat, (cats.get(cat) ?? 0) + us);
    // Inclusive: every distinct function on the stack gets this sample's time once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const ccf = byId.get(cur)!.callFrame;
      const ck = key(ccf);
      if (seen.has(ck)) continue;
      seen.add(ck);
      const ie = incl.get(ck) ?? { cf: ccf, us: 0 };
      ie.us += us;
      incl.set(ck, ie);
    }
  }
  const busy = total - idle;
  const pct = (us: number) => (busy > 0 ? (100 * us) / busy : 0);
  const entry = (e: { cf: CallFrame; us: number }): Entry => ({
    name: e.cf.functionName || "(anonymous)",
    where: whereOf(e.cf),
    category: categoryOf(e.cf),
    ms: e.us / 1000,
    pct: pct(e.us),
  });
  return {
    file,
    window: useWindow ? "load only" : window ? "whole run (no samples in the given window)" : "whole run",
    sampledMs: total / 1000,
    idleMs: idle / 1000,
    busyMs: busy / 1000,
    topSelf: [...self.entries()]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([k, e]) => {
        const via = [...(callers.get(k) ?? new Map<string, number>()).entries()].sort((a, b) => b[1] - a[1])[0];
        return via ? { ...entry(e), via: `${via[0]} [${Math.round((100 * via[1]) / e.us)}%]` } : entry(e);
      }),
    byCategory: [...cats.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([category, us]) => ({ category, ms: us / 1000, pct: pct(us) })),
    topProjectInclusive: [...incl.values()]
      .filter((e) => isProject(categoryOf(e.cf)))
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map(entry),
    topLibraryInclusive: [...incl.values()]
      .filter((e) => {
        const c = categoryOf(e.cf);
        return (c === "node internals" || c.startsWith("npm:")) && !GENERIC.has(e.cf.functionName || "(anonymous)");
      })
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map(entry),
  };
}

export function formatSummary(s: ProfileSummary, label = ""): string {
  const out: string[] = [];
  const f = (x: number) => x.toFixed(1).padStart(7);
  out.push(`${label ? `${label}: ` : ""}${s.file}`);
  out.push(`  ${s.window}: sampled ${s.sampledMs.toFixed(0)} ms, busy ${s.busyMs.toFixed(0)} ms (${((100 * s.busyMs) / Math.max(1, s.sampledMs)).toFixed(0)}%), idle ${s.idleMs.toFixed(0)} ms; percentages are of busy time`);
  out.push("  top self time:");
  s.topSelf.forEach((e, i) => {
    out.push(`   ${f(e.pct)}% ${f(e.ms)} ms  ${e.name}  ${e.where ? `(${e.where})` : ""}`);
    if (i < 10 && e.via) out.push(`              via ${e.via}`);
  });
  out.push("  self time by package / file:");
  for (const c of s.byCategory) out.push(`   ${f(c.pct)}% ${f(c.ms)} ms  ${c.category}`);
  out.push("  project functions by inclusive time:");
  for (const e of s.topProjectInclusive) out.push(`   ${f(e.pct)}% ${f(e.ms)} ms  ${e.name}  (${e.where})`);
  out.push("  node / npm functions by inclusive time (generic event-loop frames left out):");
  for (const e of s.topLibraryInclusive) out.push(`   ${f(e.pct)}% ${f(e.ms)} ms  ${e.name}  (${e.where})`);
  return out.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: profile-summary.ts <file.cpuprofile> [--top N]");
    process.exit(2);
  }
  const i = process.argv.indexOf("--top");
  const top = i > 0 ? Number(process.argv[i + 1]) : 25;
  console.log(formatSummary(summarize(file, top)));
}
