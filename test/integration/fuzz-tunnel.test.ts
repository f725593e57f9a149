// Fuzzes the agent tunnel endpoint (issue 13 §1): the real `warren serve`, and a raw TLS socket acting as
// an agent that does a valid upgrade and then sends seeded garbage and malformed Yamux frames (bad
// versions, unknown types, huge lengths, window overflows, stream id reuse, frames for streams never
// opened or already closed, data after FIN, unknown go-away codes, floods of pings and window updates)
// and malformed tunnel messages (control messages oversize, undecodable or truncated; bad OpenResults
// answering a stream the server opened for a public request; a second agent-opened stream carrying an
// OpenStream of its own).
// Pass, per case: a protocol violation is answered with GO_AWAY(protocol error) and the session closes;
// anything legal leaves the session answering pings; the server never exits; a public request that
// reached the fuzzing agent ends in a 5xx, never a hang. Throughout, a real `warren agent` on the same
// server keeps serving requests (a paced request loop and one request per case), and after floods the
// server's CPU (from /proc/<pid>/stat) is back to idle within a second of the peer stopping.
//
// FUZZ_SEED picks the seed (printed), FUZZ_SCALE multiplies the case count (bench/fuzz/tunnel.sh: 10×).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { request } from "undici";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ControlMessageSchema, OpenResultSchema, OpenStreamSchema } from "../../proto/gen/warren/v1/tunnel_pb.ts";
import { Flag, FrameType, GoAwayCode, INITIAL_STREAM_WINDOW } from "../../tunnel/yamux/index.ts";
import { MAX_MESSAGE_BYTES } from "../../tunnel/messages.ts";
import { seeded } from "../helpers/seeded.ts";
import { RawAgent, cpuTicks, rssBytes } from "../helpers/raw-agent.ts";
import { createAgent, type AgentHandle } from "../helpers/agent-process.ts";
import { occurrences } from "../helpers/log-occurrences.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { isMsg, publicListener, type LogLine, type WarrenProcess } from "../helpers/warren-process.ts";
import { withWarren } from "../helpers/with-warren.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 0x7a11e1) >>> 0;
const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1));
const CASES = Math.round(360 * SCALE);
/** Flood cases whose aftermath is measured (each costs ~1.5 s of waiting). */
const CPU_CHECKS = Math.round(3 * Math.sqrt(SCALE));
/** Every single case must settle within this. */
const CASE_MS = 15_000;
/** A violation closes the session at once; this only bounds how long a miss costs. */
const GOAWAY_MS = 3_000;
/** Stop early past this many failed cases (each may cost GOAWAY_MS); they are all reported. */
const MAX_FAILURES = 25;
/** "Idle": at most this share of one core over the window [1 s, 1.5 s] after the peer stopped. */
const IDLE_CPU_SHARE = 0.1;
const CLOCK_TICKS_PER_S = 100;
const MAX_U32 = 0xffff_ffff;
/** The server's default largest receive window (tunnel/yamux/session.ts): no legal frame is larger. */
const MAX_STREAM_WINDOW = 16 * 1024 * 1024;

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const chance = (r: Rand, p: number) => r() < p;
const bytes = (r: Rand, n: number) => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(r, 256);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
};
const header = (version: number, type: number, flags: number, id: number, length: number) => {
  const b = Buffer.allocUnsafe(12);
  b[0] = version;
  b[1] = type;
  b.writeUInt16BE(flags, 2);
  b.writeUInt32BE(id >>> 0, 4);
  b.writeUInt32BE(length >>> 0, 8);
  return b;
};

interface Ctx {
  /** Starts a public request routed to the fuzzing agent; resolves with its status (or "error"). */
  publicRequest(): Promise<number | "error">;
}

