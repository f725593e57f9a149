// Child processes for bench/tunnel/run.ts. Usage: peer.ts origin | relay <originPort> <cert> <key> |
// agent <tunnelPort> <originPort>. Each reports {ready, port?} over IPC and answers {cmd: "stats", gc?}.
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { YamuxSession } from "../../tunnel/yamux/index.ts";

const [role, ...args] = process.argv.slice(2);
const send = (msg: unknown) => process.send!(msg);
let session: YamuxSession | undefined;
let streams = 0;

process.on("message", (msg: { cmd: string; gc?: boolean }) => {
  if (msg.cmd === "stats") {
    if (msg.gc) global.gc?.();
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    send({
      stats: {
        maxRssKiB: process.resourceUsage().maxRSS,
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        cpuUs: cpu.user + cpu.system,
        streams,
        sessionStreams: session?.streamCount ?? 0,
      },
    });
  } else if (msg.cmd === "exit") {
    process.exit(0);
  }
});

/**
 * Origin: 'U' = upload sink (answers the byte count as u64 after the client's FIN),
 * 'D' + u64 n = download n bytes, then FIN.
 */
function origin(): void {
  const block = Buffer.alloc(256 * 1024, 0x61);
  const server = net.createServer({ noDelay: true }, (sock) => {
    let mode = "";
    let count = 0;
    let head = Buffer.alloc(0);
    sock.on("error", () => {});
    sock.on("data", (c: Buffer) => {
      if (mode === "") {
        head = Buffer.concat([head, c]);
        if (head[0] === 0x55 /* U */) {
          mode = "U";
          count = head.length - 1;
          return;
        }
        if (head.length < 9) return;
        mode = "D";
        let left = Number(head.readBigUInt64BE(1));
        const pump = () => {
          while (left > 0) {
            const n = Math.min(left, block.length);
            left -= n;
            if (!sock.write(n === block.length ? block : block.subarray(0, n))) return void sock.once("drain", pump);
          }
          sock.end();
        };
        pump();
        return;
      }
      if (mode === "U") count += c.length;
    });
    sock.on("end", () => {
      if (mode === "U") {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(BigInt(count));
        sock.end(b);
      }
    });
  });
  server.listen(0, "127.0.0.1", () => send({ ready: true, port: (server.address() as net.AddressInfo).port }));
}

/** Two-hop TLS relay: TLS in, plain TCP to the origin. */
function relay(originPort: number, cert: string, key: string): void {
  const server = tls.createServer({ cert: readFileSync(cert), key: readFileSync(key), allowHalfOpen: true }, (client) => {
    const up = net.connect({ port: originPort, host: "127.0.0.1", noDelay: true });
    client.on("error", () => up.destroy());
    up.on("error", () => client.destroy());
    client.pipe(up);
    up.pipe(client);
  });
  server.listen(0, "127.0.0.1", () => send({ ready: true, port: (server.address() as net.AddressInfo).port }));
}

/**
 * Agent: dials the bench's TLS tunnel port and runs Yamux as client. A stream whose first byte is 'P' is
 * spliced to the origin (the rest of the bytes go there); a stream that sends nothing is held idle.
 */
function agent(tunnelPort: number, originPort: number): void {
  const sock = tls.connect({ port: tunnelPort, host: "127.0.0.1", rejectUnauthorized: false }, () => {
    session = new YamuxSession(sock, { role: "client", keepAliveIntervalMs: 0 });
    session.on("stream", (s) => {
      streams++;
      s.on("error", () => {});
      s.once("data", (first: Buffer) => {
        const up = net.connect({ port: originPort, host: "127.0.0.1", noDelay: true });
        up.on("error", () => s.destroy());
        s.pause();
        up.once("connect", () => {
          if (first.length > 1) up.write(first.subarray(1));
          s.pipe(up);
          up.pipe(s);
          s.resume();
        });
      });
    });
    send({ ready: true });
  });
  sock.on("error", (err) => {
    console.error("agent socket error", err);
    process.exit(1);
  });
}

switch (role) {
  case "origin":
    origin();
    break;
  case "relay":
    relay(Number(args[0]), args[1]!, args[2]!);
    break;
  case "agent":
    agent(Number(args[0]), Number(args[1]));
    break;
  default:
    throw new Error(`unknown role ${role}`);
}
