// Tunnel throughput and memory bench. Run: node --import tsx bench/tunnel/run.ts [--quick] [--only=<case substring>]
//
//   (a) raw TCP: bench → origin
//   (b) two-hop TLS relay: bench → TLS → relay process → TCP → origin
//   (c) Yamux tunnel: bench (Yamux server on a TLS socket) → agent process (Yamux client) → TCP → origin,
//       one stream and 1/8/64 parallel streams
//   plus peak RSS of both tunnel processes and the memory of 10,000 idle streams.
//
// Prints a table and JSON (also written to bench/out/tunnel.json). TLS keys are generated per run
// with the openssl CLI into a temp dir and deleted afterwards.
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { exposedGc } from "../../lib/exposed-gc.ts";
import { YamuxSession } from "../../tunnel/yamux/index.ts";

const gc = exposedGc()!;

const MiB = 1024 * 1024;
const quick = process.argv.includes("--quick");
const BYTES = (quick ? 64 : 256) * MiB;
const RUNS = quick ? 1 : 5;
const IDLE_STREAMS = 10_000;
const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "../..");

interface Peer {
  child: ChildProcess;
  port: number;
  stats(gc?: boolean): Promise<{ maxRssKiB: number; rss: number; heapUsed: number; cpuUs: number; streams: number; sessionStreams: number }>;
  stop(): Promise<void>;
}

async function spawnPeer(role: string, args: Array<string | number>): Promise<Peer> {
  const child = fork(join(here, "peer.ts"), [role, ...args.map(String)], {
    execArgv: ["--import", "tsx", "--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const [ready] = (await once(child, "message")) as [{ port?: number }];
  return {
    child,
    port: ready.port ?? 0,
    async stats(gc = false) {
      child.send({ cmd: "stats", gc });
      const [msg] = (await once(child, "message")) as [{ stats: Awaited<ReturnType<Peer["stats"]>> }];
      return msg.stats;
    },
    async stop() {
      child.send({ cmd: "exit" });
      await once(child, "exit");
    },
  };
}

function makeCerts(): { dir: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "warren-bench-"));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
    { stdio: "ignore" },
  );
  return { dir, cert, key };
}

const block = Buffer.alloc(MiB, 0x62);

/** Origin sends n bytes; resolves when all arrived and the stream ended. */
function download(sock: Duplex, n: number): Promise<void> {
  const head = Buffer.alloc(9);
  head.write("D");
  head.writeBigUInt64BE(BigInt(n), 1);
  sock.write(head);
  return new Promise((resolve, reject) => {
    let got = 0;
    sock.on("data", (c: Buffer) => (got += c.length));
    sock.once("error", reject);
    sock.once("end", () => {
      sock.destroy();
      if (got === n) resolve();
      else reject(new Error(`downloaded ${got} of ${n} bytes`));
    });
  });
}

/** We send n bytes; resolves when the origin confirms the count. */
async function upload(sock: Duplex, n: number): Promise<void> {
  const reply = new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    sock.on("data", (c: Buffer) => parts.push(c));
    sock.once("error", reject);
    sock.once("end", () => resolve(Buffer.concat(parts)));
  });
  sock.write("U");
  for (let left = n; left > 0; ) {
    const k = Math.min(left, block.length);
    left -= k;
    if (!sock.write(k === block.length ? block : block.subarray(0, k))) await once(sock, "drain");
  }
  sock.end();
  const r = await reply;
  sock.destroy();
  if (r.length !== 8 || Number(r.readBigUInt64BE(0)) !== n) throw new Error(`origin counted ${r.length === 8 ? r.readBigUInt64BE(0) : "?"} of ${n}`);
}

type Connect = () => Promise<Duplex>;
type Direction = "download" | "upload";

interface Sample {
  mbps: number;
  /** CPU time per MB (10^6 bytes) of the middle process (relay or agent), and of this process, in ms. */
  peerCpuMsPerMB?: number;
  selfCpuMsPerMB: number;
}

