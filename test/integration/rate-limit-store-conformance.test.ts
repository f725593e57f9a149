// One suite for every rate-limit algorithm × store (DESIGN.md §8): the memory store and the Redis
// store against a real redis-server. Both run on a clock the test drives (the Redis store's test
// clock), so window edges are exact and nothing depends on how loaded the machine is (under a test
// clock the scripts keep keys 10 real minutes, so PEXPIRE never fires mid-test). Then the store the data
// plane uses with Redis (ResilientStore) against a redis-server that is killed, hung and restarted.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import pino from "pino";
import { createClient } from "@redis/client";
import { MemoryStore } from "../../proxy/policy/rate-limit/memory-store.ts";
import { RedisStore } from "../../proxy/policy/rate-limit/redis-store.ts";
import { ResilientStore } from "../../proxy/policy/rate-limit/resilient-store.ts";
import { createRateLimitStore } from "../../proxy/policy/rate-limit/create-store.ts";
import type { Decision, LimitSpec, RateLimitAlgorithm, RateLimitStore } from "../../proxy/policy/rate-limit/store.ts";
import { RedisServer, redisMissing } from "../helpers/redis-server.ts";
import { freePort } from "../helpers/agent-process.ts";

/** A window boundary for every window used here (a multiple of an hour). */
const T0 = 1_800_000_000_000;
const MINUTE = 60_000;
const ALGORITHMS: RateLimitAlgorithm[] = ["fixed_window", "sliding_window", "token_bucket"];

const spec = (algorithm: RateLimitAlgorithm, limit: number, windowMs = MINUTE, burst = 0): LimitSpec => ({ algorithm, limit, windowMs, burst, failClosed: false });

let namespaces = 0;
/** A namespace no other test has used (Redis keeps state between tests). */
const freshNamespace = () => `rule_${process.pid}_${++namespaces}`;

/** Consumes `n` times at `now`, one after another. */
async function consumeN(store: RateLimitStore, ns: string, key: string, s: LimitSpec, now: number, n: number): Promise<Decision[]> {
  const out: Decision[] = [];
  for (let i = 0; i < n; i++) out.push(await store.consume(ns, key, s, now));
  return out;
}

const brief = (d: Decision) => ({ allowed: d.allowed, remaining: d.remaining, resetMs: d.resetMs, retryAfterMs: d.retryAfterMs });

/** A small deterministic PRNG (mulberry32), so a failing random sequence replays. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random walk of consumes over a few windows: the time steps, keys and specs each store sees. */
function randomSequence(algorithm: RateLimitAlgorithm, seed: number) {
  const next = random(seed);
  const steps: { key: string; now: number; s: LimitSpec }[] = [];
  // Limits and windows that make fractional emission intervals and uneven window shares.
  const s = spec(algorithm, 7, 3 * MINUTE, algorithm === "token_bucket" ? 11 : 0);
  let now = T0 + 12_345;
  for (let i = 0; i < 400; i++) {
    now += Math.floor(next() < 0.7 ? next() * 2_000 : next() * 40_000);
    steps.push({ key: `k${Math.floor(next() * 3)}`, now, s });
  }
  return steps;
}

interface StoreUnderTest {
  readonly name: "memory" | "redis";
  store: RateLimitStore;
}

