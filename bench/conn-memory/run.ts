// Memory per idle connection of `warren serve` (issue 13 §1): the server's memory with N idle public
// keep-alive connections (each served one request first), then with M idle agent tunnels (TLS, upgrade,
// Yamux session, the control stream and a hello, as a real agent leaves it), minus its memory without
// them, divided by the count. The server runs with the inspector on loopback so that every reading
// comes after a full GC: heap + external + array buffers (process.memoryUsage) is then exact, where
// RSS alone swings by more than the figure being measured. RSS deltas are printed too. Each figure is
// the median of five rounds of open / measure / close.
// Run: node --import tsx bench/conn-memory/run.ts [--connections 2000] [--tunnels 400] [--rounds 5]
import { parseArgs } from "node:util";
import net from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { JsonApi, WarrenProcess, cookieHeader, publicListener, setupAdmin } from "../../test/helpers/warren-process.ts";
import { createAgent, freePort, type AgentHandle } from "../../test/helpers/agent-process.ts";
import { startOrigin } from "../../test/helpers/origins.ts";
import { RawAgent, rssBytes } from "../../test/helpers/raw-agent.ts";
import { ControlMessageSchema } from "../../proto/gen/warren/v1/tunnel_pb.ts";
import { Flag } from "../../tunnel/yamux/index.ts";
import { WebSocket } from "undici";

const { values } = parseArgs({ options: { connections: { type: "string", default: "2000" }, tunnels: { type: "string", default: "400" }, rounds: { type: "string", default: "5" } } });
const N = Number(values.connections);
const M = Number(values.tunnels);
const ROUNDS = Number(values.rounds);
/** Time for the server to settle (GC, freed sockets) before each RSS reading. */
const SETTLE_MS = 1500;

const port = await freePort();
const inspectPort = await freePort();
const w = await WarrenProcess.start({
  env: { MANAGEMENT_PORT: String(port), LOG_LEVEL: "info", PUBLIC_MAX_CONNECTIONS: "100000", PUBLIC_MAX_CONNECTIONS_PER_IP: "100000", NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}` },
});

/** The server's memory after a full GC, through the inspector: JS heap + external + array buffers, and RSS. */
const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
await new Promise((r, j) => {
  ws.onopen = r;
  ws.onerror = j;
});
let seq = 0;
const pending = new Map<number, (v: unknown) => void>();
ws.onmessage = (ev) => {
  const m = JSON.parse(String(ev.data)) as { id?: number; result?: unknown };
  if (m.id !== undefined) pending.get(m.id)?.(m.result);
};
const cdp = (method: string, params: Record<string, unknown> = {}) =>
  new Promise<unknown>((r) => {
    const id = ++seq;
    pending.set(id, r);
    ws.send(JSON.stringify({ id, method, params }));
  });
async function serverMemory(): Promise<{ js: number; rss: number }> {
  await cdp("HeapProfiler.collectGarbage");
  const r = (await cdp("Runtime.evaluate", { expression: "JSON.stringify(process.memoryUsage())" })) as { result: { value: string } };
  const m = JSON.parse(r.result.value) as { heapUsed: number; external: number; arrayBuffers: number; rss: number };
  // arrayBuffers is part of external: counted once.
  return { js: m.heapUsed + m.external, rss: m.rss };
}
const api = new JsonApi(w.baseUrl, w.caPem);
const origin = await startOrigin("bench");
const pid = w.child.pid!;
try {
  const { cookie } = await setupAdmin(w, api);
  const c = cookieHeader(cookie);
  const listener = await publicListener(api, c);
  const r = await api.call("ProxyService/CreateRoute", { spec: { listenerId: listener.id, hosts: ["mem.test"], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_DIRECT", url: origin.url, enabled: true }] } }, c);
  if (r.status !== 200) throw new Error(r.text);

  const keepAlive = (): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const s = net.connect(listener.port, "127.0.0.1", () => s.write("GET / HTTP/1.1\r\nHost: mem.test\r\n\r\n"));
      let got = "";
      s.setEncoding("latin1");
      s.on("data", (d: string) => {
        got += d;
        // The origin's JSON answer ends with "}" then the chunked terminator.
        if (got.endsWith("0\r\n\r\n")) resolve(s);
      });
      s.once("error", reject);
    });

  const agents: AgentHandle[] = [];
  for (let i = 0; i < M; i++) agents.push(await createAgent(api, c, { name: `mem-${i}` }));
  const hello = Buffer.from(toBinary(ControlMessageSchema, create(ControlMessageSchema, { msg: { case: "hello", value: { version: "bench", hostname: "bench", protocolVersion: 1 } } })));
  const framedHello = Buffer.concat([Buffer.from([0, 0, 0, 0]), hello]);
  framedHello.writeUInt32BE(hello.length, 0);
  const tunnel = async (a: AgentHandle): Promise<RawAgent> => {
    const t = await RawAgent.connect(w.baseUrl, w.caPem, a.id, a.token);
    t.data(1, Flag.SYN, framedHello);
    await t.roundTrip(1);
    return t;
  };

  // Warm-up: the first requests load code and fill pools that every later connection shares.
  for (let i = 0; i < 3; i++) for (const s of await Promise.all(Array.from({ length: 50 }, keepAlive))) s.destroy();
  for (const t of await Promise.all(agents.slice(0, 5).map(tunnel))) t.destroy();

  const measure = async (open: () => Promise<{ destroy(): void }[]>, count: number): Promise<{ js: number[]; rss: number[] }> => {
    const js: number[] = [];
    const rss: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await delay(SETTLE_MS);
      const base = await serverMemory();
      const held = await open();
      await delay(SETTLE_MS);
      const now = await serverMemory();
      js.push((now.js - base.js) / count);
      rss.push((now.rss - base.rss) / count);
      for (const h of held) h.destroy();
    }
    return { js, rss };
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

  const ka = await measure(async () => {
    const out: net.Socket[] = [];
    for (let i = 0; i < N; i += 200) out.push(...(await Promise.all(Array.from({ length: Math.min(200, N - i) }, keepAlive))));
    return out;
  }, N);
  const tn = await measure(async () => {
    const out: RawAgent[] = [];
    for (let i = 0; i < M; i += 50) out.push(...(await Promise.all(agents.slice(i, i + 50).map(tunnel))));
    return out;
  }, M);
  const kb = (b: number) => (b / 1024).toFixed(1);
  const result = {
    idleKeepAliveBytes: Math.round(median(ka.js)),
    idleTunnelBytes: Math.round(median(tn.js)),
    idleKeepAliveRssBytes: Math.round(median(ka.rss)),
    idleTunnelRssBytes: Math.round(median(tn.rss)),
    connections: N,
    tunnels: M,
    serverRssMiB: Math.round(rssBytes(pid) / 2 ** 20),
  };
  console.log(`idle public keep-alive connection: ${kb(result.idleKeepAliveBytes)} KiB each after GC (rounds ${ka.js.map(kb).join(" / ")}), RSS ${kb(result.idleKeepAliveRssBytes)} KiB; ${N} connections`);
  console.log(`idle agent tunnel:                 ${kb(result.idleTunnelBytes)} KiB each after GC (rounds ${tn.js.map(kb).join(" / ")}), RSS ${kb(result.idleTunnelRssBytes)} KiB; ${M} tunnels`);
  console.log(JSON.stringify(result));
} finally {
  ws.close();
  await api.close();
  await origin.close();
  await w.stop();
  w.cleanup();
}
