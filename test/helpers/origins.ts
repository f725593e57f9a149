import http from "node:http";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";

export interface Origin {
  readonly port: number;
  readonly url: string;
  /** Requests this origin saw (method, url, headers). */
  readonly seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
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
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