function conformance(subject: StoreUnderTest, extra: () => void) {
  describe(`${subject.name} store`, () => {
    it("fixed_window: exactly limit requests per window, counted afresh at the window edge", async () => {
      const { store } = subject;
      const ns = freshNamespace();
      const s = spec("fixed_window", 5);
      const first = await consumeN(store, ns, "k", s, T0 + 59_000, 6);
      assert.deepEqual(
        first.map(brief),
        [4, 3, 2, 1, 0].map((remaining) => ({ allowed: true, remaining, resetMs: 1_000, retryAfterMs: 0 })).concat({ allowed: false, remaining: 0, resetMs: 1_000, retryAfterMs: 1_000 }),
      );
      assert.deepEqual(brief(await store.consume(ns, "k", s, T0 + 59_999)), { allowed: false, remaining: 0, resetMs: 1, retryAfterMs: 1 });
      assert.deepEqual(brief(await store.consume(ns, "k", s, T0 + 60_000)), { allowed: true, remaining: 4, resetMs: 60_000, retryAfterMs: 0 });
      assert.equal(first[0]!.limit, 5);
      assert.equal(first[0]!.degraded, false);
    });

    it("sliding_window: the previous window weighs by the share of it still inside the sliding window", async () => {
      const { store } = subject;
      const ns = freshNamespace();
      const s = spec("sliding_window", 10);
      const filled = await consumeN(store, ns, "k", s, T0 + 30_000, 11);
      assert.deepEqual(
        filled.map((d) => d.allowed),
        [...Array(10).fill(true), false],
      );
      assert.deepEqual(brief(filled[9]!), { allowed: true, remaining: 0, resetMs: 90_000, retryAfterMs: 0 });
      // Full now, and the next window starts with the whole of this one weighing: 6 s into it, 10 × 54/60 = 9 leaves room for one.
      assert.deepEqual(brief(filled[10]!), { allowed: false, remaining: 0, resetMs: 90_000, retryAfterMs: 36_000 });
      assert.deepEqual(brief(await store.consume(ns, "k", s, T0 + 65_999)), { allowed: false, remaining: 0, resetMs: 54_001, retryAfterMs: 1 });
      assert.deepEqual(brief(await store.consume(ns, "k", s, T0 + 66_000)), { allowed: true, remaining: 0, resetMs: 114_000, retryAfterMs: 0 });
      // One more must wait until 10 × (60 − e)/60 + 1 + 1 ≤ 10, i.e. e = 12 s.
      assert.deepEqual(brief(await store.consume(ns, "k", s, T0 + 66_000)), { allowed: false, remaining: 0, resetMs: 114_000, retryAfterMs: 6_000 });
      // Half way, the previous window counts 5: four more fit beside the one already counted.
      const half = await consumeN(store, ns, "k", s, T0 + 90_000, 5);
      assert.deepEqual(
        half.map((d) => [d.allowed, d.remaining]),
        [
          [true, 3],
          [true, 2],
          [true, 1],
          [true, 0],
          [false, 0],
        ],
      );
    });

    it("sliding_window: a denied request does not count", async () => {
      const { store } = subject;
      const ns = freshNamespace();
      const s = spec("sliding_window", 2);
      const d = await consumeN(store, ns, "k", s, T0 + 1_000, 7);
      assert.deepEqual(
        d.map((x) => x.allowed),
        [true, true, false, false, false, false, false],
      );
      // Half way through the next window the previous one weighs 2 × 0.5 = 1: room for exactly one (7 counted would weigh 3.5).
      assert.deepEqual(
        (await consumeN(store, ns, "k", s, T0 + 90_000, 2)).map((x) => x.allowed),
        [true, false],
      );
    });

    it("token_bucket: a burst of the bucket's capacity, then one request per emission interval", async () => {
      const { store } = subject;
      const ns = freshNamespace();
      const s = spec("token_bucket", 10, 10_000, 20); // one token a second, 20 in the bucket
      const burst = await consumeN(store, ns, "k", s, T0, 21);
      assert.deepEqual(
        burst.slice(0, 20).map(brief),
        Array.from({ length: 20 }, (_, i) => ({ allowed: true, remaining: 19 - i, resetMs: (i + 1) * 1_000, retryAfterMs: 0 })),
      );
      assert.deepEqual(brief(burst[20]!), { allowed: false, remaining: 0, resetMs: 20_000, retryAfterMs: 1_000 });
      assert.equal(burst[0]!.limit, 20, "the quota a client sees is the capacity");
      assert.deepEqual(brief(await store.consume(ns, "k", s, T0 + 999)), { allowed: false, remaining: 0, resetMs: 19_001, retryAfterMs: 1 });
      assert.deepEqual(brief(await store.consume(ns, "k", s, T0 + 1_000)), { allowed: true, remaining: 0, resetMs: 20_000, retryAfterMs: 0 });
      // After 5.5 s idle, 5 tokens are back (floor of 5.5).
      assert.deepEqual(brief(await store.consume(ns, "k", s, T0 + 6_500)), { allowed: true, remaining: 4, resetMs: 15_500, retryAfterMs: 0 });
    });

    it("token_bucket: capacity is the limit when burst is 0; exact values for a fractional interval", async () => {
      const { store } = subject;
      const ns = freshNamespace();
      const s = spec("token_bucket", 3, 1_000); // 333⅓ ms per token
      const d = await consumeN(store, ns, "k", s, T0, 4);
      assert.deepEqual(d.map(brief), [
        { allowed: true, remaining: 2, resetMs: 334, retryAfterMs: 0 },
        { allowed: true, remaining: 1, resetMs: 667, retryAfterMs: 0 },
        { allowed: true, remaining: 0, resetMs: 1_000, retryAfterMs: 0 },
        { allowed: false, remaining: 0, resetMs: 1_000, retryAfterMs: 334 },
      ]);
      assert.equal(d[0]!.limit, 3);
      assert.deepEqual(brief(await store.consume(ns, "k", s, T0 + 333)), { allowed: false, remaining: 0, resetMs: 667, retryAfterMs: 1 });
      assert.deepEqual(brief(await store.consume(ns, "k", s, T0 + 334)), { allowed: true, remaining: 0, resetMs: 1_000, retryAfterMs: 0 });
    });

    it("token_bucket: denied requests consume nothing", async () => {
      const { store } = subject;
      const ns = freshNamespace();
      const s = spec("token_bucket", 2, 2_000);
      assert.deepEqual(
        (await consumeN(store, ns, "k", s, T0, 8)).map((x) => x.allowed),
        [true, true, false, false, false, false, false, false],
      );
      assert.equal((await store.consume(ns, "k", s, T0 + 1_000)).allowed, true);
    });

    for (const algorithm of ALGORITHMS) {
      it(`${algorithm}: 200 concurrent consumes on a limit of 100 allow exactly 100`, async () => {
        const { store } = subject;
        const ns = freshNamespace();
        const s = spec(algorithm, 100);
        const all = await Promise.all(Array.from({ length: 200 }, () => store.consume(ns, "hot", s, T0 + 1_000)));
        assert.equal(all.filter((d) => d.allowed).length, 100);
        assert.deepEqual([...new Set(all.filter((d) => d.allowed).map((d) => d.remaining))].sort((a, b) => a - b), [...Array(100).keys()], "each remaining value once");
      });

      it(`${algorithm}: a new namespace (an edited rule) starts with a full quota`, async () => {
        const { store } = subject;
        const s = spec(algorithm, 3);
        const before = freshNamespace();
        await consumeN(store, before, "k", s, T0 + 1_000, 3);
        assert.equal((await store.consume(before, "k", s, T0 + 1_000)).allowed, false);
        const edited = await store.consume(freshNamespace(), "k", s, T0 + 1_000);
        assert.deepEqual([edited.allowed, edited.remaining], [true, 2]);
      });

      it(`${algorithm}: keys count separately`, async () => {
        const { store } = subject;
        const ns = freshNamespace();
        const s = spec(algorithm, 1);
        assert.equal((await store.consume(ns, "a", s, T0)).allowed, true);
        assert.equal((await store.consume(ns, "a", s, T0)).allowed, false);
        assert.equal((await store.consume(ns, "b", s, T0)).allowed, true);
      });

      it(`${algorithm}: the state is fresh again once resetMs has passed`, async () => {
        const { store } = subject;
        const ns = freshNamespace();
        const s = spec(algorithm, 4);
        const used = await consumeN(store, ns, "k", s, T0 + 7_000, 5);
        const last = used[4]!;
        assert.equal(last.allowed, false);
        const again = await store.consume(ns, "k", s, T0 + 7_000 + last.resetMs);
        assert.deepEqual([again.allowed, again.remaining], [true, 3], "a whole quota after resetMs");
        const early = await store.consume(freshNamespace(), "k", s, T0 + 7_000);
        assert.ok(early.allowed);
      });

      it(`${algorithm}: remaining is never negative and retryAfterMs is > 0 exactly when denied`, async () => {
        const { store } = subject;
        const ns = freshNamespace();
        let denied = 0;
        for (const { key, now, s } of randomSequence(algorithm, 7)) {
          const d = await store.consume(ns, key, s, now);
          assert.ok(d.remaining >= 0 && Number.isInteger(d.remaining), `remaining ${d.remaining}`);
          assert.ok(d.resetMs >= 0 && Number.isInteger(d.resetMs), `resetMs ${d.resetMs}`);
          if (d.allowed) assert.equal(d.retryAfterMs, 0);
          else {
            denied++;
            assert.ok(d.retryAfterMs > 0 && Number.isInteger(d.retryAfterMs), `retryAfterMs ${d.retryAfterMs}`);
          }
        }
        assert.ok(denied > 0, "the sequence reached the limit");
      });

      it(`${algorithm}: a request at now + retryAfterMs is allowed, one 1 ms earlier is not`, async () => {
        const { store } = subject;
        const next = random(42);
        for (let round = 0; round < 6; round++) {
          const s = spec(algorithm, 2 + Math.floor(next() * 5), MINUTE, algorithm === "token_bucket" ? Math.floor(next() * 8) : 0);
          // The same history in three namespaces, then one probe each: at the denial, 1 ms before the retry time, at it.
          const [a, b, c] = [freshNamespace(), freshNamespace(), freshNamespace()];
          let now = T0 + Math.floor(next() * MINUTE);
          let denial: Decision | undefined;
          while (denial === undefined) {
            const d = await store.consume(a, "k", s, now);
            await store.consume(b, "k", s, now);
            await store.consume(c, "k", s, now);
            if (!d.allowed) denial = d;
            else now += Math.floor(next() * 3_000);
          }
          if (denial.retryAfterMs > 1) assert.equal((await store.consume(b, "k", s, now + denial.retryAfterMs - 1)).allowed, false, `round ${round}: 1 ms early`);
          assert.equal((await store.consume(c, "k", s, now + denial.retryAfterMs)).allowed, true, `round ${round}: at Retry-After`);
        }
      });
    }

    extra();
  });
}