/** One run: `streams` parallel connections sharing BYTES. */
async function measureOnce(connect: Connect, dir: Direction, streams: number, peer?: Peer): Promise<Sample> {
  const per = Math.floor(BYTES / streams);
  const socks = await Promise.all(Array.from({ length: streams }, connect));
  const peerBefore = peer ? (await peer.stats()).cpuUs : 0;
  const self = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(socks.map((s) => (dir === "download" ? download(s, per) : upload(s, per))));
  const secs = (performance.now() - t0) / 1000;
  const selfUsed = process.cpuUsage(self);
  const mb = (per * streams) / 1e6;
  const sample: Sample = { mbps: mb / secs, selfCpuMsPerMB: (selfUsed.user + selfUsed.system) / 1000 / mb };
  if (peer) sample.peerCpuMsPerMB = ((await peer.stats()).cpuUs - peerBefore) / 1000 / mb;
  return sample;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Case {
  name: string;
  connect: Connect;
  streams: number;
  dirs: Direction[];
  /** The process in the middle (relay or agent) whose CPU use is reported. */
  peer?: Peer;
}

interface Row {
  name: string;
  download: number;
  upload?: number;
  /** Median CPU ms per MB downloaded: middle process, and the bench process (the client end). */
  cpuMsPerMB?: { middle?: number; client: number };
}

/**
 * Runs every case RUNS times, interleaved (run 1 of every case, then run 2, ...), so background load
 * on a shared machine hits all cases alike; reports the median per case and direction.
 */
async function measureAll(cases: Case[]): Promise<Row[]> {
  const samples = new Map<string, Sample[]>();
  for (let r = 0; r < RUNS; r++) {
    for (const c of cases) {
      for (const dir of c.dirs) {
        const key = `${c.name}\0${dir}`;
        if (!samples.has(key)) samples.set(key, []);
        samples.get(key)!.push(await measureOnce(c.connect, dir, c.streams, c.peer));
      }
    }
    process.stderr.write(`  run ${r + 1}/${RUNS} done\n`);
  }
  return cases.map((c) => {
    const down = samples.get(`${c.name}\0download`)!;
    const row: Row = { name: c.name, download: median(down.map((x) => x.mbps)) };
    if (c.dirs.includes("upload")) row.upload = median(samples.get(`${c.name}\0upload`)!.map((x) => x.mbps));
    row.cpuMsPerMB = { client: +median(down.map((x) => x.selfCpuMsPerMB)).toFixed(2) };
    if (c.peer) row.cpuMsPerMB.middle = +median(down.map((x) => x.peerCpuMsPerMB!)).toFixed(2);
    return row;
  });
}

async function main(): Promise<void> {
  const started = performance.now();
  const certs = makeCerts();
  const peers: Peer[] = [];
  try {
    const origin = await spawnPeer("origin", []);
    peers.push(origin);
    const relay = await spawnPeer("relay", [origin.port, certs.cert, certs.key]);
    peers.push(relay);

    const rawTcp: Connect = async () => {
      const s = net.connect({ port: origin.port, host: "127.0.0.1", noDelay: true });
      await once(s, "connect");
      return s;
    };
    const twoHopTls: Connect = async () => {
      const s = tls.connect({ port: relay.port, host: "127.0.0.1", rejectUnauthorized: false });
      await once(s, "secureConnect");
      return s;
    };

    // The bench process plays the management server: TLS server, Yamux server role, opens streams.
    const tunnelServer = tls.createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key) });
    tunnelServer.listen(0, "127.0.0.1");
    await once(tunnelServer, "listening");
    const tunnelPort = (tunnelServer.address() as net.AddressInfo).port;
    async function connectAgent(): Promise<{ agent: Peer; session: YamuxSession }> {
      const accepted = once(tunnelServer, "secureConnection") as Promise<[tls.TLSSocket]>;
      const agent = await spawnPeer("agent", [tunnelPort, origin.port]);
      peers.push(agent);
      const [sock] = await accepted;
      const session = new YamuxSession(sock, { role: "server", keepAliveIntervalMs: 0 });
      await session.ping();
      return { agent, session };
    }

    const { agent, session } = await connectAgent();
    const agentBaseline = await agent.stats();
    const tunnel: Connect = async () => {
      const s = session.openStream();
      s.write("P");
      return s;
    };

    process.stderr.write(`bench/tunnel: ${BYTES / MiB} MiB per run, median of ${RUNS}\n`);
    const both: Direction[] = ["download", "upload"];
    const down: Direction[] = ["download"];
    const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
    const rows = await measureAll([
      { name: "(a) raw TCP pipe", connect: rawTcp, streams: 1, dirs: both },
      { name: "(b) two-hop TLS relay", connect: twoHopTls, streams: 1, dirs: both, peer: relay },
      { name: "(b) two-hop TLS relay, 8 connections", connect: twoHopTls, streams: 8, dirs: down },
      { name: "(b) two-hop TLS relay, 64 connections", connect: twoHopTls, streams: 64, dirs: down },
      { name: "(c) yamux over TLS, 1 stream", connect: tunnel, streams: 1, dirs: both, peer: agent },
      { name: "(c) yamux over TLS, 8 streams", connect: tunnel, streams: 8, dirs: down },
      { name: "(c) yamux over TLS, 64 streams", connect: tunnel, streams: 64, dirs: down },
    ].filter((c) => only === undefined || c.name.includes(only) || c.name.startsWith("(b) two-hop TLS relay") && c.streams === 1));
    const agentStats = await agent.stats();
    const relayStats = await relay.stats();
    const benchRssKiB = process.resourceUsage().maxRSS;
    session.close();
    await agent.stop();
    peers.splice(peers.indexOf(agent), 1);

    // 10,000 idle streams on a fresh tunnel.
    const fresh = await connectAgent();
    gc();
    const before = process.memoryUsage();
    const agentBefore = await fresh.agent.stats(true);
    const idle = Array.from({ length: IDLE_STREAMS }, () => fresh.session.openStream());
    await fresh.session.ping(); // the agent has accepted them all
    gc();
    const after = process.memoryUsage();
    const agentAfter = await fresh.agent.stats(true);
    if (agentAfter.sessionStreams !== IDLE_STREAMS) throw new Error(`agent holds ${agentAfter.sessionStreams} streams`);
    const idleMem = {
      streams: IDLE_STREAMS,
      benchHeapBytesPerStream: Math.round((after.heapUsed - before.heapUsed) / IDLE_STREAMS),
      benchRssBytesPerStream: Math.round((after.rss - before.rss) / IDLE_STREAMS),
      agentHeapBytesPerStream: Math.round((agentAfter.heapUsed - agentBefore.heapUsed) / IDLE_STREAMS),
      agentRssBytesPerStream: Math.round((agentAfter.rss - agentBefore.rss) / IDLE_STREAMS),
    };
    for (const s of idle) s.destroy();
    fresh.session.close();
    tunnelServer.close();

    const get = (name: string): Row => rows.find((r) => r.name === name) ?? { name, download: NaN, upload: NaN };
    const tunnel1 = get("(c) yamux over TLS, 1 stream");
    const tls1 = get("(b) two-hop TLS relay");
    const result = {
      node: process.version,
      bytesPerRun: BYTES,
      runs: RUNS,
      throughputMBps: rows,
      ratioTunnelToTwoHopTls: {
        download: +(tunnel1.download / tls1.download).toFixed(2),
        upload: +(tunnel1.upload! / tls1.upload!).toFixed(2),
      },
      peakRssMiB: {
        bench: +(benchRssKiB / 1024).toFixed(1),
        agent: +(agentStats.maxRssKiB / 1024).toFixed(1),
        agentAtStart: +(agentBaseline.rss / MiB).toFixed(1),
        twoHopRelay: +(relayStats.maxRssKiB / 1024).toFixed(1),
      },
      idleStreams: idleMem,
      seconds: +((performance.now() - started) / 1000).toFixed(1),
    };

    const pad = (s: string, n: number) => s.padEnd(n);
    const lines = [
      `${pad("case", 40)} ${pad("download MB/s", 14)} ${pad("upload MB/s", 12)} CPU ms/MB down (middle, client)`,
      ...rows.map(
        (r) =>
          `${pad(r.name, 40)} ${pad(r.download.toFixed(0), 14)} ${pad(r.upload === undefined ? "-" : r.upload.toFixed(0), 12)} ` +
          `${r.cpuMsPerMB?.middle ?? "-"}, ${r.cpuMsPerMB?.client ?? "-"}`,
      ),
      "",
      `tunnel / two-hop TLS (1 stream): download ${result.ratioTunnelToTwoHopTls.download}, upload ${result.ratioTunnelToTwoHopTls.upload} (goal >= 0.8)`,
      `peak RSS during the throughput runs: bench ${result.peakRssMiB.bench} MiB, agent ${result.peakRssMiB.agent} MiB (agent RSS when idle at start: ${result.peakRssMiB.agentAtStart} MiB; two-hop relay peak ${result.peakRssMiB.twoHopRelay} MiB)`,
      `${IDLE_STREAMS} idle streams: bench ${idleMem.benchHeapBytesPerStream} B heap (${idleMem.benchRssBytesPerStream} B RSS) per stream, agent ${idleMem.agentHeapBytesPerStream} B heap (${idleMem.agentRssBytesPerStream} B RSS) per stream`,
      `total ${result.seconds} s`,
    ];
    console.log(lines.join("\n"));
    console.log(JSON.stringify(result, null, 2));
    mkdirSync(join(root, "bench/out"), { recursive: true });
    writeFileSync(join(root, "bench/out/tunnel.json"), JSON.stringify(result, null, 2) + "\n");
  } finally {
    for (const p of peers) p.child.kill();
    rmSync(certs.dir, { recursive: true, force: true });
  }
}

await main();