interface Case {
  readonly kind: string;
  /** What a correct server does: close the session with GO_AWAY(protocol error), or keep it up. */
  readonly expect: "goaway" | "alive";
  /** Measure the server's CPU after the peer stops. */
  readonly flood?: boolean;
  /** A public request was routed to the agent: it must end in one of these statuses. */
  readonly publicStatuses?: readonly number[];
  /** Resolves once everything is sent; `status`: the public request the case started, if any. */
  act(a: RawAgent, ctx: Ctx): Promise<{ status: Promise<number | "error"> } | void>;
}

/** Where the gateway's origin listens: a reverse OpenStream names it, and it must never be dialed. */
let originAddress = "127.0.0.1:1";

/** What the server makes of a control-stream payload, decided independently: violation or not. */
function controlVerdict(payload: Buffer, finished: boolean): "goaway" | "alive" {
  let buf = payload;
  while (buf.length >= 4) {
    const len = buf.readUInt32BE(0);
    if (len > MAX_MESSAGE_BYTES) return "goaway";
    if (buf.length < 4 + len) break;
    try {
      fromBinary(ControlMessageSchema, buf.subarray(4, 4 + len));
    } catch {
      return "goaway";
    }
    buf = buf.subarray(4 + len);
  }
  // A message cut off by the end of the stream is truncated; without the end it may still come.
  return finished && buf.length > 0 ? "goaway" : "alive";
}

function randomControl(r: Rand): Buffer {
  const s = () => bytes(r, int(r, 40)).toString("latin1");
  const msg = pick(r, [
    () => create(ControlMessageSchema, { msg: { case: "hello", value: { version: s(), hostname: s(), labels: { [s()]: s() }, protocolVersion: int(r, 5) } } }),
    () => create(ControlMessageSchema, { msg: { case: "heartbeat", value: { sentAtUnixMs: BigInt(int(r, 2 ** 40)) } } }),
    () => create(ControlMessageSchema, { msg: { case: "stats", value: { activeStreams: 2n ** 64n - 1n, streamsTotal: BigInt(int(r, 1e9)), dialFailures: 0n, bytesFromOrigins: 1n, bytesToOrigins: 2n } } }),
  ])();
  return Buffer.from(toBinary(ControlMessageSchema, msg));
}

/** Sends `payload` on stream `id` in 1..4 DATA frames (the first with SYN when asked). */
function sendSplit(a: RawAgent, r: Rand, id: number, payload: Buffer, syn: boolean, fin: boolean): void {
  const parts = 1 + int(r, 4);
  let off = 0;
  for (let i = 0; i < parts; i++) {
    const end = i === parts - 1 ? payload.length : Math.min(payload.length, off + int(r, payload.length - off + 1));
    const flags = (i === 0 && syn ? Flag.SYN : 0) | (i === parts - 1 && fin ? Flag.FIN : 0);
    a.data(id, flags, payload.subarray(off, end));
    off = end;
  }
}

/** Waits for the OpenStream of a stream the server opens towards the agent; returns its id. */
async function serverOpenedStream(a: RawAgent): Promise<number> {
  const f = await a.next((x) => x.type === FrameType.Data && x.streamId % 2 === 0 && x.payload.length >= 4);
  fromBinary(OpenStreamSchema, f.payload.subarray(4, 4 + f.payload.readUInt32BE(0)));
  return f.streamId;
}

