// A hand-driven tunnel peer for fuzzing (issue 13 §1): a raw TLS socket that does the agent's upgrade
// and then sends whatever bytes a test wants, parsing what the server sends back frame by frame. No
// Yamux session of ours sits in between, so malformed frames reach the server exactly as written.
import tls from "node:tls";
import { readFileSync } from "node:fs";
import { Flag, FrameType, HEADER_SIZE, encodeHeader } from "../../tunnel/yamux/index.ts";
import { TUNNEL_PATH, TUNNEL_PROTOCOL_VERSION, TUNNEL_VERSION_HEADER, UPGRADE_PROTOCOL, agentAuthorization } from "../../tunnel/handshake.ts";

export interface RawFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly length: number;
  /** DATA payload (empty for other types). */
  readonly payload: Buffer;
}

type Waiter = { pred: (f: RawFrame) => boolean; resolve: (f: RawFrame) => void; reject: (e: Error) => void };

export class RawAgent {
  readonly frames: RawFrame[] = [];
  /** Set once the server's GO_AWAY arrived. */
  goAwayCode: number | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Waiter[] = [];
  private endedWith: Error | undefined;
  private readonly endWaiters: (() => void)[] = [];
  /** Frames already counted by `take` (so ping replies in floods are not kept forever). */
  keepFrames = true;
  pongs = 0;
  lastPong = -1;

  private constructor(readonly socket: tls.TLSSocket) {}

  /** Connects, upgrades and resolves once the server answered 101 (the session is attached by then). */
  static connect(baseUrl: string, caPem: string, agentId: string, token: string): Promise<RawAgent> {
    const u = new URL(baseUrl);
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: u.hostname, port: Number(u.port), ca: caPem, servername: "localhost", ALPNProtocols: ["http/1.1"] }, () => {
        socket.write(
          `GET ${TUNNEL_PATH} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: ${UPGRADE_PROTOCOL}\r\n` +
            `${TUNNEL_VERSION_HEADER}: ${TUNNEL_PROTOCOL_VERSION}\r\nAuthorization: ${agentAuthorization(agentId, token.includes(".") ? token.slice(token.indexOf(".") + 1) : token)}\r\n\r\n`,
        );
      });
      const agent = new RawAgent(socket);
      let head = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        socket.off("error", reject);
        const status = head.subarray(0, head.indexOf("\r\n")).toString();
        if (!status.includes(" 101 ")) {
          socket.destroy();
          return reject(new Error(`tunnel upgrade refused: ${head.toString()}`));
        }
        socket.on("data", (c: Buffer) => agent.onData(c));
        socket.on("error", (e) => agent.onEnd(e));
        socket.on("close", () => agent.onEnd(new Error("socket closed")));
        socket.on("end", () => agent.onEnd(new Error("socket ended")));
        const rest = head.subarray(end + 4);
        if (rest.length > 0) agent.onData(rest);
        resolve(agent);
      };
      socket.on("data", onData);
      socket.once("error", reject);
    });
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.buf.length < HEADER_SIZE) return;
      const type = this.buf[1]!;
      const length = this.buf.readUInt32BE(8);
      const size = HEADER_SIZE + (type === FrameType.Data ? length : 0);
      if (this.buf.length < size) return;
      const f: RawFrame = {
        type,
        flags: this.buf.readUInt16BE(2),
        streamId: this.buf.readUInt32BE(4),
        length,
        payload: type === FrameType.Data ? Buffer.from(this.buf.subarray(HEADER_SIZE, size)) : Buffer.alloc(0),
      };
      this.buf = this.buf.subarray(size);
      if (f.type === FrameType.GoAway) this.goAwayCode ??= f.length;
      if (f.type === FrameType.Ping && f.flags & Flag.ACK) {
        this.pongs++;
        this.lastPong = f.length;
      }
      if (this.keepFrames) this.frames.push(f);
      this.waiters = this.waiters.filter((w) => (w.pred(f) ? (w.resolve(f), false) : true));
    }
  }

  private onEnd(e: Error): void {
    if (this.endedWith) return;
    this.endedWith = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
    for (const f of this.endWaiters.splice(0)) f();
  }

  get ended(): boolean {
    return this.endedWith !== undefined;
  }

  /** Resolves when the server's connection is gone (FIN, close or error). */
  closed(): Promise<void> {
    return this.endedWith ? Promise.resolve() : new Promise((r) => this.endWaiters.push(r));
  }

  /** The first frame (seen already or still to come) that matches; rejects if the connection ends first. */
  next(pred: (f: RawFrame) => boolean): Promise<RawFrame> {
    const hit = this.frames.find(pred);
    if (hit) return Promise.resolve(hit);
    if (this.endedWith) return Promise.reject(this.endedWith);
    return new Promise((resolve, reject) => this.waiters.push({ pred, resolve, reject }));
  }

  write(b: Buffer): boolean {
    return this.socket.write(b);
  }

  frame(type: number, flags: number, streamId: number, length: number, payload?: Buffer): void {
    this.write(payload ? Buffer.concat([encodeHeader(type as FrameType, flags, streamId, length), payload]) : encodeHeader(type as FrameType, flags, streamId, length));
  }

  data(streamId: number, flags: number, payload: Buffer): void {
    this.frame(FrameType.Data, flags, streamId, payload.length, payload);
  }

  /** Sends a ping and resolves when its pong came back: the session still reads and answers. */
  async roundTrip(value: number): Promise<void> {
    const pong = this.next((f) => f.type === FrameType.Ping && (f.flags & Flag.ACK) !== 0 && f.length === value);
    this.frame(FrameType.Ping, Flag.SYN, 0, value);
    await pong;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** utime + stime of a process in clock ticks (/proc/<pid>/stat fields 14 and 15). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Resident set size of a process in bytes (/proc/<pid>/status VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}
