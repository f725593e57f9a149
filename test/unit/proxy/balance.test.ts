import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BALANCE_POLICIES,
  ConsistentHashBalancer,
  createBalancer,
  groupByPriority,
  isBalancePolicy,
  LeastActiveBalancer,
  pickFromGroups,
  RandomBalancer,
  RoundRobinBalancer,
  TargetPool,
  WeightedRoundRobinBalancer,
  type Balancer,
  type BalancePolicy,
  type PickContext,
} from "../../../proxy/balance/index.ts";
import { seeded } from "../../helpers/seeded.ts";

interface T {
  readonly id: string;
  readonly weight: number;
  readonly priorityGroup: number;
}

function targets(...spec: (string | [string, number] | [string, number, number])[]): T[] {
  return spec.map((s) => (typeof s === "string" ? { id: s, weight: 1, priorityGroup: 0 } : { id: s[0], weight: s[1], priorityGroup: s[2] ?? 0 }));
}

function counts(picks: (T | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of picks) out[p?.id ?? "none"] = (out[p?.id ?? "none"] ?? 0) + 1;
  return out;
}

function makeBalancer(policy: BalancePolicy): Balancer<T> {
  return createBalancer<T>(policy, { random: seeded(42) });
}

/** Varies the key and the active counts per pick, so every policy exercises its full logic. */
function ctxFor(i: number, extra: PickContext<T> = {}): PickContext<T> {
  return { key: `10.0.${i >> 8}.${i & 255}`, active: (t) => (t.id.charCodeAt(0) * 7 + i) % 5, ...extra };
}

// One conformance suite, run against every policy (STYLE.md: shared suites for pluggable parts).
for (const policy of BALANCE_POLICIES) {
  describe(`balancer conformance: ${policy}`, () => {
    it("returns undefined for no candidates", () => {
      const b = makeBalancer(policy);
      assert.equal(b.policy, policy);
      assert.equal(b.pick([]), undefined);
      assert.equal(b.pick([], ctxFor(0)), undefined);
      assert.equal(b.pick([], {}), undefined, "no key, no active counter");
    });

    it("always picks a single eligible target", () => {
      const b = makeBalancer(policy);
      const [only] = targets(["solo", 3]);
      for (let i = 0; i < 50; i++) assert.equal(b.pick([only!], ctxFor(i)), only);
      for (let i = 0; i < 5; i++) assert.equal(b.pick([only!]), only, "without a context");
    });

    it("never picks an ineligible target, and returns undefined when none is eligible", () => {
      const b = makeBalancer(policy);
      const ts = targets(["a", 5], ["b", 1], ["c", 3], ["d", 1]);
      const down = new Set(["a", "c"]);
      const eligible = (t: T) => !down.has(t.id);
      const seen = new Set<string>();
      for (let i = 0; i < 400; i++) {
        const t = b.pick(ts, ctxFor(i, { eligible }));
        assert.ok(t && !down.has(t.id), `pick ${i}: ${t?.id}`);
        seen.add(t.id);
      }
      assert.deepEqual([...seen].sort(), ["b", "d"]);
      assert.equal(b.pick(ts, ctxFor(1, { eligible: () => false })), undefined);
    });

    it("never picks the excluded target (the retry goes elsewhere)", () => {
      const b = makeBalancer(policy);
      const ts = targets("a", "b", "c");
      for (let i = 0; i < 300; i++) {
        const first = b.pick(ts, ctxFor(i))!;
        const retry = b.pick(ts, ctxFor(i, { exclude: first.id }));
        assert.ok(retry && retry.id !== first.id, `pick ${i}`);
      }
      assert.equal(b.pick(targets("a"), ctxFor(0, { exclude: "a" })), undefined);
    });

    it("reaches every eligible target eventually", () => {
      const b = makeBalancer(policy);
      const ts = targets("a", "b", "c", "d");
      const seen = new Set<string>();
      for (let i = 0; i < 400; i++) seen.add(b.pick(ts, ctxFor(i, { active: () => 0 }))!.id);
      assert.equal(seen.size, 4);
    });

    it("works with a candidate list that changes between calls (agents come and go)", () => {
      const b = makeBalancer(policy);
      const all = targets("a", "b", "c", "d", "e");
      for (let i = 0; i < 200; i++) {
        const cands = all.slice(0, 1 + (i % all.length));
        const t = b.pick(cands, ctxFor(i));
        assert.ok(t && cands.includes(t));
      }
    });

    it("falls over to the next priority group only when the lower one has no eligible target", () => {
      const pool = new TargetPool(targets(["p1", 1, 0], ["p2", 1, 0], ["b1", 1, 1], ["c1", 1, 5]), policy, { random: seeded(7) });
      const down = new Set<string>();
      const eligible = (t: T) => !down.has(t.id);
      for (let i = 0; i < 50; i++) assert.ok(["p1", "p2"].includes(pool.pick(ctxFor(i, { eligible }))!.id));
      down.add("p1");
      for (let i = 0; i < 20; i++) assert.equal(pool.pick(ctxFor(i, { eligible }))!.id, "p2");
      assert.equal(pool.pick(ctxFor(0, { eligible, exclude: "p2" }))!.id, "b1", "excluding the last primary fails over");
      down.add("p2");
      for (let i = 0; i < 20; i++) assert.equal(pool.pick(ctxFor(i, { eligible }))!.id, "b1");
      down.add("b1");
      assert.equal(pool.pick(ctxFor(0, { eligible }))!.id, "c1");
      down.add("c1");
      assert.equal(pool.pick(ctxFor(0, { eligible })), undefined);
    });
  });
}

