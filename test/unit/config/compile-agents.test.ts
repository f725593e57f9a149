import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { buildSnapshot } from "../../pipeline/harness.ts";
import { BalancePolicy, RouteAction, TargetKind } from "../../../proto/gen/warren/v1/proxy_pb.ts";

describe("compiled agent targets", () => {
  it("carry their candidate agents (enabled, labels matching, by id) and a balancer with the route's policy", () => {
    const { snapshot, listenerIds } = buildSnapshot({
      agents: [
        { id: "agt_cccccccccccccccc", labels: { site: "fra" } },
        { id: "agt_aaaaaaaaaaaaaaaa", labels: { site: "fra", tier: "edge" } },
        { id: "agt_bbbbbbbbbbbbbbbb", labels: { site: "ams" } },
        { id: "agt_dddddddddddddddd", labels: { site: "fra" }, enabled: false },
      ],
      listeners: [
        {
          routes: [
            {
              id: "rt_1",
              pathPrefix: "/",
              action: RouteAction.FORWARD,
              loadBalancing: { policy: BalancePolicy.LEAST_ACTIVE },
              targets: [
                { id: "tgt_a", kind: TargetKind.AGENT, url: "http://10.0.0.1:80", agentSelector: { site: "fra" }, enabled: true },
                { id: "tgt_d", kind: TargetKind.DIRECT, url: "http://10.0.0.2:80", enabled: true },
              ],
            },
          ],
        },
      ],
    });
    const route = snapshot.listeners.get(listenerIds[0]!)!.router.routes[0]!;
    const [agentTarget, direct] = route.pool.targets;
    assert.deepEqual(
      agentTarget!.agents.map((a) => [a.id, a.key]),
      [
        ["agt_aaaaaaaaaaaaaaaa", "rt_1|tgt_a|agt_aaaaaaaaaaaaaaaa"],
        ["agt_cccccccccccccccc", "rt_1|tgt_a|agt_cccccccccccccccc"],
      ],
    );
    assert.equal(agentTarget!.agentBalancer?.policy, "least_active", "agents are chosen with the route's policy");
    assert.equal(agentTarget!.key, "rt_1|tgt_a|");
    assert.deepEqual(direct!.agents, []);
    assert.equal(direct!.agentBalancer, undefined);
  });
});
