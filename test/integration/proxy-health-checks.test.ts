import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { publicListener, type JsonApi, type LogLine, type WarrenProcess } from "../helpers/warren-process.ts";
import { createAgent } from "../helpers/agent-process.ts";
import { withWarren } from "../helpers/with-warren.ts";

/** An origin whose /healthz answers 200 or 503 as the test says; everything else names the origin. */
async function toggledOrigin(name: string) {
  const state = { healthy: true };
  const server = http.createServer((req, res) => {
    if (req.url === "/healthz") return void res.writeHead(state.healthy ? 200 : 503).end();
    res.writeHead(200, { "x-origin": name }).end(name);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

describe("active health checks", () => {
  const warren = withWarren({ admin: true });
  let w: WarrenProcess;
  let api: JsonApi;
  let c: Record<string, string>;
  let port: number;
  let listenerId: string;
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    ({ w, api, admin: c } = warren);
    ({ id: listenerId, port } = await publicListener(api, c));
  });
  after(async () => {
    for (const f of closers) await f();
  });

  const origins = async (host: string) => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await request(`http://127.0.0.1:${port}/`, { headers: { host } });
      assert.equal(r.statusCode, 200);
      seen.push(String(r.headers["x-origin"]));
      await r.body.dump();
    }
    return new Set(seen);
  };
  const healthCheck = { enabled: true, path: "/healthz", intervalMs: 150, timeoutMs: 100, healthyThreshold: 1, unhealthyThreshold: 2 };

  it("takes a failing direct target out of rotation and brings it back", async () => {
    const a = await toggledOrigin("a");
    const b = await toggledOrigin("b");
    closers.push(a.close, b.close);
    const r = await api.call(
      "ProxyService/CreateRoute",
      {
        spec: {
          listenerId,
          hosts: ["hc.test"],
          action: "ROUTE_ACTION_FORWARD",
          healthCheck,
          targets: [a, b].map((o) => ({ kind: "TARGET_KIND_DIRECT", url: o.url, enabled: true })),
        },
      },
      c,
    );
    assert.equal(r.status, 200, r.text);
    const routeId = String((r.json.route as { id: string }).id);
    const targetA = String(((r.json.route as { spec: { targets: { id: string }[] } }).spec.targets[0]!).id);
    assert.deepEqual(await origins("hc.test"), new Set(["a", "b"]));
    a.state.healthy = false;
    await w.waitForLog((l: LogLine) => l.msg === "target unhealthy" && l.routeId === routeId && l.targetId === targetA);
    assert.deepEqual(await origins("hc.test"), new Set(["b"]), "the unhealthy target gets nothing");
    a.state.healthy = true;
    await w.waitForLog((l: LogLine) => l.msg === "target healthy again" && l.targetId === targetA);
    assert.deepEqual(await origins("hc.test"), new Set(["a", "b"]));
  });

  it("probes agent targets through each agent", async () => {
    const o = await toggledOrigin("via-agent");
    closers.push(o.close);
    const ag = await createAgent(api, c, { name: "hc-agent", labels: { pool: "hc" } });
    warren.agent(ag);
    await w.waitForLog((l: LogLine) => l.msg === "agent online" && l.agentId === ag.id);
    const r = await api.call(
      "ProxyService/CreateRoute",
      { spec: { listenerId, hosts: ["hc-agent.test"], action: "ROUTE_ACTION_FORWARD", healthCheck, targets: [{ kind: "TARGET_KIND_AGENT", url: o.url, agentSelector: { pool: "hc" }, enabled: true }] } },
      c,
    );
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await origins("hc-agent.test"), new Set(["via-agent"]));
    o.state.healthy = false;
    await w.waitForLog((l: LogLine) => l.msg === "target unhealthy" && l.agentId === ag.id);
    const down = await request(`http://127.0.0.1:${port}/`, { headers: { host: "hc-agent.test" } });
    assert.equal(down.statusCode, 503, "the only agent's probe fails: no healthy target");
    await down.body.dump();
  });

  it("validates the check by field", async () => {
    const bad = await api.call(
      "ProxyService/CreateRoute",
      { spec: { listenerId, action: "ROUTE_ACTION_FORWARD", healthCheck: { enabled: true, intervalMs: 1000, timeoutMs: 5000 }, targets: [{ kind: "TARGET_KIND_DIRECT", url: "http://127.0.0.1:1" }] } },
      c,
    );
    assert.equal(bad.json.code, "invalid_argument");
    assert.match(String(bad.json.message), /^spec\.health_check\.timeout_ms: /);
  });
});
