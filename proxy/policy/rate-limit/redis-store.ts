// Rate-limit state in Redis, shared by every gateway that points at it. One EVALSHA per decision
// (redis-scripts.ts; the client falls back to EVAL once after a NOSCRIPT, e.g. after a Redis restart).
// Keys are `warren:rl:<namespace>:<key>` and carry a PEXPIRE of the time until their state equals a
// fresh one, so idle keys vanish by themselves and retain() has nothing to do.
//
// Why not rate-limiter-flexible's RateLimiterRedis (useRedisPackage) for fixed_window: on loopback
// (bench/policy/rate-limit.ts, loaded 2-core machine) one decision at a time took the same p50 as
// this store's (~30 µs; p99 70–130 µs for both), and with 32 in flight its lighter script (INCRBY +
// PTTL; no TIME, no hash) gave 100–137k decisions/s against 60–98k/s here. But it counts whole
// seconds from each key's first hit, so it would disagree with the memory store's and the other
// algorithms' epoch-aligned millisecond windows; it sends the whole script with EVAL on each call;
// and its insurance limiter covers only RLF limiters, not the sliding window, GCRA, failClosed or the
// status the data plane reports. One contract and one conformance suite for three algorithms
// outweigh a third more throughput than one gateway's rate limits need.
import { createClient, defineScript, type CommandParser } from "@redis/client";
import { quotaOf } from "./algorithms.ts";
import { FIXED_WINDOW_LUA, SLIDING_WINDOW_LUA, TOKEN_BUCKET_LUA } from "./redis-scripts.ts";
import type { Decision, LimitSpec, RateLimitAlgorithm, RateLimitStore, StoreStatus } from "./store.ts";

type ScriptReply = [allowed: number, remaining: number, resetMs: number, retryAfterMs: number];

function script(lua: string) {
  return defineScript({
    SCRIPT: lua,
    NUMBER_OF_KEYS: 1,
    parseCommand(parser: CommandParser, key: string, limit: number, windowMs: number, now: string, burst: number) {
      parser.pushKey(key);
      parser.push(String(limit), String(windowMs), now, String(burst));
    },
    transformReply: (reply: unknown) => reply as ScriptReply,
  });
}

// Named after the algorithms, so consume() picks the script by spec.algorithm.
const SCRIPTS = {
  fixed_window: script(FIXED_WINDOW_LUA),
  sliding_window: script(SLIDING_WINDOW_LUA),
  token_bucket: script(TOKEN_BUCKET_LUA),
} satisfies Record<RateLimitAlgorithm, unknown>;

export interface RedisStoreOptions {
  /** A command not answered by then is rejected, so a hung Redis holds a request at most this long. */
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Honour consume()'s `now` instead of Redis TIME (and keep keys at least 10 minutes, as PEXPIRE
   * counts real time). Only for tests, which need a clock they drive. */
  readonly clientClock?: boolean;
}

/** Reconnect after 100 ms, doubling up to 2 s, for ever: Redis may come back at any time. */
export function reconnectDelayMs(retries: number): number {
  return Math.min(100 * 2 ** Math.min(retries, 5), 2000);
}

/** The URL without user name or password, for status and logs. */
export function redactUrl(url: string): string {
  const u = new URL(url);
  u.username = "";
  u.password = "";
  return u.toString();
}

function createRedisClient(url: string, commandTimeoutMs: number, connectTimeoutMs: number) {
  return createClient({
    url,
    scripts: SCRIPTS,
    // Commands fail at once while disconnected instead of queueing behind the outage.
    disableOfflineQueue: true,
    socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: reconnectDelayMs },
    // rejectInFlight: the timeout also covers a command already sent to a Redis that stopped answering.
    commandOptions: { timeout: commandTimeoutMs, rejectInFlight: true },
  });
}

export class RedisStore implements RateLimitStore {
  private readonly client: ReturnType<typeof createRedisClient>;
  private readonly clientClock: boolean;
  readonly target: string;
  private lastError = "";
  private closed = false;

  constructor(
    url: string,
    options: RedisStoreOptions = {},
    /** Told of every client error (connection refused, reset, …; the client retries by itself) and of
     * each (re)connection. */
    private readonly events: { onError?(err: Error): void; onReady?(): void } = {},
  ) {
    this.target = redactUrl(url);
    this.clientClock = options.clientClock ?? false;
    this.client = createRedisClient(url, options.commandTimeoutMs ?? 250, options.connectTimeoutMs ?? 1000);
    this.client.on("error", (err: Error) => {
      this.lastError = err.message || err.name;
      this.events.onError?.(err);
    });
    this.client.on("ready", () => {
      this.lastError = "";
      this.events.onReady?.();
    });
  }

  /** Starts connecting in the background; a Redis that is down is retried, never thrown at start-up. */
  connect(): this {
    this.client.connect().catch((err: unknown) => {
      if (!this.closed) this.lastError = err instanceof Error ? err.message : String(err);
    });
    return this;
  }

  get isReady(): boolean {
    return this.client.isReady;
  }

  /** Resolves when the client is connected and ready (at once if it is). */
  async whenReady(): Promise<void> {
    // Not events.once: it would reject on the 'error' each failed reconnect emits.
    if (!this.client.isReady) await new Promise<void>((resolve) => this.client.once("ready", () => resolve()));
  }

  async consume(namespace: string, key: string, spec: LimitSpec, now?: number): Promise<Decision> {
    const clock = this.clientClock && now !== undefined ? String(now) : "";
    const reply = (await this.client[spec.algorithm](`warren:rl:${namespace}:${key}`, spec.limit, spec.windowMs, clock, spec.burst)) as ScriptReply;
    const [allowed, remaining, resetMs, retryAfterMs] = reply;
    return { allowed: allowed === 1, limit: quotaOf(spec), remaining, resetMs, retryAfterMs, degraded: false };
  }

  /** Keys expire with their state (PEXPIRE), so there is nothing to drop. */
  retain(): void {}

  status(): StoreStatus {
    return { kind: "redis", healthy: this.client.isReady, lastError: this.lastError, fallbackDecisions: 0, target: this.target };
  }

  async close(): Promise<void> {
    this.closed = true;
    // destroy, not close: close waits for pending replies, which a hung Redis never sends. Decisions
    // still in flight reject, and ResilientStore answers them from memory.
    if (this.client.isOpen) this.client.destroy();
  }
}
