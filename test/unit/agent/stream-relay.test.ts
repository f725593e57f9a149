// The agent's data-stream relay over a real in-process Yamux session pair (two TCP sockets on
// 127.0.0.1): gateway side = Yamux server, agent side = Yamux client running relayStream().
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import pino from "pino";
import { OpenResultSchema, OpenStreamSchema, type OpenResult } from "../../../proto/gen/warren/v1/tunnel_pb.ts";
import { readMessage, writeMessage } from "../../../tunnel/messages.ts";
import { protoCodec } from "../../../tunnel/proto-codec.ts";
import { YamuxSession, type YamuxStream } from "../../../tunnel/yamux/index.ts";
import { TargetPolicy, parseAllowlist } from "../../../agent/allowlist.ts";
import { RelayCounters, relayStream, type Connect, type RelayOptions, type RelayOutcome } from "../../../agent/stream-relay.ts";

const silent = pino({ level: "silent" });
const cleanups: Array<() => void | Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface Origin {
  port: number;
  connections: net.Socket[];
  close(): Promise<void>;
}

async function origin(onConnection: (s: net.Socket) => void = (s) => s.pipe(s)): Promise<Origin> {
  const connections: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    connections.push(s);
    onConnection(s);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const o = {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.destroy();
        server.close(() => resolve());
      }),
  };
  cleanups.push(o.close);
  return o;
}

interface Harness {
  gateway: YamuxSession;
  agent: YamuxSession;
  counters: RelayCounters;
  outcomes: RelayOutcome[];
  /** What the gateway does: open a stream, send OpenStream, await OpenResult. */
  open(address: string): Promise<{ result: OpenResult; stream: YamuxStream }>;
}

async function harness(opts: { allow?: string; connect?: Connect; dialTimeoutMs?: number; policy?: RelayOptions["policy"] } = {}): Promise<Harness> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const accepted = once(server, "connection") as Promise<[net.Socket]>;
  const a = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  const [[b]] = await Promise.all([accepted, once(a, "connect")]);
  server.close();
  const agent = new YamuxSession(a, { role: "client", keepAliveIntervalMs: 0 });
  const gateway = new YamuxSession(b, { role: "server", keepAliveIntervalMs: 0 });
  const counters = new RelayCounters();
  const outcomes: RelayOutcome[] = [];
  const policy = opts.policy ?? new TargetPolicy(opts.allow ? parseAllowlist(opts.allow) : "all", undefined);
  agent.on("stream", (s) => {
    void relayStream(s, {
      policy,
      counters,
      logger: silent,
      ...(opts.connect ? { connect: opts.connect } : {}),
      ...(opts.dialTimeoutMs ? { dialTimeoutMs: opts.dialTimeoutMs } : {}),
    }).then((o) => outcomes.push(o));
  });
  cleanups.push(() => {
    gateway.close();
    agent.close();
  });
  return {
    gateway,
    agent,
    counters,
    outcomes,
    async open(address) {
      const stream = gateway.openStream();
      stream.on("error", () => {});
      writeMessage(stream, protoCodec(OpenStreamSchema), create(OpenStreamSchema, { address, requestId: "req-1" }));
      const result = await readMessage(stream, protoCodec(OpenResultSchema), 10_000);
      return { result, stream };
    },
  };
}

/** Reads to 'end' without destroying the stream (for-await would destroy it, i.e. reset a half-open stream). */
function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on("data", (c: Buffer) => parts.push(c));
    s.once("end", () => resolve(Buffer.concat(parts)));
    s.once("error", reject);
  });
}

async function writeAll(s: NodeJS.WritableStream & { end(): unknown }, data: Buffer, piece = 64 * 1024): Promise<void> {
  for (let pos = 0; pos < data.length; pos += piece) {
    if (!s.write(data.subarray(pos, pos + piece))) await once(s as never, "drain");
  }
  s.end();
}

