// Rate-limit decisions per second and their latency, per algorithm and store, beside
// rate-limiter-flexible's fixed-window limiters (the alternative DESIGN.md names), in one table:
// - memory: synchronous consumes on one hot key and on 100k distinct keys (cap raised to 100k, so
//   the heap holds them all), and on 100k keys with the default 10k cap (eviction on every miss);
// - redis: one decision at a time (p50/p99 of a round trip) and 32 in flight (decisions/s), against
//   a redis-server this bench starts on loopback.
// Run: node --expose-gc --import tsx bench/policy/rate-limit.ts [--n 300000] [--redis-n 20000]
import { parseArgs } from "node:util";
import { createClient } from "@redis/client";
import { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";
import { MemoryStore } from "../../proxy/policy/rate-limit/memory-store.ts";
import { RedisStore } from "../../proxy/policy/rate-limit/redis-store.ts";
import type { LimitSpec, RateLimitAlgorithm } from "../../proxy/policy/rate-limit/store.ts";
import { ResilientStore } from "../../proxy/policy/rate-limit/resilient-store.ts";
import { RedisServer, redisMissing } from "../../test/helpers/redis-server.ts";
import { freePort } from "../../test/helpers/agent-process.ts";
import pino from "pino";

const { values } = parseArgs({ options: { n: { type: "string", default: "300000" }, "redis-n": { type: "string", default: "20000" } } });
const N = Number(values.n);
const REDIS_N = Number(values["redis-n"]);
const KEYS = 100_000;
const ALGORITHMS: RateLimitAlgorithm[] = ["fixed_window", "sliding_window", "token_bucket"];
// A limit no bench key reaches, so every decision is an allow that writes state.
const spec = (algorithm: RateLimitAlgorithm): LimitSpec => ({ algorithm, limit: 1_000_000, windowMs: 60_000, burst: 0, failClosed: false });
const keys = Array.from({ length: KEYS }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

const gc = (globalThis as { gc?: () => void }).gc;
function heapMb(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed / 1e6;
}
/** RLF's memory limiter keeps a (unref'd, so uncounted by getActiveResourcesInfo) timer in each key's record. */
function rlfTimers(limiter: RateLimiterMemory): number {
  const storage = (limiter as unknown as { _memoryStorage: { _storage: Map<string, { timeoutId: unknown }> } })._memoryStorage._storage;
  let n = 0;
  for (const record of storage.values()) if (record.timeoutId) n++;
  return n;
}

interface Row {
  store: string;
  algorithm: string;
  case: string;
  "decisions/s": string;
  "p50 µs": string;
  "p99 µs": string;
  "heap MB": string;
  timers: string;
}
const rows: Row[] = [];
const row = (r: Partial<Row> & Pick<Row, "store" | "algorithm" | "case">) => rows.push({ "decisions/s": "", "p50 µs": "", "p99 µs": "", "heap MB": "", timers: "", ...r });
const rate = (n: number, ms: number) => `${((n / ms) * 1000 / 1e6).toFixed(2)} M`;

// Memory, synchronous.
for (const algorithm of ALGORITHMS) {
  const s = spec(algorithm);
  {
    const store = new MemoryStore({ pruneIntervalMs: 0 });
    for (let i = 0; i < N / 10; i++) store.consume("ns", "hot", s);
    const t0 = performance.now();
    for (let i = 0; i < N; i++) store.consume("ns", "hot", s);
    row({ store: "MemoryStore", algorithm, case: "1 hot key", "decisions/s": rate(N, performance.now() - t0) });
  }
  {
    const before = heapMb();
    const store = new MemoryStore({ pruneIntervalMs: 0, maxKeysPerNamespace: KEYS });
    const t0 = performance.now();
    for (let i = 0; i < N; i++) store.consume("ns", keys[i % KEYS]!, s);
    const ms = performance.now() - t0;
    row({ store: "MemoryStore", algorithm, case: "100k keys", "decisions/s": rate(N, ms), "heap MB": (heapMb() - before).toFixed(1), timers: "0" });
    await store.close();
  }
  {
    const store = new MemoryStore({ pruneIntervalMs: 0 });
    const t0 = performance.now();
    for (let i = 0; i < N; i++) store.consume("ns", keys[i % KEYS]!, s);
    row({ store: "MemoryStore", algorithm, case: "100k keys, 10k cap", "decisions/s": rate(N, performance.now() - t0) });
    await store.close();
  }
}

// The Redis store with Redis unreachable: every decision from the memory fallback, still synchronous.
{
  const store = new ResilientStore(`redis://127.0.0.1:${await freePort()}`, pino({ level: "silent" }));
  const s = spec("sliding_window");
  const t0 = performance.now();
  for (let i = 0; i < N; i++) store.consume("ns", keys[i % KEYS]!, s);
  row({ store: "ResilientStore, Redis down", algorithm: "sliding_window", case: "100k keys, 10k cap", "decisions/s": rate(N, performance.now() - t0) });
  await store.close();
}

// rate-limiter-flexible's memory limiter: a Promise per consume, a rejection per denial, a timer per key.
{
  const before = heapMb();
  const limiter = new RateLimiterMemory({ points: 1_000_000, duration: 60 });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await limiter.consume(keys[i % KEYS]!);
  const ms = performance.now() - t0;
  row({ store: "RLF RateLimiterMemory", algorithm: "fixed_window", case: "100k keys", "decisions/s": rate(N, ms), "heap MB": (heapMb() - before).toFixed(1), timers: String(rlfTimers(limiter)) });
  const hot = new RateLimiterMemory({ points: 1_000_000_000, duration: 60 });
  const t1 = performance.now();
  for (let i = 0; i < N; i++) await hot.consume("hot");
  row({ store: "RLF RateLimiterMemory", algorithm: "fixed_window", case: "1 hot key", "decisions/s": rate(N, performance.now() - t1) });
}

function percentiles(samples: number[]): { p50: string; p99: string } {
  samples.sort((a, b) => a - b);
  const at = (q: number) => ((samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0) * 1000).toFixed(0);
  return { p50: at(0.5), p99: at(0.99) };
}

async function latency(consume: (key: string) => Promise<unknown>): Promise<{ p50: string; p99: string }> {
  for (let i = 0; i < 1000; i++) await consume(keys[i % KEYS]!);
  const samples: number[] = [];
  for (let i = 0; i < REDIS_N; i++) {
    const t = performance.now();
    await consume(keys[i % KEYS]!);
    samples.push(performance.now() - t);
  }
  return percentiles(samples);
}

async function throughput(consume: (key: string) => Promise<unknown>, inFlight = 32): Promise<string> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < REDIS_N) await consume(keys[next++ % KEYS]!);
    }),
  );
  return `${Math.round((REDIS_N / (performance.now() - t0)) * 1000)}`;
}

