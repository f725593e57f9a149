// RATE_LIMIT_STORE → the store: memory when unset or "memory", Redis with a memory fallback for
// redis:// and rediss:// URLs. Redis is connected in the background, so start-up never waits on it.
import type { Logger } from "pino";
import { SettingsError } from "../../../lib/env.ts";
import { MemoryStore } from "./memory-store.ts";
import { ResilientStore } from "./resilient-store.ts";
import type { RateLimitStore } from "./store.ts";

/** Throws SettingsError naming RATE_LIMIT_STORE unless `value` is "memory" (or empty) or a redis:// / rediss:// URL with a host. */
export function checkRateLimitStoreUrl(value: string): void {
  if (value === "" || value === "memory") return;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    // The value is not echoed: it may hold a password.
    throw new SettingsError("RATE_LIMIT_STORE", `expected "memory" or a redis:// or rediss:// URL`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new SettingsError("RATE_LIMIT_STORE", `expected "memory" or a redis:// or rediss:// URL, got the scheme ${parsed.protocol}`);
  }
  if (parsed.hostname === "") throw new SettingsError("RATE_LIMIT_STORE", "the Redis URL has no host");
}

export function createRateLimitStore(url: string | undefined, log: Logger): RateLimitStore {
  const value = url?.trim() ?? "";
  checkRateLimitStoreUrl(value);
  if (value === "" || value === "memory") return new MemoryStore();
  return new ResilientStore(value, log);
}
