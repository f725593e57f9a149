import { usable, weightOf, type Balancer, type BalanceTarget, type PickContext } from "./balancer.ts";

/**
 * nginx's smooth weighted round robin: every pick adds each eligible candidate's weight to its
 * current weight, takes the largest (first on ties) and subtracts the total from it. Over any run
 * of sum(weights) picks the shares are exact, and picks interleave (5/1/1 → a a b a c a a).
 * Ineligible candidates neither gain nor lose, as in nginx.
 */
export class WeightedRoundRobinBalancer<T extends BalanceTarget> implements Balancer<T> {
  readonly policy = "weighted_round_robin" as const;
  private readonly current = new Map<string, number>();

  pick(candidates: readonly T[], ctx?: PickContext<T>): T | undefined {
    let best: T | undefined;
    let bestCw = -Infinity;
    let total = 0;
    for (const t of candidates) {
      if (!usable(t, ctx)) continue;
      const w = weightOf(t);
      const cw = (this.current.get(t.id) ?? 0) + w;
      this.current.set(t.id, cw);
      total += w;
      if (cw > bestCw) {
        best = t;
        bestCw = cw;
      }
    }
    if (best !== undefined) this.current.set(best.id, bestCw - total);
    return best;
  }
}
