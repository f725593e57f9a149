import http from "node:http";
import { WebSocket } from "undici";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";

export interface Origin {
  readonly port: number;
  readonly url: string;
  /** Requests this origin saw (method, url, headers). */
  readonly seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  /** TCP connections open right now. */
  openConnections(): number;
  /** Resolves once no connection is open. */
  connectionsClosed(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A node:http origin for proxy tests. Routes: `/upload` hashes the body and answers its SHA-256;
 * `/download?bytes=N` streams N deterministic bytes (header x-sha256 has their hash); `/slow?ms=N&bytes=B`
 * streams B bytes over N ms; anything else echoes who answered and what it saw as JSON.
 */
export async function startOrigin(name: string): Promise<Origin> {
  const seen: Origin["seen"] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    const u = new URL(req.url ?? "/", "http://x");
    if (u.pathname.endsWith("/upload")) {
      const h = createHash("sha256");
      let n = 0;
      req.on("data", (d: Buffer) => {
        h.update(d);
        n += d.length;
      });
      req.on("end", () => res.end(JSON.stringify({ sha256: h.digest("hex"), bytes: n })));
      return;
    }
    if (u.pathname.endsWith("/download") || u.pathname.endsWith("/slow")) {
      const total = Number(u.searchParams.get("bytes") ?? 0);
      const ms = Number(u.searchParams.get("ms") ?? 0);
      const chunk = Buffer.alloc(64 * 1024, 7);
      const chunks = Math.ceil(total / chunk.length);
      const h = createHash("sha256");
      for (let i = 0, left = total; i < chunks; i++, left -= chunk.length) h.update(chunk.subarray(0, Math.min(chunk.length, left)));
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": total, "x-sha256": h.digest("hex") });
      let i = 0;
      let left = total;
      const pump = () => {
        while (left > 0) {
          const part = chunk.subarray(0, Math.min(chunk.length, left));
          left -= part.length;
          i++;
          if (ms > 0) {
            res.write(part);
            setTimeout(pump, ms / chunks);
            return;
          }
          if (!res.write(part)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
      return;
    }
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "x-origin": name });
      res.end(JSON.stringify({ origin: name, method: req.method, url: req.url, headers: req.headers }));
    });
  });
  server.keepAliveTimeout = 60_000;
  const conns = new Set<import("node:net").Socket>();
  const idle: (() => void)[] = [];
  server.on("connection", (s) => {
    conns.add(s);
    s.once("close", () => {
      conns.delete(s);
      if (conns.size === 0) for (const f of idle.splice(0)) f();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    openConnections: () => conns.size,
    connectionsClosed: () => (conns.size === 0 ? Promise.resolve() : new Promise<void>((r) => idle.push(r))),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A minimal RFC 6455 echo origin (text and binary frames up to 64 KiB, unfragmented): enough to
 * prove the proxy splices upgraded connections, with real handshakes and real framing.
 */
export async function startWebSocketEcho(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  const sockets = new Set<import("node:net").Socket>();
  server.on("upgrade", (req, socket: import("node:net").Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const key = String(req.headers["sec-websocket-key"] ?? "");
    const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    let buf = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        }
        if (buf.length < off + 4 + len) return;
        const mask = buf.subarray(off, off + 4);
        const payload = Buffer.from(buf.subarray(off + 4, off + 4 + len));
        for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
        buf = buf.subarray(off + 4 + len);
        if (opcode === 8) return void socket.end(Buffer.from([0x88, 0]));
        const header = len < 126 ? Buffer.from([0x80 | opcode, len]) : Buffer.from([0x80 | opcode, 126, len >> 8, len & 255]);
        socket.write(Buffer.concat([header, payload]));
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Opens a WebSocket (undici's client), sends one text message and resolves with the echo. */
export function websocketRoundTrip(url: string, message: string): Promise<string> {
  const sock = new WebSocket(url);
  return new Promise<string>((resolve, reject) => {
    sock.onopen = () => sock.send(message);
    sock.onmessage = (ev) => {
      resolve(String(ev.data));
      sock.close();
    };
    sock.onerror = () => reject(new Error(`websocket error on ${url}`));
  });
}
