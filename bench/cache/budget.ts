// Cache budgets (issue acceptance 6): with a 64 MiB memory and a 256 MiB disk budget, 1 GiB of distinct
// objects streamed through the tiered store never grows RSS past the memory budget + 64 MiB over the
// process's baseline, nor the cache folder past the disk budget. Objects are mixed: mostly small
// (memory and disk), some up to 1 MiB and a few of 4–8 MiB (disk only); several stream at once in
// 16–64 KiB chunks a tick apart, as the cache tee sees them, and a hot set of recent small objects is
// read back throughout. RSS is sampled every 20 ms, the folder (a du-like walk, apparent sizes and
// allocated blocks) every 100 ms.
// The store is the one `warren serve` opens (proxy/cache/open-store.ts): the real MemoryTier in front
// of the disk tier, both under the settings' budgets.
// `--control` runs the same traffic past no cache: the buffers alone (fresh per chunk, as from the
// network) cost RSS through GC lag whether or not anything is cached.
// It runs itself again under the node flags of the `warren` command (cli/node-flags.ts) and the GC
// setting cli/bin.mjs makes, when started without them: the store is measured in the V8 `warren serve` has.
// Run: node --import tsx bench/cache/budget.ts [--total-mib 1024] [--memory-mib 64] [--disk-mib 256] [--concurrency 8] [--mib-per-s 150] [--control] [--json]
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as tick, setTimeout as sleep } from "node:timers/promises";
import { openTieredStore } from "../../proxy/cache/tiered-store.ts";
import { metaFor } from "../../test/helpers/cache-entries.ts";
import { MemoryTier } from "../../proxy/cache/memory-tier.ts";
import { retainBufferReclaimer } from "../../lib/buffer-reclaimer.ts";
import { spawnSync } from "node:child_process";
import { NODE_FLAGS, startedWithNodeFlags } from "../../cli/node-flags.ts";

if (!startedWithNodeFlags()) {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, "--heap-growing-percent=400", ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}

const { values } = parseArgs({
  options: {
    "total-mib": { type: "string", default: "1024" },
    "memory-mib": { type: "string", default: "64" },
    "disk-mib": { type: "string", default: "256" },
    "hot-kib": { type: "string", default: "256" },
    concurrency: { type: "string", default: "8" },
    /** Origin bandwidth, all lanes together: the tier drops writers the disk cannot keep up with, so an unpaced flood measures drops. */
    "mib-per-s": { type: "string", default: "150" },
    json: { type: "boolean", default: false },
    /** The same traffic with no cache: what the chunks alone cost (GC lag of buffers passing through). */
    control: { type: "boolean", default: false },
    /** Without the buffer reclaimer warren serve runs (lib/buffer-reclaimer.ts). */
    "no-reclaimer": { type: "boolean", default: false },
  },
});

// As in `warren serve`, whose data plane runs the buffer reclaimer: dead chunks are freed promptly
// instead of at V8's 64 MiB external-memory limit. `--no-reclaimer` measures without it.
if (!values["no-reclaimer"]) retainBufferReclaimer();
const MiB = 1 << 20;
const total = Number(values["total-mib"]) * MiB;
const settings = {
  enabled: true,
  memoryBytes: Number(values["memory-mib"]) * MiB,
  diskBytes: Number(values["disk-mib"]) * MiB,
  maxEntries: 100_000,
  hotObjectBytes: Number(values["hot-kib"]) * 1024,
};
const concurrency = Number(values.concurrency);
const bytesPerMs = (Number(values["mib-per-s"]) * MiB) / 1000;

/** A small deterministic PRNG (mulberry32): the same mix of sizes every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = random(6);
const sizeOf = (): number => {
  const r = rnd();
  if (r < 0.7) return 1 + Math.floor(rnd() * 256 * 1024); // hot-sized: memory and disk
  if (r < 0.95) return 256 * 1024 + Math.floor(rnd() * 768 * 1024);
  return 4 * MiB + Math.floor(rnd() * 4 * MiB);
};

/** Apparent bytes of the files, blocks allocated to files and directories (as `du` counts), files. */
function walk(dir: string): { bytes: number; blocks: number; files: number } {
  let bytes = 0;
  let blocks = 0;
  try {
    blocks = statSync(dir).blocks * 512;
  } catch {
    return { bytes, blocks, files: 0 };
  }
  let files = 0;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return { bytes, blocks, files };
  }
  for (const n of names) {
    const p = join(dir, n);
    try {
      const st = statSync(p);
      if (st.isDirectory()) {
        const w = walk(p);
        bytes += w.bytes;
        blocks += w.blocks;
        files += w.files;
      } else {
        bytes += st.size;
        blocks += st.blocks * 512;
        files++;
      }
    } catch {
      // unlinked while walking
    }
  }
  return { bytes, blocks, files };
}

const dir = mkdtempSync(join(tmpdir(), "warren-cache-budget-"));
const store = await openTieredStore(join(dir, "cache"), settings, new MemoryTier(settings));
const pool = randomBytes(MiB);

// The baseline is taken once the index writer thread is up (its first batch written).
const warm = metaFor("bench.test/warm");
store.begin(warm)?.commit();
await store.settled();
store.delete(warm.key);
await store.settled();
global.gc?.();
const baselineRss = process.memoryUsage.rss();
let maxRss = baselineRss;
let atMax = process.memoryUsage();
let maxFolder = { bytes: 0, blocks: 0, files: 0 };
let maxMemoryTier = 0;
const rssTimer = setInterval(() => {
  const m = process.memoryUsage();
  if (m.rss > maxRss) {
    maxRss = m.rss;
    atMax = m;
  }
  maxMemoryTier = Math.max(maxMemoryTier, store.usage().memory.bytes);
}, 20);
const folderTimer = setInterval(() => {
  const w = walk(join(dir, "cache"));
  if (w.bytes > maxFolder.bytes) maxFolder = { ...w, blocks: Math.max(w.blocks, maxFolder.blocks) };
  else maxFolder.blocks = Math.max(maxFolder.blocks, w.blocks);
}, 100);

