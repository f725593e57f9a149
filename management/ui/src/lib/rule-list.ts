// A policy rule list's state and writes (WAF rules, rate limits, shapers, cache rules): the list,
// refreshed every 15 s, and turning a rule on or off, moving it up or down, and deleting it. Every
// write sends the rule's whole spec back (the API has no partial update) and reloads the list.
import { useState } from "preact/hooks";
import { attempt, useLoad, type Loaded } from "./load.ts";
import type { ApiProblem } from "./errors.ts";
import { movePriorities } from "./policy-form.ts";

interface RuleSpecBits {
  enabled?: boolean;
  priority: number;
}

export interface RuleList<R> {
  list: Loaded<{ rules: R[] }>;
  /** In evaluation order, as the server lists them. */
  rules: R[];
  /** A write is under way: the change buttons wait. */
  busy: boolean;
  /** The last write's problem (the list's own is `list.problem`). */
  problem: ApiProblem | undefined;
  toggle(rule: R): Promise<void>;
  move(index: number, dir: -1 | 1): Promise<void>;
  remove(rule: R): Promise<void>;
}

export function useRuleList<S extends RuleSpecBits, R extends { id: string; spec?: S }>(calls: {
  load: () => Promise<{ rules: R[] }>;
  update: (id: string, spec: S) => Promise<unknown>;
  remove: (id: string) => Promise<unknown>;
  /** A copy of the rule's spec with enabled or priority changed. */
  specWith: (rule: R, patch: { enabled?: boolean; priority?: number }) => S;
}): RuleList<R> {
  const list = useLoad(calls.load, [], 15_000);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const rules: R[] = list.data?.rules ?? [];

  const run = async (write: () => Promise<unknown>) => {
    setBusy(true);
    const p = await attempt(write);
    setBusy(false);
    setProblem(p);
    list.reload();
  };
  const toggle = (r: R) => run(() => calls.update(r.id, calls.specWith(r, { enabled: !(r.spec?.enabled ?? true) })));
  const move = (i: number, dir: -1 | 1) =>
    run(async () => {
      for (const m of movePriorities(rules, i, dir)) {
        const r = rules.find((x) => x.id === m.id)!;
        await calls.update(r.id, calls.specWith(r, { priority: m.priority }));
      }
    });
  const remove = (r: R) => run(() => calls.remove(r.id));
  return { list, rules, busy, problem, toggle, move, remove };
}
