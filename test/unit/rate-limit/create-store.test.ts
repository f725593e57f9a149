// RATE_LIMIT_STORE: which store each value gives, and the one-line error for a bad value.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { SettingsError } from "../../../lib/env.ts";
import { createRateLimitStore } from "../../../proxy/policy/rate-limit/create-store.ts";
import { MemoryStore } from "../../../proxy/policy/rate-limit/memory-store.ts";
import { ResilientStore } from "../../../proxy/policy/rate-limit/resilient-store.ts";
import { reconnectDelayMs, redactUrl } from "../../../proxy/policy/rate-limit/redis-store.ts";

const log = pino({ level: "silent" });

describe("createRateLimitStore", () => {
  it("gives the memory store when RATE_LIMIT_STORE is unset, empty or memory", async () => {
    for (const value of [undefined, "", " ", "memory"]) {
      const store = createRateLimitStore(value, log);
      assert.ok(store instanceof MemoryStore, String(value));
      await store.close();
    }
  });

  it("gives Redis with a memory fallback for redis:// and rediss:// without waiting for a connection", async () => {
    for (const url of ["redis://127.0.0.1:1", "rediss://user:pw@127.0.0.1:1/2"]) {
      const store = createRateLimitStore(url, log);
      assert.ok(store instanceof ResilientStore, url);
      assert.equal(store.status().kind, "redis");
      assert.ok(!store.status().target.includes("pw"));
      await store.close();
    }
  });

  it("refuses anything else with an error naming RATE_LIMIT_STORE", () => {
    for (const value of ["http://127.0.0.1:6379", "redis", "localhost:6379", "redis://"]) {
      assert.throws(
        () => createRateLimitStore(value, log),
        (err: unknown) => err instanceof SettingsError && err.variable === "RATE_LIMIT_STORE" && err.message.startsWith("RATE_LIMIT_STORE: "),
        value,
      );
    }
  });
});

describe("Redis connection settings", () => {
  it("reconnects after 100 ms, doubling to at most 2 s", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 50].map(reconnectDelayMs), [100, 200, 400, 800, 1600, 2000, 2000]);
  });

  it("shows the Redis URL without credentials", () => {
    assert.equal(redactUrl("redis://admin:s3cret@cache.internal:6380/1"), "redis://cache.internal:6380/1");
    assert.equal(redactUrl("rediss://:s3cret@cache.internal"), "rediss://cache.internal");
  });
});