async function until(cond: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("stream relay", () => {
  it("relays 32 MiB to an echo origin and back intact, then closes cleanly", async () => {
    const o = await origin();
    const h = await harness();
    const { result, stream } = await h.open(`127.0.0.1:${o.port}`);
    assert.deepEqual({ ok: result.ok, errorKind: result.errorKind }, { ok: true, errorKind: "" });
    const data = randomBytes(32 * 1024 * 1024);
    const [, echoed] = await Promise.all([writeAll(stream, data), readAll(stream)]);
    assert.equal(echoed.length, data.length);
    assert.equal(sha256(echoed), sha256(data));
    await until(() => h.outcomes.length === 1, 5000, "relay to finish");
    assert.equal(h.outcomes[0]!.kind, "relayed");
    const stats = h.counters.snapshot();
    assert.equal(stats.activeStreams, 0);
    assert.equal(stats.streamsTotal, 1);
    assert.equal(stats.bytesToOrigins, data.length);
    assert.equal(stats.bytesFromOrigins, data.length);
    assert.equal(h.agent.streamCount, 0, "agent side released the stream");
  });

  it("propagates half-close in both directions", async () => {
    // Origin closes its sending side first, then keeps reading.
    let originGot = "";
    const first = await origin((s) => {
      s.setEncoding("utf8");
      s.on("data", (d: string) => (originGot += d));
      s.on("end", () => s.destroy());
      s.end("hello from origin");
    });
    const h = await harness();
    const a = await h.open(`127.0.0.1:${first.port}`);
    assert.equal(a.result.ok, true);
    assert.equal((await readAll(a.stream)).toString(), "hello from origin", "origin FIN reaches the gateway as end");
    a.stream.end("written after the origin's FIN");
    await until(() => originGot === "written after the origin's FIN", 5000, "origin to read after its own FIN");

    // Gateway closes its sending side first; origin answers after seeing end.
    let sawEndFirst = false;
    const second = await origin((s) => {
      s.resume();
      s.on("end", () => {
        sawEndFirst = true;
        s.end("answer after your FIN");
      });
    });
    const b = await h.open(`127.0.0.1:${second.port}`);
    assert.equal(b.result.ok, true);
    b.stream.end("request");
    assert.equal((await readAll(b.stream)).toString(), "answer after your FIN");
    assert.ok(sawEndFirst);
    await until(() => h.outcomes.length === 2, 5000, "both relays to finish");
    assert.deepEqual(
      h.outcomes.map((x) => x.kind),
      ["relayed", "relayed"],
    );
  });

  it("respects backpressure from a paused gateway reader (origin stalls, memory bounded)", async () => {
    let accepted = 0;
    let stop = false;
    let originSocket: net.Socket | undefined;
    const o = await origin((s) => {
      originSocket = s;
      const chunk = randomBytes(64 * 1024);
      const pump = () => {
        while (!stop && !s.destroyed) {
          accepted += chunk.length;
          if (!s.write(chunk)) return void s.once("drain", pump);
        }
      };
      pump();
    });
    const h = await harness();
    const { result, stream } = await h.open(`127.0.0.1:${o.port}`);
    assert.equal(result.ok, true);
    const baseline = process.memoryUsage().arrayBuffers;
    // The gateway never reads `stream`.
    await sleep(1500);
    const a1 = accepted;
    await sleep(500);
    const a2 = accepted;
    const growth = process.memoryUsage().arrayBuffers - baseline;
    assert.ok(a2 - a1 <= 64 * 1024, `origin kept writing: ${a1} → ${a2}`);
    assert.ok(a2 < 24 * 1024 * 1024, `origin got ${a2} bytes out with nobody reading`);
    assert.ok(growth < 32 * 1024 * 1024, `buffers grew by ${growth} bytes`);
    // Reading resumes the flow.
    let got = 0;
    stream.on("data", (c: Buffer) => (got += c.length));
    await until(() => got > a2 + 4 * 1024 * 1024, 10_000, "data to flow again after resume");
    stop = true;
    originSocket?.destroy();
  });

  it("respects backpressure from an origin that does not read (gateway writer stalls)", async () => {
    let originSocket: net.Socket | undefined;
    const o = await origin((s) => {
      originSocket = s;
      s.pause();
    });
    const h = await harness();
    const { result, stream } = await h.open(`127.0.0.1:${o.port}`);
    assert.equal(result.ok, true);
    let accepted = 0;
    let stop = false;
    const chunk = randomBytes(64 * 1024);
    const pump = () => {
      while (!stop && !stream.destroyed) {
        accepted += chunk.length;
        if (!stream.write(chunk)) return void stream.once("drain", pump);
      }
    };
    pump();
    await sleep(1500);
    const a1 = accepted;
    await sleep(500);
    assert.ok(accepted - a1 <= 64 * 1024, `gateway kept writing: ${a1} → ${accepted}`);
    assert.ok(accepted < 24 * 1024 * 1024, `gateway wrote ${accepted} bytes into a non-reading origin`);
    let got = 0;
    originSocket!.on("data", (c: Buffer) => (got += c.length));
    originSocket!.resume();
    await until(() => got > a1 + 4 * 1024 * 1024, 10_000, "data to flow again after the origin reads");
    stop = true;
    stream.destroy();
  });

  it("never dials a denied address", async () => {
    const allowed = await origin();
    const forbidden = await origin();
    const dialled: net.NetConnectOpts[] = [];
    const h = await harness({
      allow: `127.0.0.1:${allowed.port}`,
      connect: (opts) => {
        dialled.push(opts);
        return net.connect(opts);
      },
    });
    const { result, stream } = await h.open(`127.0.0.1:${forbidden.port}`);
    assert.equal(result.ok, false);
    assert.equal(result.errorKind, "agent_denied");
    assert.match(result.message, /AGENT_ALLOW/);
    stream.destroy(); // as the gateway does after a refusal
    await until(() => h.outcomes.length === 1, 5000, "relay to finish");
    assert.equal(h.outcomes[0]!.kind, "refused");
    await sleep(100);
    assert.equal(forbidden.connections.length, 0, "the denied origin saw no connection");
    assert.deepEqual(dialled, []);
    const ok = await h.open(`127.0.0.1:${allowed.port}`);
    assert.equal(ok.result.ok, true);
    assert.equal(dialled.length, 1);
    ok.stream.destroy();
  });

  it("reports agent_dial_failed for a closed port", async () => {
    const tmp = await origin();
    const port = tmp.port;
    await tmp.close();
    const h = await harness();
    const { result } = await h.open(`127.0.0.1:${port}`);
    assert.equal(result.ok, false);
    assert.equal(result.errorKind, "agent_dial_failed");
    assert.match(result.message, /ECONNREFUSED/);
    assert.equal(h.counters.snapshot().dialFailures, 1);
  });

  it("reports agent_dial_timeout when the connection does not complete in time", async () => {
    // A socket that never connects stands in for a black hole: only loopback may be targeted here.
    const sockets: net.Socket[] = [];
    const h = await harness({
      dialTimeoutMs: 300,
      connect: () => {
        const s = new net.Socket();
        sockets.push(s);
        return s;
      },
    });
    const started = Date.now();
    const { result } = await h.open("127.0.0.1:9");
    const took = Date.now() - started;
    assert.equal(result.ok, false);
    assert.equal(result.errorKind, "agent_dial_timeout");
    assert.ok(took >= 250, `took ${took} ms: the dial timeout was waited for`);
    assert.equal(sockets.length, 1);
    assert.ok(sockets[0]!.destroyed, "the pending connection was abandoned");
  });

  it("counts name resolution against the same 5 s budget", async () => {
    const h = await harness({ dialTimeoutMs: 200, policy: { check: () => new Promise(() => {}) } });
    const { result } = await h.open("slow.example:80");
    assert.equal(result.ok, false);
    assert.equal(result.errorKind, "agent_dial_timeout");
    assert.match(result.message, /name resolution/);
  });

  it("a reset from either side resets the other", async () => {
    const o = await origin((s) => s.resume());
    const h = await harness();
    // Gateway resets → origin connection is torn down.
    const a = await h.open(`127.0.0.1:${o.port}`);
    assert.equal(a.result.ok, true);
    await until(() => o.connections.length === 1);
    const originSide = o.connections[0]!;
    const originClosed = new Promise((resolve) => originSide.once("close", resolve));
    let originErr: (Error & { code?: string }) | undefined;
    originSide.once("error", (e) => (originErr = e));
    a.stream.destroy();
    await originClosed;
    assert.equal(originErr?.code, "ECONNRESET", "the origin sees a reset, not a clean end");

    // Origin resets → gateway stream errors.
    const b = await h.open(`127.0.0.1:${o.port}`);
    assert.equal(b.result.ok, true);
    await until(() => o.connections.length === 2);
    const errored = new Promise<Error>((resolve) => b.stream.once("error", resolve));
    o.connections[1]!.resetAndDestroy();
    const err = (await errored) as Error & { code?: string };
    assert.equal(err.code, "yamux_stream_reset");
    await until(() => h.counters.snapshot().activeStreams === 0, 5000, "relays to finish");
  });

  it("a stream without a valid OpenStream is reset", async () => {
    const h = await harness();
    const stream = h.gateway.openStream();
    const err = new Promise<Error & { code?: string }>((resolve) => stream.once("error", resolve));
    stream.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    assert.equal((await err).code, "yamux_stream_reset");
    await until(() => h.outcomes.length === 1);
    assert.equal(h.outcomes[0]!.kind, "protocol_error");
  });
});
