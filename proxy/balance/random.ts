import { usable, weightOf, type Balancer, type BalanceTarget, type PickContext } from "./balancer.ts";

/** Random, proportional to weight (equal weights: uniform). `random` is injectable for tests. */
export class RandomBalancer<T extends BalanceTarget> implements Balancer<T> {
  readonly policy = "random" as const;
  constructor(private readonly random: () => number = Math.random) {}

  pick(candidates: readonly T[], ctx?: PickContext<T>): T | undefined {
    let total = 0;
    for (const t of candidates) if (usable(t, ctx)) total += weightOf(t);
    if (total === 0) return undefined;
    let r = this.random() * total;
    let last: T | undefined;
    for (const t of candidates) {
      if (!usable(t, ctx)) continue;
      last = t;
      r -= weightOf(t);
      if (r < 0) return t;
    }
    return last; // r landed on the upper edge through rounding
  }
}