describe("rate-limit store conformance", () => {
  const memory: StoreUnderTest = { name: "memory", store: new MemoryStore({ pruneIntervalMs: 0 }) };
  after(() => memory.store.close());

  conformance(memory, () => {
    it("evicts the least recently used key at maxKeysPerNamespace", () => {
      const store = new MemoryStore({ maxKeysPerNamespace: 3, pruneIntervalMs: 0 });
      const s = spec("fixed_window", 2);
      for (const key of ["a", "b", "c", "a"]) store.consume("ns", key, s, T0);
      store.consume("ns", "d", s, T0); // full: b is the least recently used
      assert.equal(store.keyCount("ns"), 3);
      assert.equal(store.consume("ns", "a", s, T0).allowed, false, "a kept its count");
      assert.equal(store.consume("ns", "b", s, T0).remaining, 1, "b was evicted and starts afresh");
      assert.equal(store.keyCount("ns"), 3);
      assert.equal(store.consume("other", "x", s, T0).allowed, true, "the cap is per namespace");
      assert.equal(store.keyCount("ns"), 3);
    });

    it("prunes keys whose state has expired, for each algorithm", () => {
      const store = new MemoryStore({ pruneIntervalMs: 0 });
      for (const algorithm of ALGORITHMS) {
        const s = spec(algorithm, 3);
        const d = store.consume(algorithm, "k", s, T0 + 5_000);
        store.prune(T0 + 5_000 + d.resetMs - 1);
        assert.equal(store.keyCount(algorithm), 1, `${algorithm}: kept before resetMs`);
        store.prune(T0 + 5_000 + d.resetMs);
        assert.equal(store.keyCount(algorithm), 0, `${algorithm}: pruned at resetMs`);
      }
    });
  });

  describe("redis", { skip: redisMissing }, () => {
    let server: RedisServer;
    const redis: StoreUnderTest = { name: "redis", store: undefined as unknown as RateLimitStore };
    let raw: ReturnType<typeof createClient>;
    before(async () => {
      server = await RedisServer.start();
      const store = new RedisStore(server.url, { clientClock: true }).connect();
      await store.whenReady();
      redis.store = store;
      raw = createClient({ url: server.url });
      raw.on("error", () => {});
      await raw.connect();
    });
    after(async () => {
      await raw?.close();
      await redis.store?.close();
      await server?.stop();
    });

    conformance(redis, () => {
      for (const algorithm of ALGORITHMS) {
        it(`${algorithm}: decides exactly as the memory store over a random sequence`, async () => {
          const memory = new MemoryStore({ pruneIntervalMs: 0 });
          const ns = freshNamespace();
          for (const seed of [1, 2, 3]) {
            for (const [i, { key, now, s }] of randomSequence(algorithm, seed).entries()) {
              const m = memory.consume(`${ns}_${seed}`, key, s, now);
              const r = await redis.store.consume(`${ns}_${seed}`, key, s, now);
              assert.deepEqual(r, m, `seed ${seed}, step ${i}`);
            }
          }
          await memory.close();
        });
      }

      it("stores keys as warren:rl:<namespace>:<key> with a PEXPIRE of resetMs", async () => {
        const ns = freshNamespace();
        for (const algorithm of ALGORITHMS) {
          const d = await redis.store.consume(ns, `ip:${algorithm}`, spec(algorithm, 5, 1_000));
          const ttl = await raw.pTTL(`warren:rl:${ns}:ip:${algorithm}`);
          assert.ok(ttl > 0 && ttl <= d.resetMs, `${algorithm}: PTTL ${ttl}, resetMs ${d.resetMs}`);
        }
      });

      it("keys vanish by themselves once their state has expired", async () => {
        const sub = raw.duplicate();
        sub.on("error", () => {});
        await sub.connect();
        try {
          await raw.configSet("notify-keyspace-events", "Ex");
          const ns = freshNamespace();
          const expired = new Set<string>();
          const wanted = ALGORITHMS.map((a) => `warren:rl:${ns}:${a}`);
          let allExpired!: () => void;
          const allGone = new Promise<void>((resolve) => (allExpired = resolve));
          // Subscribed before the keys exist: a fixed window may end a millisecond after its first hit.
          await sub.subscribe("__keyevent@0__:expired", (key) => {
            expired.add(key);
            if (wanted.every((k) => expired.has(k))) allExpired();
          });
          // The real clock (Redis TIME) and a one-second window.
          for (const algorithm of ALGORITHMS) await redis.store.consume(ns, algorithm, spec(algorithm, 5, 1_000));
          await allGone;
          assert.equal(await raw.exists(wanted), 0);
        } finally {
          await sub.close();
        }
      });

      it("reads the clock with Redis TIME unless the test clock is enabled", async () => {
        const store = new RedisStore(server.url).connect();
        try {
          await store.whenReady();
          const day = spec("fixed_window", 5, 86_400_000);
          // A skewed gateway clock (1 ms past the epoch) is ignored: the window is today's, by Redis.
          const d = await store.consume(freshNamespace(), "k", day, 1);
          const [seconds, micros] = (await raw.time()) as unknown as [string, string];
          const redisNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
          const todayEnds = redisNow - (redisNow % 86_400_000) + 86_400_000;
          assert.ok(d.resetMs >= todayEnds - redisNow && d.resetMs < 86_400_000, `resetMs ${d.resetMs}`);
          assert.notEqual(d.resetMs, 86_400_000 - 1);
        } finally {
          await store.close();
        }
      });
    });
  });
});

