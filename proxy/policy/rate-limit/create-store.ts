// RATE_LIMIT_STORE → the store: memory when unset or "memory", Redis with a memory fallback for
// redis:// and rediss:// URLs. Redis is connected in the background, so start-up never waits on it.
import type { Logger } from "pino";
import { SettingsError } from "../../../lib/env.ts";
import { MemoryStore } from "./memory-store.ts";
import { ResilientStore } from "./resilient-store.ts";
import type { RateLimitStore } from "./store.ts";

export function createRateLimitStore(url: string | undefined, log: Logger): RateLimitStore {
  const value = url?.trim() ?? "";
  if (value === "" || value === "memory") return new MemoryStore();
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
  return new ResilientStore(value, log);
}