describe("round robin", () => {
  it("is exact over three targets", () => {
    const b = new RoundRobinBalancer<T>();
    const ts = targets("a", "b", "c");
    const seq = Array.from({ length: 9 }, () => b.pick(ts)!.id).join("");
    assert.equal(seq, "abcabcabc");
    assert.deepEqual(counts(Array.from({ length: 3000 }, () => b.pick(ts))), { a: 1000, b: 1000, c: 1000 });
  });

  it("skips an ineligible target without losing the rotation", () => {
    const b = new RoundRobinBalancer<T>();
    const ts = targets("a", "b", "c");
    const eligible = (t: T) => t.id !== "b";
    assert.equal(Array.from({ length: 6 }, () => b.pick(ts, { eligible })!.id).join(""), "acacac");
  });
});

describe("smooth weighted round robin", () => {
  it("produces nginx's interleaved sequence for 5/1/1", () => {
    const b = new WeightedRoundRobinBalancer<T>();
    const ts = targets(["a", 5], ["b", 1], ["c", 1]);
    const seq = Array.from({ length: 14 }, () => b.pick(ts)!.id).join("");
    assert.equal(seq, "aabacaa".repeat(2));
  });

  it("matches weights exactly over 1,000 picks", () => {
    const b = new WeightedRoundRobinBalancer<T>();
    const ts = targets(["a", 5], ["b", 3], ["c", 2]);
    assert.deepEqual(counts(Array.from({ length: 1000 }, () => b.pick(ts))), { a: 500, b: 300, c: 200 });
  });

  it("never bursts: no target runs longer than its share allows", () => {
    const b = new WeightedRoundRobinBalancer<T>();
    const ts = targets(["a", 2], ["b", 1], ["c", 1]);
    const seq = Array.from({ length: 400 }, () => b.pick(ts)!.id).join("");
    assert.ok(!seq.includes("aaa") && !seq.includes("bb") && !seq.includes("cc"), seq.slice(0, 40));
  });

  it("treats a target's weight as 1 when it is not a positive number", () => {
    const b = new WeightedRoundRobinBalancer<T>();
    const ts = targets(["a", 0], ["b", Number.NaN]);
    assert.deepEqual(counts(Array.from({ length: 10 }, () => b.pick(ts))), { a: 5, b: 5 });
  });
});

describe("random", () => {
  it("is uniform for equal weights and proportional otherwise, within tolerance", () => {
    const n = 30000;
    const u = new RandomBalancer<T>(seeded(1));
    const cu = counts(Array.from({ length: n }, () => u.pick(targets("a", "b", "c"))));
    for (const id of ["a", "b", "c"]) assert.ok(Math.abs(cu[id]! / n - 1 / 3) < 0.015, JSON.stringify(cu));
    const w = new RandomBalancer<T>(seeded(2));
    const cw = counts(Array.from({ length: n }, () => w.pick(targets(["a", 6], ["b", 3], ["c", 1]))));
    assert.ok(Math.abs(cw.a! / n - 0.6) < 0.015 && Math.abs(cw.b! / n - 0.3) < 0.015 && Math.abs(cw.c! / n - 0.1) < 0.015, JSON.stringify(cw));
  });

  it("uses Math.random by default and copes with a source returning its upper edge", () => {
    const d = new RandomBalancer<T>();
    assert.ok(d.pick(targets("a", "b")));
    const edge = new RandomBalancer<T>(() => 0.9999999999999999);
    assert.equal(edge.pick(targets("a", "b", "c"))!.id, "c");
  });
});

describe("least active", () => {
  it("picks the minimum, weighting active requests by weight", () => {
    const b = new LeastActiveBalancer<T>();
    const active: Record<string, number> = { a: 4, b: 1, c: 2 };
    const ctx = { active: (t: T) => active[t.id]! };
    for (let i = 0; i < 10; i++) assert.equal(b.pick(targets("a", "b", "c"), ctx)!.id, "b");
    // a: 4/10 = 0.4 per unit of weight beats b: 1/1.
    assert.equal(b.pick(targets(["a", 10], ["b", 1], ["c", 1]), ctx)!.id, "a");
  });

  it("follows the counts as they change and rotates among ties", () => {
    const b = new LeastActiveBalancer<T>();
    const ts = targets("a", "b", "c");
    const active = new Map<string, number>();
    const ctx = { active: (t: T) => active.get(t.id) ?? 0 };
    const seq: string[] = [];
    for (let i = 0; i < 6; i++) {
      const t = b.pick(ts, ctx)!;
      seq.push(t.id);
      active.set(t.id, (active.get(t.id) ?? 0) + 1); // requests that never finish
    }
    assert.deepEqual(counts(seq.map((id) => ({ id, weight: 1, priorityGroup: 0 }))), { a: 2, b: 2, c: 2 });
    const idle = new LeastActiveBalancer<T>();
    assert.equal(Array.from({ length: 6 }, () => idle.pick(ts, { active: () => 0 })!.id).join(""), "abcabc");
  });
});