function generate(r: Rand): Case {
  const g = pick<() => Case>(r, [
    () => {
      const b = bytes(r, 1 + int(r, 300));
      b[0] = 1 + int(r, 255);
      return { kind: "garbage", expect: "goaway", act: async (a) => void a.write(b) };
    },
    () => ({ kind: "bad version", expect: "goaway", act: async (a) => void a.write(Buffer.concat([header(1 + int(r, 255), int(r, 4), int(r, 16), int(r, 8), int(r, 100)), bytes(r, int(r, 40))])) }),
    () => ({ kind: "unknown type", expect: "goaway", act: async (a) => void a.write(header(0, 4 + int(r, 252), int(r, 65536), int(r, MAX_U32), int(r, MAX_U32))) }),
    () => {
      const len = INITIAL_STREAM_WINDOW + 1 + int(r, MAX_U32 - INITIAL_STREAM_WINDOW);
      const opened = chance(r, 0.5);
      return {
        kind: "huge length",
        expect: "goaway",
        act: async (a) => {
          if (opened) a.frame(FrameType.WindowUpdate, Flag.SYN, 1, 0);
          a.write(Buffer.concat([header(0, FrameType.Data, opened ? 0 : Flag.SYN, 1, len), bytes(r, int(r, 2048))]));
        },
      };
    },
    () => {
      const d = int(r, MAX_U32 - INITIAL_STREAM_WINDOW);
      const over = MAX_U32 - INITIAL_STREAM_WINDOW - d + 1 + int(r, Math.min(1000, INITIAL_STREAM_WINDOW + d));
      return {
        kind: "window overflow",
        expect: "goaway",
        act: async (a) => {
          a.frame(FrameType.WindowUpdate, Flag.SYN, 1, d);
          a.frame(FrameType.WindowUpdate, 0, 1, over);
        },
      };
    },
    () => ({
      kind: "duplicate SYN",
      expect: "goaway",
      act: async (a) => {
        a.frame(FrameType.WindowUpdate, Flag.SYN, 1, 0);
        if (chance(r, 0.5)) a.data(1, Flag.SYN, bytes(r, int(r, 64)));
        else a.frame(FrameType.WindowUpdate, Flag.SYN, 1, int(r, 1000));
      },
    }),
    () => ({ kind: "SYN with the server's parity", expect: "goaway", act: async (a) => void a.frame(FrameType.WindowUpdate, Flag.SYN | int(r, 16), 2 * (1 + int(r, 1000)), 0) }),
    () => ({ kind: "stream id 0", expect: "goaway", act: async (a) => void a.frame(pick(r, [FrameType.Data, FrameType.WindowUpdate]), int(r, 16), 0, 0) }),
    () => {
      const id = 3 + 2 * int(r, 10000);
      const type = pick(r, [FrameType.Data, FrameType.WindowUpdate]);
      const flags = pick(r, [0, Flag.ACK, Flag.FIN, Flag.RST]);
      return {
        kind: "frame for a stream the agent never opened",
        expect: "goaway",
        act: async (a) => {
          if (chance(r, 0.5)) a.frame(FrameType.WindowUpdate, Flag.SYN, 1, 0);
          if (type === FrameType.Data) a.data(id, flags, bytes(r, 1 + int(r, 100)));
          else a.frame(type, flags, id, int(r, 1000));
        },
      };
    },
    () => {
      const id = 2 * (1 + int(r, 10000));
      const type = pick(r, [FrameType.Data, FrameType.WindowUpdate]);
      const flags = pick(r, [0, Flag.ACK, Flag.FIN, Flag.RST]);
      return {
        kind: "frame for a stream the server never opened",
        expect: "goaway",
        act: async (a) => void (type === FrameType.Data ? a.data(id, flags, bytes(r, 1 + int(r, 100))) : a.frame(type, flags, id, int(r, 1000))),
      };
    },
    () => ({
      kind: "data after FIN",
      expect: "goaway",
      act: async (a) => {
        a.data(1, Flag.SYN | Flag.FIN, bytes(r, int(r, 10)));
        a.data(1, 0, bytes(r, 1 + int(r, 100)));
      },
    }),
    () => {
      const small = chance(r, 0.6);
      return {
        kind: small ? "data for a closed stream" : "oversized data for a closed stream",
        expect: small ? "alive" : "goaway",
        publicStatuses: [502, 503],
        act: async (a, ctx) => {
          a.frame(FrameType.WindowUpdate, Flag.SYN, 1, 0);
          const status = ctx.publicRequest();
          const id = await serverOpenedStream(a);
          a.frame(FrameType.WindowUpdate, Flag.RST, id, 0);
          // Data the agent sent before it saw its own reset land is a race, not a violation; one frame
          // larger than any window the server ever grants cannot be.
          if (small) a.data(id, 0, bytes(r, 1 + int(r, 1000)));
          else a.write(header(0, FrameType.Data, 0, id, MAX_STREAM_WINDOW + 1 + int(r, MAX_U32 - MAX_STREAM_WINDOW - 1)));
          return { status };
        },
      };
    },
    () => {
      const reuse = chance(r, 0.5);
      const reverseOpen = chance(r, 0.3);
      return {
        kind: reuse ? "stream id reuse" : reverseOpen ? "a second stream carrying an OpenStream" : "a second stream",
        expect: "goaway",
        act: async (a) => {
          a.frame(FrameType.WindowUpdate, Flag.SYN, 1, 0);
          if (reuse) {
            a.frame(FrameType.WindowUpdate, pick(r, [Flag.RST, Flag.FIN]), 1, 0);
            a.frame(FrameType.WindowUpdate, Flag.SYN, 1, 0);
            return;
          }
          const id = 3 + 2 * int(r, 100);
          if (!reverseOpen) return void a.frame(FrameType.WindowUpdate, Flag.SYN, id, 0);
          // The agent asking the gateway to dial: the gateway must never act on it.
          const open = Buffer.from(toBinary(OpenStreamSchema, create(OpenStreamSchema, { address: originAddress, requestId: "fuzz" })));
          a.data(id, Flag.SYN, Buffer.concat([u32(open.length), open]));
        },
      };
    },
    () => ({ kind: "unknown go-away code", expect: "goaway", act: async (a) => void a.frame(FrameType.GoAway, 0, 0, 3 + int(r, MAX_U32 - 3)) }),
    () => {
      const len = MAX_MESSAGE_BYTES + 1 + int(r, MAX_U32 - MAX_MESSAGE_BYTES - 1);
      return { kind: "oversized control message", expect: "goaway", act: async (a) => void sendSplit(a, r, 1, Buffer.concat([u32(len), bytes(r, int(r, 200))]), true, false) };
    },
    () => {
      const body = bytes(r, int(r, 200));
      const payload = Buffer.concat([u32(body.length), body]);
      const fin = chance(r, 0.3);
      return { kind: "random control message", expect: controlVerdict(payload, fin), act: async (a) => void sendSplit(a, r, 1, payload, true, fin) };
    },
    () => {
      const msgs = Array.from({ length: 1 + int(r, 3) }, () => {
        const m = randomControl(r);
        return Buffer.concat([u32(m.length), m]);
      });
      let payload = Buffer.concat(msgs);
      const how = pick(r, ["flip", "truncate", "extend", "intact"]);
      if (how === "flip") {
        payload = Buffer.from(payload);
        for (let i = 1 + int(r, 4); i > 0; i--) {
          const at = int(r, payload.length);
          payload[at]! ^= 1 << int(r, 8);
        }
      } else if (how === "truncate") payload = payload.subarray(0, int(r, payload.length));
      else if (how === "extend") payload = Buffer.concat([payload, bytes(r, 1 + int(r, 20))]);
      const fin = chance(r, 0.4);
      return { kind: `control messages (${how})`, expect: controlVerdict(payload, fin), act: async (a) => void sendSplit(a, r, 1, payload, true, fin) };
    },
    () => {
      const n = 500 + int(r, 20_000);
      return {
        kind: "ping flood",
        expect: "alive",
        flood: true,
        act: async (a) => {
          a.keepFrames = false;
          const frames = Buffer.allocUnsafe(12 * n);
          for (let i = 0; i < n; i++) header(0, FrameType.Ping, Flag.SYN, 0, i).copy(frames, 12 * i);
          a.write(frames);
          await a.roundTrip(MAX_U32);
          a.keepFrames = true;
        },
      };
    },
    () => {
      const n = 500 + int(r, 20_000);
      return {
        kind: "window update flood",
        expect: "alive",
        flood: true,
        act: async (a) => {
          a.frame(FrameType.WindowUpdate, Flag.SYN, 1, 0);
          const frames = Buffer.allocUnsafe(12 * n);
          for (let i = 0; i < n; i++) header(0, FrameType.WindowUpdate, 0, 1, i === 0 ? 1 : 0).copy(frames, 12 * i);
          a.write(frames);
        },
      };
    },
    () => {
      const how = pick(r, ["oversize", "garbage", "rst", "fin", "refusal"]);
      const answer = (() => {
        if (how === "oversize") return Buffer.concat([u32(MAX_MESSAGE_BYTES + 1 + int(r, 1_000_000)), bytes(r, int(r, 100))]);
        if (how === "garbage") {
          const b = bytes(r, int(r, 100));
          return Buffer.concat([u32(b.length), b]);
        }
        const m = Buffer.from(toBinary(OpenResultSchema, create(OpenResultSchema, { ok: false, errorKind: pick(r, ["agent_dial_failed", "agent_denied", "nonsense", ""]), message: "no" })));
        return Buffer.concat([u32(m.length), m]);
      })();
      let expect: "goaway" | "alive" = "alive";
      let decodedOk = false;
      if (how === "oversize") expect = "goaway";
      if (how === "garbage") {
        try {
          decodedOk = fromBinary(OpenResultSchema, answer.subarray(4)).ok;
        } catch {
          expect = "goaway";
        }
      }
      return {
        kind: `OpenResult (${how})`,
        expect,
        // A violation closes the session (agent_disconnected, no other agent: 502/503); an agent that
        // refuses or resets the stream is a failed dial (502); an agent that says "ok" and then resets
        // the stream cuts the request (502).
        publicStatuses: [502, 503],
        act: async (a, ctx) => {
          a.frame(FrameType.WindowUpdate, Flag.SYN, 1, 0);
          const status = ctx.publicRequest();
          const id = await serverOpenedStream(a);
          if (how === "rst") a.frame(FrameType.WindowUpdate, Flag.RST, id, 0);
          else if (how === "fin") a.frame(FrameType.WindowUpdate, Flag.FIN, id, 0);
          else {
            sendSplit(a, r, id, answer, false, false);
            if (decodedOk) a.frame(FrameType.WindowUpdate, Flag.RST, id, 0);
          }
          return { status };
        },
      };
    },
  ]);
  return g();
}

