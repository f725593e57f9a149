import { RoundRobinBalancer } from "./round-robin.ts";
import { usable, weightOf, type Balancer, type BalanceTarget, type PickContext } from "./balancer.ts";

/**
 * Weighted rendezvous (highest random weight) hashing: every candidate scores
 * -weight / ln(hash(id, key)) and the highest wins. No ring to build or rebuild; when a candidate
 * leaves (removed, unhealthy, excluded) only the keys it owned move, and they spread over the rest.
 * O(candidates) per pick. Without a key (missing header or cookie) it falls back to round robin.
 */
export class ConsistentHashBalancer<T extends BalanceTarget> implements Balancer<T> {
  readonly policy = "consistent_hash" as const;
  private readonly fallback = new RoundRobinBalancer<T>();

  pick(candidates: readonly T[], ctx?: PickContext<T>): T | undefined {
    const key = ctx?.key;
    if (key === undefined || key === "") return this.fallback.pick(candidates, ctx);
    let best: T | undefined;
    let bestScore = -Infinity;
    for (const t of candidates) {
      if (!usable(t, ctx)) continue;
      // u in (0, 1): never 0 (ln would be -Infinity) nor 1 (ln 0 → division by zero).
      const u = (hash32(t.id, key) + 0.5) / 4294967296;
      const score = -weightOf(t) / Math.log(u);
      if (score > bestScore) {
        best = t;
        bestScore = score;
      }
    }
    return best;
  }
}

/** FNV-1a over id, a separator and key, finished with murmur3's fmix32 for well-mixed low bits. */
export function hash32(id: string, key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ 0xff, 0x01000193);
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