describe("consistent hash", () => {
  const keys = Array.from({ length: 20000 }, (_, i) => `198.51.${(i >> 8) & 255}.${i & 255}:${i}`);

  it("is stable for the same key, across instances and candidate order", () => {
    const ts = targets("a", "b", "c", "d", "e");
    const b1 = new ConsistentHashBalancer<T>();
    const b2 = new ConsistentHashBalancer<T>();
    for (const k of keys.slice(0, 500)) {
      const t = b1.pick(ts, { key: k })!;
      assert.equal(b1.pick(ts, { key: k }), t);
      assert.equal(b2.pick([...ts].reverse(), { key: k })!.id, t.id);
    }
  });

  it("spreads keys evenly and by weight", () => {
    const b = new ConsistentHashBalancer<T>();
    const c = counts(keys.map((k) => b.pick(targets("a", "b", "c", "d"), { key: k })));
    for (const id of ["a", "b", "c", "d"]) assert.ok(Math.abs(c[id]! / keys.length - 0.25) < 0.02, JSON.stringify(c));
    const cw = counts(keys.map((k) => b.pick(targets(["a", 3], ["b", 1]), { key: k })));
    assert.ok(Math.abs(cw.a! / keys.length - 0.75) < 0.02, JSON.stringify(cw));
  });

  it("moves only the removed target's keys (~1/n) when a target leaves, and only ~1/(n+1) when one joins", () => {
    const b = new ConsistentHashBalancer<T>();
    const five = targets("a", "b", "c", "d", "e");
    const before = keys.map((k) => b.pick(five, { key: k })!.id);
    for (const [how, pick] of [
      ["removed from the list", (k: string) => b.pick(five.filter((t) => t.id !== "c"), { key: k })!.id],
      ["marked ineligible", (k: string) => b.pick(five, { key: k, eligible: (t) => t.id !== "c" })!.id],
    ] as const) {
      let moved = 0;
      keys.forEach((k, i) => {
        const now = pick(k);
        if (now !== before[i]) {
          moved++;
          assert.equal(before[i], "c", `${how}: key ${k} moved off a surviving target`);
        }
      });
      assert.ok(Math.abs(moved / keys.length - 1 / 5) < 0.02, `${how}: moved ${moved}`);
    }
    const six = [...five, ...targets("f")];
    let joined = 0;
    keys.forEach((k, i) => {
      const now = b.pick(six, { key: k })!.id;
      if (now !== before[i]) {
        joined++;
        assert.equal(now, "f", "keys only move to the new target");
      }
    });
    assert.ok(Math.abs(joined / keys.length - 1 / 6) < 0.02, `joined ${joined}`);
  });

  it("falls back to round robin without a key", () => {
    const b = new ConsistentHashBalancer<T>();
    const ts = targets("a", "b", "c");
    assert.equal(Array.from({ length: 6 }, (_, i) => b.pick(ts, { key: i % 2 ? "" : undefined })!.id).join(""), "abcabc");
  });
});

describe("priority groups", () => {
  it("groups ascending with one balancer each, so failover does not disturb the primary rotation", () => {
    const groups = groupByPriority(targets(["x", 1, 10], ["p", 1, 0], ["q", 1, 0], ["y", 1, 10]), "round_robin");
    assert.deepEqual(
      groups.map((g) => [g.priority, g.targets.map((t) => t.id)]),
      [
        [0, ["p", "q"]],
        [10, ["x", "y"]],
      ],
    );
    assert.notEqual(groups[0]!.balancer, groups[1]!.balancer);
    assert.equal(pickFromGroups(groups)!.id, "p");
    assert.equal(pickFromGroups(groups, { eligible: (t) => t.priorityGroup === 10 })!.id, "x");
    assert.equal(pickFromGroups(groups)!.id, "q", "the primary group continues where it left off");
    assert.equal(pickFromGroups([]), undefined);
  });

  it("a new pool (a config edit) starts its rotation from scratch", () => {
    const ts = targets("a", "b", "c");
    const p1 = new TargetPool(ts, "round_robin");
    assert.equal(p1.pick()!.id, "a");
    assert.equal(p1.pick()!.id, "b");
    const p2 = new TargetPool(ts, "round_robin");
    assert.equal(p2.pick()!.id, "a");
  });

  it("isBalancePolicy knows exactly the five policies", () => {
    for (const p of BALANCE_POLICIES) assert.ok(isBalancePolicy(p));
    assert.equal(BALANCE_POLICIES.length, 5);
    assert.equal(isBalancePolicy("weighted_random"), false);
  });
});