let t0 = performance.now();
let next = 0;
let chunkBytes = 0;
let sent = 0;
let objects = 0;
let stored = 0;
let hotReads = 0;
let hotHits = 0;
const recentSmall: string[] = [];

async function writeOne(i: number, size: number): Promise<void> {
  const meta = metaFor(`bench.test/o/${i}`);
  const w = values.control ? { write: (_c: Buffer) => {}, commit: () => {} } : store.begin(meta);
  if (w === undefined) return;
  let off = 0;
  while (off < size) {
    const n = Math.min(size - off, 16 * 1024 + Math.floor(rnd() * 48 * 1024));
    const start = (i * 4099 + off) % (pool.length - n);
    // A fresh buffer per chunk, as the network hands them over.
    w.write(Buffer.from(pool.subarray(start, start + n)));
    off += n;
    chunkBytes += n;
    const ahead = chunkBytes / bytesPerMs - (performance.now() - t0);
    await (ahead > 1 ? sleep(ahead) : tick());
  }
  w.commit();
  if (store.get(meta.key) !== undefined) stored++;
  if (size <= settings.hotObjectBytes) {
    recentSmall.push(meta.key);
    if (recentSmall.length > 64) recentSmall.shift();
  }
}

async function lane(): Promise<void> {
  while (sent < total) {
    const size = sizeOf();
    sent += size;
    objects++;
    await writeOne(next++, size);
    // The hot set: a recent small object is read back after every object.
    const key = recentSmall[Math.floor(rnd() * recentSmall.length)];
    if (key !== undefined) {
      hotReads++;
      const e = store.get(key);
      if (e !== undefined) {
        hotHits++;
        // Drained as a socket would take it, without gathering the body into one buffer.
        for await (const _chunk of e.open());
      }
    }
  }
}

t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, lane));
await store.settled();
const seconds = (performance.now() - t0) / 1000;
clearInterval(rssTimer);
clearInterval(folderTimer);
const end = walk(join(dir, "cache"));
const usage = store.usage();
const drops = store.dropCounts();
await store.close();
rmSync(dir, { recursive: true, force: true });

const mib = (n: number) => Math.round((n / MiB) * 10) / 10;
const rssGrowth = maxRss - baselineRss;
const result = {
  objects,
  streamedMiB: mib(sent),
  seconds: Math.round(seconds * 10) / 10,
  mibPerSecond: Math.round(sent / MiB / seconds),
  storedObjects: stored,
  droppedObjects: objects - stored,
  drops,
  hotReads,
  hotHitRatio: Math.round((hotHits / Math.max(1, hotReads)) * 1000) / 1000,
  baselineRssMiB: mib(baselineRss),
  maxRssMiB: mib(maxRss),
  rssGrowthMiB: mib(rssGrowth),
  rssGrowthGoalMiB: mib(settings.memoryBytes + 64 * MiB),
  maxMemoryTierMiB: mib(maxMemoryTier),
  memoryBudgetMiB: mib(settings.memoryBytes),
  maxFolderMiB: mib(maxFolder.bytes),
  maxFolderAllocatedMiB: mib(maxFolder.blocks),
  maxFolderFiles: maxFolder.files,
  diskBudgetMiB: mib(settings.diskBytes),
  endFolderMiB: mib(end.bytes),
  endEntries: { memory: usage.memory.entries, disk: usage.disk.entries },
  endBytesMiB: { memory: mib(usage.memory.bytes), disk: mib(usage.disk.bytes) },
  ok: rssGrowth <= settings.memoryBytes + 64 * MiB && maxFolder.bytes <= settings.diskBytes && maxMemoryTier <= settings.memoryBytes,
};
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(`streamed ${result.streamedMiB} MiB in ${result.objects} objects (${concurrency} at once) in ${result.seconds} s (${result.mibPerSecond} MiB/s); stored ${stored}, dropped ${result.droppedObjects} ${JSON.stringify(drops)}`);
  console.log(`hot reads ${hotReads}, hit ratio ${result.hotHitRatio}`);
  console.log(`RSS: baseline ${result.baselineRssMiB} MiB, max ${result.maxRssMiB} MiB, growth ${result.rssGrowthMiB} MiB (goal ≤ ${result.rssGrowthGoalMiB} MiB)`);
  console.log(`  at the max: heap ${mib(atMax.heapUsed)} MiB used of ${mib(atMax.heapTotal)}, array buffers ${mib(atMax.arrayBuffers)} MiB, external ${mib(atMax.external)} MiB`);
  console.log(`memory tier: max ${result.maxMemoryTierMiB} MiB (budget ${result.memoryBudgetMiB} MiB)`);
  console.log(`cache folder: max ${result.maxFolderMiB} MiB apparent, ${result.maxFolderAllocatedMiB} MiB allocated, ${maxFolder.files} files (budget ${result.diskBudgetMiB} MiB); at the end ${result.endFolderMiB} MiB`);
  console.log(`at the end: memory ${usage.memory.entries} entries / ${result.endBytesMiB.memory} MiB, disk ${usage.disk.entries} entries / ${result.endBytesMiB.disk} MiB`);
  console.log(result.ok ? "OK: within budgets" : "OVER BUDGET");
}
process.exitCode = result.ok ? 0 : 1;
