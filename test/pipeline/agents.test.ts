// Target selection through agents: health and in-flight counts per (route, target, agent), upgrades
// counted, each tunnel stream named after the request that opened it (item 14), and an agent that
// sends go-away drained at once (item 15).
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { freePort } from "../helpers/agent-process.ts";
import { request, WebSocket } from "undici";
import { Harness, type InProcessAgent } from "./harness.ts";
import { startOrigin, startWebSocketEcho, type Origin } from "../helpers/origins.ts";
import { startRawOrigin } from "../helpers/raw-origin.ts";
import { BalancePolicy, HashOn, RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";

const A = "agt_aaaaaaaaaaaaaaaa";
const B = "agt_bbbbbbbbbbbbbbbb";

describe("agents as targets", () => {
  let origin: Origin;
  let ws: Awaited<ReturnType<typeof startWebSocketEcho>>;
  let h: Harness | undefined;

  before(async () => {
    origin = await startOrigin("o");
    ws = await startWebSocketEcho();
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  after(async () => {
    await origin.close();
    await ws.close();
  });

  const agentTarget = (url: string) => [{ kind: TargetKind.AGENT, url, agentSelector: { site: "x" }, enabled: true }];
  const start = (routes: Parameters<typeof Harness.start>[0]["listeners"][0]["routes"]) =>
    Harness.start({ agents: [{ id: A, labels: { site: "x" } }, { id: B, labels: { site: "x" } }], listeners: [{ routes }] });
  const servedBy = async (agents: InProcessAgent[], url: string): Promise<string> => {
    const before = agents.map((a) => a.counters.total);
    const r = await request(url);
    await r.body.text();
    assert.equal(r.statusCode, 200);
    const i = agents.findIndex((a, k) => a.counters.total > before[k]!);
    return i < 0 ? "pooled" : agents[i]!.id;
  };

  it("ejects one failing agent of a target, not the target another agent still serves", async () => {
    const dead = await freePort();
    h = await start([{ pathPrefix: "/", action: RouteAction.FORWARD, passiveHealth: { enabled: true }, targets: agentTarget(`http://127.0.0.1:${dead}`) }]);
    // Agent A cannot reach the origin (its dial is refused); agent B reaches it on another port.
    await h.connectAgent(A);
    await h.connectAgent(B, { connect: (o) => net.connect({ ...(o as net.TcpNetConnectOpts), port: origin.port }) });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await request(`${h.url()}/x`);
      await r.body.text();
      statuses.push(r.statusCode);
    }
    // A fails once (that request is retried on B, no body, GET), is ejected, and B serves the rest.
    assert.deepEqual(statuses, Array(8).fill(200));
  });

  it("counts an open WebSocket as in flight for least_active, per agent", async () => {
    h = await start([{ pathPrefix: "/", action: RouteAction.FORWARD, loadBalancing: { policy: BalancePolicy.LEAST_ACTIVE }, targets: agentTarget(ws.url) }]);
    const agents = [await h.connectAgent(A), await h.connectAgent(B)];
    const sock = new WebSocket(`${h.url().replace("http", "ws")}/ws`);
    await new Promise<void>((resolve, reject) => {
      sock.onopen = () => resolve();
      sock.onerror = () => reject(new Error("websocket error"));
    });
    const busy = agents.find((a) => a.counters.active === 1)!;
    const other = agents.find((a) => a !== busy)!;
    // Plain requests to the same target (the echo origin answers them 426): least_active sends each
    // to the agent that does not hold the open WebSocket.
    for (let i = 0; i < 4; i++) {
      const before = other.counters.snapshot().bytesFromOrigins;
      const r: Awaited<ReturnType<typeof request>> = await request(`${h.url()}/plain`);
      await r.body.text();
      assert.equal(r.statusCode, 426);
      assert.ok(other.counters.snapshot().bytesFromOrigins > before, `request ${i} went to the idle agent`);
    }
    sock.close();
  });

  it("chooses agents with the route's policy: consistent hashing keeps a client on one agent", async () => {
    h = await start([
      { pathPrefix: "/", action: RouteAction.FORWARD, loadBalancing: { policy: BalancePolicy.CONSISTENT_HASH, hashOn: HashOn.HEADER, hashKey: "x-user" }, targets: agentTarget(origin.url) },
    ]);
    const agents = [await h.connectAgent(A), await h.connectAgent(B)];
    const chosen = new Map<string, Set<string>>();
    // Five users over two agents: round robin would move each of them on every visit.
    for (let i = 0; i < 20; i++) {
      const user = `u${i % 5}`;
      const before = agents.map((a) => a.counters.snapshot().bytesFromOrigins);
      const r: Awaited<ReturnType<typeof request>> = await request(`${h.url()}/x`, { headers: { "x-user": user } });
      await r.body.text();
      const by = agents.find((a, k) => a.counters.snapshot().bytesFromOrigins > before[k]!)!.id;
      if (!chosen.has(user)) chosen.set(user, new Set());
      chosen.get(user)!.add(by);
    }
    for (const [user, set] of chosen) assert.equal(set.size, 1, `${user} stayed on one agent`);
    assert.equal(new Set([...chosen.values()].map((s2) => [...s2][0])).size, 2, "users spread over both agents");
  });

  it("opens each tunnel stream with the id of the request it serves (item 14)", async () => {
    h = await start([{ pathPrefix: "/", action: RouteAction.FORWARD, targets: agentTarget(origin.url) }]);
    const a = await h.connectAgent(A);
    const n = h.events.length;
    // Concurrent requests need one stream each; sequential ones reuse the pooled stream.
    await Promise.all([1, 2, 3].map(async (i) => (await request(`${h!.url()}/slow?ms=50&bytes=10&i=${i}`)).body.text()));
    await h.waitForEvents(n + 3);
    const ids = h.events.slice(n).map((e) => e.requestId);
    assert.equal(a.opens.length, 3);
    assert.deepEqual(new Set(a.opens.map((o) => o.requestId)), new Set(ids));
  });

  it("opens no new streams to an agent that sent go-away and lets its idle streams go at once (item 15)", async () => {
    // An origin that holds its answer half sent until the test lets it finish.
    const held: net.Socket[] = [];
    const holding = await startRawOrigin((head, s2) => {
      if (head.startsWith("GET /held")) {
        s2.write("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789");
        held.push(s2);
      } else s2.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    h = await start([{ pathPrefix: "/", action: RouteAction.FORWARD, targets: agentTarget(holding.url) }]);
    const a = await h.connectAgent(A);
    // Two pooled streams on A (two concurrent requests), then one long request in flight on one of them.
    await Promise.all([1, 2].map(async () => (await request(`${h!.url()}/warm`)).body.text()));
    assert.equal(a.counters.active, 2);
    const inFlight = request(`${h.url()}/held`).then(async (r) => await r.body.text());
    while (held.length === 0) await new Promise<void>((r) => setImmediate(r));
    const b = await h.connectAgent(B);
    const draining = new Promise<void>((r) => h!.registry.once("draining", () => r()));
    a.goAway();
    await draining;
    // The idle pooled stream closes at once; the busy one stays until its response is done.
    while (a.counters.active > 1) await new Promise<void>((r) => setImmediate(r));
    for (let i = 0; i < 3; i++) {
      const before = b.counters.snapshot().bytesFromOrigins;
      const r: Awaited<ReturnType<typeof request>> = await request(`${h.url()}/after`);
      await r.body.text();
      assert.equal(r.statusCode, 200);
      assert.ok(b.counters.snapshot().bytesFromOrigins > before, "served by the agent that is not going away");
    }
    assert.equal(a.counters.active, 1, "the in-flight stream is still there");
    held[0]!.write("abcdefghij");
    assert.equal(await inFlight, "0123456789abcdefghij", "the in-flight request finished");
    while (a.counters.active > 0) await new Promise<void>((r) => setImmediate(r));
    await holding.close();
  });
});

/** Opens a WebSocket upgrade on a raw socket and resolves once the 101 is read. */
function rawUpgrade(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("error", reject);
    s.write("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    s.once("data", (d: Buffer) => (d.toString().startsWith("HTTP/1.1 101") ? resolve(s) : reject(new Error(d.toString()))));
  });
}
