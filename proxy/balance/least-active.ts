import { usable, weightOf, type Balancer, type BalanceTarget, type PickContext } from "./balancer.ts";

/**
 * The candidate with the fewest in-flight requests per unit of weight (active/weight, compared by
 * cross-multiplication; equal weights: plain fewest active). Ties rotate, so an idle pool is
 * spread round robin instead of piling onto the first target.
 */
export class LeastActiveBalancer<T extends BalanceTarget> implements Balancer<T> {
  readonly policy = "least_active" as const;
  private next = 0;

  pick(candidates: readonly T[], ctx?: PickContext<T>): T | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    const active = ctx?.active;
    const start = this.next % n;
    let best: T | undefined;
    let bestIdx = -1;
    let bestA = 0;
    let bestW = 1;
    for (let k = 0; k < n; k++) {
      const i = start + k < n ? start + k : start + k - n;
      const t = candidates[i]!;
      if (!usable(t, ctx)) continue;
      const a = active === undefined ? 0 : active(t);
      const w = weightOf(t);
      if (best === undefined || a * bestW < bestA * w) {
        best = t;
        bestIdx = i;
        bestA = a;
        bestW = w;
      }
    }
    if (best !== undefined) this.next = bestIdx + 1;
    return best;
  }
}