/** pino into an array of parsed lines. */
function capturedLog() {
  const lines: { level: number; msg: string }[] = [];
  return { log: pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) }), lines };
}

describe("ResilientStore (Redis with a memory fallback)", { skip: redisMissing }, () => {
  const open: RateLimitStore[] = [];
  const servers: RedisServer[] = [];
  after(async () => {
    await Promise.all(open.map((s) => s.close()));
    for (const server of servers) {
      server.resume();
      await server.stop({ kill: true });
    }
  });
  const track = <S extends RateLimitStore>(s: S): S => (open.push(s), s);
  const startServer = async () => {
    const server = await RedisServer.start();
    servers.push(server);
    return server;
  };
  const failOpen = spec("fixed_window", 3, MINUTE);
  const failClosed: LimitSpec = { ...failOpen, failClosed: true };

  it("a disconnected RedisStore rejects at once instead of queueing commands for later", async () => {
    const store = track(new RedisStore(`redis://127.0.0.1:${await freePort()}`).connect());
    await assert.rejects(store.consume("ns", "k", failOpen), (err: Error) => err.name === "ClientOfflineError" || /offline|closed/i.test(err.message));
  });

  it("a RedisStore started before Redis connects by itself once Redis is up, through failed attempts", async () => {
    const port = await freePort();
    let failures = 0;
    let twoFailures!: () => void;
    const failedTwice = new Promise<void>((resolve) => (twoFailures = resolve));
    const store = track(new RedisStore(`redis://127.0.0.1:${port}`, {}, { onError: () => ++failures === 2 && twoFailures() }).connect());
    const ready = store.whenReady();
    await failedTwice;
    const server = await RedisServer.start(port);
    servers.push(server);
    await ready;
    assert.equal((await store.consume(freshNamespace(), "k", failOpen)).allowed, true);
    assert.equal(store.status().healthy, true);
  });

  it("starts with Redis unreachable and decides from memory, degraded", async () => {
    const { log, lines } = capturedLog();
    const store = track(createRateLimitStore(`redis://:secret@127.0.0.1:${await freePort()}/0`, log));
    assert.ok(store instanceof ResilientStore);
    const d = await store.consume("ns", "k", failOpen);
    assert.deepEqual([d.allowed, d.degraded, d.remaining], [true, true, 2]);
    const status = store.status();
    assert.equal(status.kind, "redis");
    assert.equal(status.healthy, false);
    assert.equal(status.fallbackDecisions, 1);
    assert.notEqual(status.lastError, "");
    assert.ok(!status.target.includes("secret") && status.target.startsWith("redis://127.0.0.1:"), status.target);
    assert.equal(lines.filter((l) => l.msg === "rate-limit store unavailable, using memory fallback").length, 1);
  });

  it("Redis killed: fail-open counts in memory (degraded), fail-closed refuses; one log line; restarted: shared counting resumes in the same store", async () => {
    const server = await startServer();
    const { log, lines } = capturedLog();
    const gatewayA = track(new ResilientStore(server.url, log));
    const gatewayB = track(new ResilientStore(server.url, pino({ level: "silent" })));
    await Promise.all([gatewayA.whenReady(), gatewayB.whenReady()]);
    const ns = freshNamespace();
    const shared = [await gatewayA.consume(ns, "k", failOpen), await gatewayB.consume(ns, "k", failOpen)];
    assert.deepEqual(
      shared.map((d) => [d.allowed, d.remaining, d.degraded]),
      [
        [true, 2, false],
        [true, 1, false],
      ],
      "two gateways share one counter",
    );
    assert.deepEqual(gatewayA.status(), { kind: "redis", healthy: true, lastError: "", fallbackDecisions: 0, target: `${server.url}` });

    await server.stop({ kill: true });
    const down = await consumeN(gatewayA, ns, "k", failOpen, Date.now(), 4);
    assert.ok(
      down.every((d) => d.degraded),
      "decided without Redis",
    );
    assert.deepEqual(
      down.map((d) => d.allowed),
      [true, true, true, false],
      "the memory fallback counts this gateway's requests on its own",
    );
    const refused = await gatewayA.consume(ns, "k2", failClosed);
    assert.deepEqual(brief(refused), { allowed: false, remaining: 0, resetMs: 1_000, retryAfterMs: 1_000 });
    assert.equal(refused.degraded, true);
    const status = gatewayA.status();
    assert.equal(status.healthy, false);
    assert.notEqual(status.lastError, "");
    assert.equal(status.fallbackDecisions, 5);
    assert.equal(lines.filter((l) => l.msg === "rate-limit store unavailable, using memory fallback").length, 1, "logged once");

    // Waiting from before the restart: failed reconnects in between must not end the wait.
    const backUp = Promise.all([gatewayA.whenReady(), gatewayB.whenReady()]);
    await server.restart();
    await backUp;
    const again = [await gatewayA.consume(ns, "k", failOpen), await gatewayB.consume(ns, "k", failOpen), await gatewayA.consume(ns, "k", failOpen)];
    assert.deepEqual(
      again.map((d) => [d.allowed, d.remaining, d.degraded]),
      [
        [true, 2, false],
        [true, 1, false],
        [true, 0, false],
      ],
      "shared counting in the restarted (empty) Redis",
    );
    assert.equal((await gatewayB.consume(ns, "k", failOpen)).allowed, false);
    assert.deepEqual(gatewayA.status(), { kind: "redis", healthy: true, lastError: "", fallbackDecisions: 5, target: server.url });
    assert.equal(lines.filter((l) => l.msg === "rate-limit store recovered").length, 1, "recovery logged once");
    assert.equal(lines.filter((l) => l.msg === "rate-limit store unavailable, using memory fallback").length, 1);
  });

  it("a hung Redis costs one command timeout, then requests skip it until a probe gets through", async () => {
    const server = await startServer();
    const store = track(new ResilientStore(server.url, pino({ level: "silent" }), { commandTimeoutMs: 200 }));
    await store.whenReady();
    const ns = freshNamespace();
    assert.equal((await store.consume(ns, "k", failOpen)).degraded, false);
    server.pause();
    try {
      const first = await store.consume(ns, "k", failOpen);
      assert.equal(first.degraded, true, "timed out and fell back");
      const second = store.consume(ns, "k", failOpen);
      assert.ok(!(second instanceof Promise), "decided at once from memory while Redis is paused");
      assert.equal(store.status().healthy, false);
    } finally {
      server.resume();
    }
    // The next probe (a second after the failure) reaches the answering Redis again.
    let d = await store.consume(ns, "k", failOpen);
    while (d.degraded) {
      await delay(50);
      d = await store.consume(ns, "k", failOpen);
    }
    assert.equal(store.status().healthy, true);
  });
});
