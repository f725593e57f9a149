// The counters an agent reports on its control stream every 5 s reach AgentService (GetAgent,
// ListAgents): a real `warren agent` connected to a real `warren serve`, a request through it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "undici";
import { isMsg, publicListener } from "../helpers/warren-process.ts";
import { createAgent } from "../helpers/agent-process.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { pollUntil } from "../helpers/wait.ts";
import { withWarren } from "../helpers/with-warren.ts";

interface ReportedJson {
  activeStreams?: string;
  streamsTotal?: string;
  dialFailures?: string;
  bytesFromOrigins?: string;
  bytesToOrigins?: string;
  reportedAt?: string;
}
interface AgentJson {
  id: string;
  status: { online?: boolean; reportedStats?: ReportedJson };
}

describe("agent stats in AgentService", () => {
  const warren = withWarren({ admin: true });
  let origin: Origin;

  before(async () => {
    origin = await startOrigin("stats-origin");
  });
  after(() => origin.close());

  it("shows what the agent reported: streams_total ≥ 1 and bytes both ways after a request through it", async () => {
    const { api, admin } = warren;
    const a = await createAgent(api, admin, { name: "stats" });
    const { id: listenerId, port } = await publicListener(api, admin);
    const route = await api.call(
      "ProxyService/CreateRoute",
      {
        spec: {
          listenerId,
          hosts: ["stats.test"],
          action: "ROUTE_ACTION_FORWARD",
          targets: [{ kind: "TARGET_KIND_AGENT", url: origin.url, agentSelector: { "warren.io/agent-id": a.id }, enabled: true }],
        },
      },
      admin,
    );
    assert.equal(route.status, 200, route.text);

    const before = (await api.call("AgentService/GetAgent", { id: a.id }, admin)).json.agent as AgentJson;
    assert.equal(before.status.reportedStats, undefined, "an offline agent has reported nothing");

    warren.agent(a);
    await warren.w.waitForLog(isMsg("agent online", (l) => l.agentId === a.id));
    const res = await request(`http://127.0.0.1:${port}/through-the-agent`, { headers: { host: "stats.test" } });
    assert.equal(res.statusCode, 200);
    assert.equal(((await res.body.json()) as { origin: string }).origin, "stats-origin");

    const getAgent = async () => ((await api.call("AgentService/GetAgent", { id: a.id }, admin)).json.agent as AgentJson).status.reportedStats;
    // The agent reports every 5 s: ask until a report covers the request.
    const reported = await pollUntil(
      "GetAgent to show a report with streams_total ≥ 1 and bytes both ways",
      getAgent,
      (r) => r !== undefined && Number(r.streamsTotal ?? 0) >= 1 && Number(r.bytesFromOrigins ?? 0) > 0 && Number(r.bytesToOrigins ?? 0) > 0,
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    assert.ok(reported);
    const at = Date.parse(String(reported.reportedAt));
    assert.ok(Number.isFinite(at) && at <= Date.now() && at > Date.now() - 60_000, `reported_at ${reported.reportedAt}`);
    assert.equal(Number(reported.dialFailures ?? 0), 0);

    const list = await api.call("AgentService/ListAgents", {}, admin);
    const listed = (list.json.agents as AgentJson[]).find((x) => x.id === a.id);
    assert.ok(listed?.status.reportedStats, "ListAgents shows the report too");
    assert.ok(Number(listed.status.reportedStats.streamsTotal) >= 1);
  });
});
