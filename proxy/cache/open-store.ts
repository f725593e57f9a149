// The cache's store for a set of settings: the tiered store (disk durable, memory a hot copy) in the
// cache folder, memory alone when the disk tier is off (diskBytes 0) or there is no folder, and a
// store that keeps and serves nothing when the cache is disabled (the folder is left as it is).
import type { Logger } from "pino";
import { MemoryTier } from "./memory-tier.ts";
import { openTieredStore } from "./tiered-store.ts";
import type { CacheSettings, CacheStore } from "./types.ts";

export function openCacheStore(dir: string | undefined, s: CacheSettings, log?: Logger): Promise<CacheStore> {
  if (!s.enabled) return Promise.resolve(new MemoryTier(s));
  if (dir === undefined || s.diskBytes === 0) return Promise.resolve(new MemoryTier(s));
  return openTieredStore(dir, s, new MemoryTier(s), log);
}
