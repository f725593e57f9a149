// A small undici-based HTTP/1.1 load generator, meant to run in its own process (run.ts spawns it).
//
//   node --import tsx bench/http/load.ts --url http://127.0.0.1:8080/1k [--host name] \
//        [--connections 64] [--duration 8] [--warmup 2] [--rate R]
//
// Without --rate it is closed-loop: each of N keep-alive connections sends its next request as soon
// as the previous response ended. With --rate it is open-loop at a fixed R requests/s spread evenly
// over time (wrk2-style): requests are handed to the pool on schedule whether or not earlier ones
// finished, so a slow server queues them and the queueing shows up in the latency. Latency runs from
// the moment a request is handed to the pool to the end of its response body; `lagP99Ms` tells how
// late the generator itself was against the schedule (timer granularity, ~1 ms).
//
// Only requests that start and end inside the measured window (after the warm-up) are recorded.
// Prints one JSON line: {requests, rps, p50Ms, p90Ms, p99Ms, maxMs, errors, non2xx, bytes, ...}.
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Pool, type Dispatcher } from "undici";

export interface LoadResult {
  mode: "closed" | "rate";
  connections: number;
  targetRate?: number;
  durationS: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  errors: number;
  non2xx: number;
  bytes: number;
  lagP99Ms?: number;
  firstError?: string;
}

/** Latencies in ms, appended to a growable typed array. */
class Samples {
  private a = new Float64Array(1 << 16);
  n = 0;
  add(v: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  sorted(): Float64Array {
    return this.a.slice(0, this.n).sort();
  }
}

function pct(s: Float64Array, q: number): number {
  if (s.length === 0) return 0;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export async function runLoad(o: { url: string; host?: string; connections: number; durationS: number; warmupS: number; rate?: number }): Promise<LoadResult> {
  const u = new URL(o.url);
  const pool = new Pool(u.origin, {
    connections: o.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 120_000,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const opts: Dispatcher.DispatchOptions = {
    path: u.pathname + u.search,
    method: "GET",
    headers: o.host ? { host: o.host } : {},
  };

  const lat = new Samples();
  const lag = new Samples();
  let completedInWindow = 0;
  let errors = 0;
  let non2xx = 0;
  let bytes = 0;
  let inflight = 0;
  let firstError: string | undefined;

  const t0 = performance.now();
  const mStart = t0 + o.warmupS * 1000;
  const mEnd = mStart + o.durationS * 1000;
  let stopped = false;
  let onIdle: (() => void) | undefined;

  const fire = (next?: () => void) => {
    const start = performance.now();
    inflight++;
    let status = 0;
    let got = 0;
    const finish = (ok: boolean) => {
      const end = performance.now();
      inflight--;
      if (end >= mStart && end <= mEnd) {
        if (ok) {
          completedInWindow++;
          bytes += got;
          if (status < 200 || status > 299) non2xx++;
        } else errors++;
        if (ok && start >= mStart) lat.add(end - start);
      }
      if (next && !stopped) {
        if (ok) next();
        else setTimeout(next, 10); // don't spin on a refused connection
      }
      if (inflight === 0 && stopped) onIdle?.();
    };
    // The legacy handler shape: Client/Pool in undici 7 still validate onConnect/onHeaders/...
    pool.dispatch(opts, {
      onConnect() {},
      onHeaders(statusCode: number) {
        status = statusCode;
        return true;
      },
      onData(chunk: Buffer) {
        got += chunk.length;
        return true;
      },
      onComplete() {
        finish(true);
      },
      onError(err: Error) {
        firstError ??= err.message;
        finish(false);
      },
    } as unknown as Dispatcher.DispatchHandler);
  };

  if (o.rate === undefined) {
    for (let i = 0; i < o.connections; i++) {
      const loop = () => {
        if (performance.now() >= mEnd) return;
        fire(loop);
      };
      loop();
    }
    await new Promise<void>((r) => setTimeout(r, mEnd - performance.now()));
  } else {
    const rate = o.rate;
    const interval = 1000 / rate;
    let issued = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        const limit = Math.min(now, mEnd);
        const due = Math.floor((limit - t0) / interval);
        while (issued < due) {
          const intended = t0 + issued * interval;
          if (intended >= mStart) lag.add(now - intended);
          issued++;
          fire();
        }
        if (now >= mEnd) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
  }
  stopped = true;
  if (inflight > 0) {
    let t: NodeJS.Timeout | undefined;
    await new Promise<void>((r) => ((onIdle = r), (t = setTimeout(r, 15_000))));
    clearTimeout(t);
  }
  await pool.close().catch(() => {});

  const s = lat.sorted();
  let sum = 0;
  for (const v of s) sum += v;
  const result: LoadResult = {
    mode: o.rate === undefined ? "closed" : "rate",
    connections: o.connections,
    durationS: o.durationS,
    requests: completedInWindow,
    rps: completedInWindow / o.durationS,
    p50Ms: pct(s, 0.5),
    p90Ms: pct(s, 0.9),
    p99Ms: pct(s, 0.99),
    maxMs: s.length ? s[s.length - 1]! : 0,
    meanMs: s.length ? sum / s.length : 0,
    errors,
    non2xx,
    bytes,
  };
  if (o.rate !== undefined) {
    result.targetRate = o.rate;
    result.lagP99Ms = pct(lag.sorted(), 0.99);
  }
  if (firstError) result.firstError = firstError;
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      host: { type: "string" },
      connections: { type: "string", default: "64" },
      duration: { type: "string", default: "8" },
      warmup: { type: "string", default: "2" },
      rate: { type: "string" },
    },
  });
  if (!values.url) {
    console.error("usage: load.ts --url URL [--host H] [--connections N] [--duration S] [--warmup S] [--rate R]");
    process.exit(2);
  }
  const r = await runLoad({
    url: values.url,
    host: values.host,
    connections: Number(values.connections),
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    rate: values.rate === undefined ? undefined : Number(values.rate),
  });
  process.stdout.write(JSON.stringify(r) + "\n");
}