function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

describe("tunnel endpoint fuzz (issue 13 §1)", () => {
  const warren = withWarren({ admin: true });
  let w: WarrenProcess;
  let origin: Origin;
  let port: number;
  let real: AgentHandle;
  let fuzz: AgentHandle;

  before(async () => {
    w = warren.w;
    const c = warren.admin;
    const api = warren.api;
    const listener = await publicListener(api, c);
    port = listener.port;
    origin = await startOrigin("behind-agent");
    originAddress = `127.0.0.1:${origin.port}`;
    real = await createAgent(api, c, { name: "real", labels: { pool: "real" } });
    fuzz = await createAgent(api, c, { name: "fuzz", labels: { pool: "fuzz" } });
    for (const [host, pool] of [
      ["real.test", "real"],
      ["fuzz.test", "fuzz"],
    ] as const) {
      const r = await api.call(
        "ProxyService/CreateRoute",
        { spec: { listenerId: listener.id, hosts: [host], action: "ROUTE_ACTION_FORWARD", targets: [{ kind: "TARGET_KIND_AGENT", url: origin.url, agentSelector: { pool }, enabled: true }] } },
        c,
      );
      assert.equal(r.status, 200, r.text);
    }
    warren.agent(real);
    await w.waitForLog(isMsg("agent online", (l) => l.agentId === real.id));
  });
  after(() => origin?.close());

  it(`answers ${CASES} seeded malformed tunnel inputs (seed ${SEED}) with GO_AWAY(protocol error) or a live session, while a real agent keeps serving`, async (t) => {
    t.diagnostic(`FUZZ_SEED=${SEED} FUZZ_SCALE=${SCALE} cases=${CASES}`);
    const r = seeded(SEED);
    const pid = w.child.pid!;
    const rssStart = rssBytes(pid);

    // The real agent serves a paced stream of requests the whole time; each must succeed.
    let stop = false;
    let liveOk = 0;
    const liveFailures: string[] = [];
    const liveOnce = async () => {
      try {
        const res = await request(`http://127.0.0.1:${port}/live`, { headers: { host: "real.test" }, headersTimeout: 5000, bodyTimeout: 5000 });
        const body = (await res.body.json()) as { origin?: string };
        if (res.statusCode === 200 && body.origin === "behind-agent") liveOk++;
        else liveFailures.push(`status ${res.statusCode}`);
      } catch (e) {
        liveFailures.push((e as Error).message);
      }
    };
    const startLive = async () => {
      while (!stop) {
        await liveOnce();
        await delay(50); // pacing of the background load, not a wait for anything
      }
    };
    let liveLoop = startLive();

    const isOffline = (l: LogLine) => l.msg === "agent offline" && l.agentId === fuzz.id;
    const counted = new Set<LogLine>();
    let scanned = 0;
    const nextOffline = () => {
      for (; scanned < w.logs.length; scanned++) if (isOffline(w.logs[scanned]!)) counted.add(w.logs[scanned]!);
      return w.waitForLog((l) => isOffline(l) && !counted.has(l), { what: "the fuzzing agent's session to close" });
    };

    const ctx: Ctx = {
      publicRequest: () =>
        request(`http://127.0.0.1:${port}/fuzz`, { headers: { host: "fuzz.test" }, headersTimeout: 12_000, bodyTimeout: 12_000 }).then(
          async (res) => {
            await res.body.dump().catch(() => {});
            return res.statusCode;
          },
          () => "error" as const,
        ),
    };

    const tally = new Map<string, number>();
    const failures: string[] = [];
    let cpuChecks = 0;
    const idle: number[] = [];
    const seenByOriginBefore = origin.seen.length;
    try {
      for (let i = 0; i < CASES && failures.length < MAX_FAILURES; i++) {
        const c = generate(r);
        const label = `case ${i} (${c.kind}, expect ${c.expect})`;
        tally.set(c.kind, (tally.get(c.kind) ?? 0) + 1);
        const offline = nextOffline();
        const a = await RawAgent.connect(w.baseUrl, w.caPem, fuzz.id, fuzz.token);
        try {
          const started = await deadline(c.act(a, ctx), CASE_MS, `${label}: acting`);
          if (c.expect === "goaway") {
            // A violation closes the session at once; one still open after GOAWAY_MS was not seen as one.
            const closed = await deadline(a.closed(), GOAWAY_MS, "").then(() => true, () => false);
            if (!closed) failures.push(`${label}: session still open ${GOAWAY_MS} ms later (go-away ${a.goAwayCode ?? "none"})`);
            else if (a.goAwayCode !== GoAwayCode.ProtocolError) failures.push(`${label}: session ended with go-away ${a.goAwayCode ?? "(none)"}`);
          } else {
            await deadline(a.roundTrip(i), CASE_MS, `${label}: a pong on the live session`).catch((e: Error) => failures.push(`${label}: ${e.message}, go-away ${a.goAwayCode ?? "(none)"}`));
          }
          if (started) {
            const s = await deadline(started.status, CASE_MS, `${label}: the public request to end`);
            if (!c.publicStatuses!.includes(s as number)) failures.push(`${label}: public request ended with ${s}`);
          }
        } finally {
          a.destroy();
        }
        const stoppedAt = Date.now();
        await offline;
        assert.equal(w.child.exitCode, null, `warren serve exited after ${label}`);
        if (c.flood && cpuChecks < CPU_CHECKS) {
          cpuChecks++;
          stop = true;
          await liveLoop;
          // The measurement window itself: [1 s, 1.5 s] after the peer stopped.
          await delay(Math.max(0, stoppedAt + 1000 - Date.now()));
          const t0 = cpuTicks(pid);
          await delay(500);
          const share = (cpuTicks(pid) - t0) / CLOCK_TICKS_PER_S / 0.5;
          idle.push(share);
          if (share > IDLE_CPU_SHARE) failures.push(`${label}: server CPU ${(share * 100).toFixed(0)} % of a core 1 s after the peer stopped`);
          stop = false;
          liveLoop = startLive();
        } else await liveOnce();
      }
    } finally {
      stop = true;
      await liveLoop;
    }

    const rssEnd = rssBytes(pid);
    t.diagnostic(`kinds: ${JSON.stringify(Object.fromEntries([...tally].sort()))}`);
    t.diagnostic(`live requests through the real agent: ${liveOk} ok, ${liveFailures.length} failed; idle CPU after floods: ${idle.map((x) => `${(x * 100).toFixed(0)}%`).join(", ")}; RSS ${(rssStart / 2 ** 20).toFixed(0)} → ${(rssEnd / 2 ** 20).toFixed(0)} MiB`);
    assert.deepEqual(failures, [], `${failures.length} of ${CASES} cases failed`);
    assert.deepEqual(liveFailures, [], "the real agent served every request throughout");
    assert.ok(liveOk >= CASES, `the real agent served ${liveOk} requests`);
    assert.ok(cpuChecks > 0, "at least one flood was measured");
    assert.deepEqual(
      origin.seen.slice(seenByOriginBefore).filter((s) => s.url !== "/live").map((s) => s.url),
      [],
      "nothing the fuzzing agent sent made the gateway reach the origin",
    );
    assert.equal(w.child.exitCode, null, "warren serve is still running");
  });
  // Counted in pongs, not RSS: the server's RSS over the flood is mostly garbage the GC has not
  // collected yet (+30 to +80 MiB with the cut-off, by load), so a bound on it was flaky; the pongs
  // owed are what the cut-off bounds (about 1 MiB of them beyond what the kernel's buffers hold).
  it("cuts off a peer that floods pings and never reads the answers with GO_AWAY(protocol error), long before it has answered them all", async (t) => {
    const offline = occurrences(w, (l) => l.msg === "agent offline" && l.agentId === fuzz.id, "the flooding agent's session to close");
    const gone = offline.next();
    const pid = w.child.pid!;
    const rssBefore = rssBytes(pid);
    let rssPeak = rssBefore;
    const a = await RawAgent.connect(w.baseUrl, w.caPem, fuzz.id, fuzz.token);
    a.keepFrames = false;
    a.socket.pause(); // never read while flooding: every pong piles up on the server's side
    const perBatch = 65_536;
    const batch = Buffer.allocUnsafe(12 * perBatch);
    for (let i = 0; i < perBatch; i++) header(0, FrameType.Ping, Flag.SYN, 0, i).copy(batch, 12 * i);
    // Up to 1.5 M pings: 18 MiB of pongs owed (a few MiB of them fit in the kernel's socket buffers).
    let written = 0;
    for (let i = 0; i < 24 && !a.ended; i++) {
      written++;
      if (!a.write(batch)) await deadline(new Promise((r) => a.socket.once("drain", r)), CASE_MS, `drain after batch ${written}`).catch(() => {});
      rssPeak = Math.max(rssPeak, rssBytes(pid));
    }
    a.socket.resume();
    await deadline(a.closed(), CASE_MS, "the server to close the flooded session").catch((e: Error) => {
      throw new Error(`${e.message}: ${written} batches written, ${a.pongs} pongs read, server RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssPeak / 2 ** 20).toFixed(0)} MiB`);
    });
    await gone;
    const growth = (rssPeak - rssBefore) / 2 ** 20;
    t.diagnostic(`${written} batches of ${perBatch} pings written, ${a.pongs} pongs read, then go-away ${a.goAwayCode}; server RSS +${growth.toFixed(0)} MiB`);
    assert.equal(a.goAwayCode, GoAwayCode.ProtocolError);
    assert.ok(a.pongs <= (written * perBatch) / 2, `the server answered ${a.pongs} of ${written * perBatch} pings before cutting the session off`);
    assert.equal(w.child.exitCode, null);
  });
});
