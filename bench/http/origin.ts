// The bench origin: a plain node:http server in its own process (forked by run.ts with IPC), so the
// load generator, the origin and the proxy under test never share an event loop.
//
//   GET /<n>k  →  200, n KiB of bytes, content-length (e.g. /1k, /64k); anything else → 404.
//
// Sends {port} over IPC when listening; {cmd:"stats"} answers {stats:{maxRssKiB}}; {cmd:"exit"} exits.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";

const bodies = new Map<string, Buffer>();
for (const kib of [1, 4, 16, 64, 256]) bodies.set(`/${kib}k`, Buffer.alloc(kib * 1024, 0x61));

const server = http.createServer((req, res) => {
  const body = bodies.get(req.url ?? "");
  if (req.method !== "GET" || !body) {
    res.writeHead(404, { "content-length": 0 });
    res.end();
    return;
  }
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;

function maxRssKiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) : 0;
}

server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});

process.on("message", (m: { cmd?: string }) => {
  if (m.cmd === "stats") process.send?.({ stats: { maxRssKiB: maxRssKiB() } });
  if (m.cmd === "exit") {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
process.on("disconnect", () => process.exit(0));