if (redisMissing) {
  console.log(`redis rows skipped: ${redisMissing}`);
} else {
  const server = await RedisServer.start();
  try {
    const store = new RedisStore(server.url, { commandTimeoutMs: 5_000 }).connect();
    await store.whenReady();
    for (const algorithm of ALGORITHMS) {
      const s = spec(algorithm);
      const one = (key: string) => store.consume(`bench_${algorithm}`, key, s);
      const { p50, p99 } = await latency(one);
      row({ store: "RedisStore", algorithm, case: "1 at a time / 32 in flight", "p50 µs": p50, "p99 µs": p99, "decisions/s": await throughput(one) });
    }
    await store.close();

    const client = createClient({ url: server.url });
    client.on("error", () => {});
    await client.connect();
    const limiter = new RateLimiterRedis({ storeClient: client, useRedisPackage: true, points: 1_000_000, duration: 60, keyPrefix: "rlf" });
    const one = (key: string) => limiter.consume(key);
    const { p50, p99 } = await latency(one);
    row({ store: "RLF RateLimiterRedis", algorithm: "fixed_window", case: "1 at a time / 32 in flight", "p50 µs": p50, "p99 µs": p99, "decisions/s": await throughput(one) });
    await client.close();
  } finally {
    await server.stop();
  }
}

console.log(`rate-limit decisions, Node ${process.version}, ${N} memory / ${REDIS_N} redis decisions per row${gc ? "" : " (run with --expose-gc for heap numbers)"}`);
console.table(rows);
console.log(JSON.stringify(rows));
