// The rate-limit stores' public surface.
export type { Decision, LimitSpec, RateLimitAlgorithm, RateLimitStore, StoreStatus } from "./store.ts";
export { MemoryStore, type MemoryStoreOptions } from "./memory-store.ts";
export { RedisStore, type RedisStoreOptions } from "./redis-store.ts";
export { ResilientStore } from "./resilient-store.ts";
export { createRateLimitStore } from "./create-store.ts";
