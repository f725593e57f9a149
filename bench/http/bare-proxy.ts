// The "bare Node proxy" row of bench/http: the ceiling of any Node proxy on this machine. A node:http
// server and one undici Pool for its one origin; every request is dispatched with `pool.dispatch()`
// and the response written straight into the ServerResponse. No routing, no events, no header
// rewriting beyond dropping hop-by-hop headers. Runs in its own process (forked by run.ts with IPC).
//
//   node --import tsx bench/http/bare-proxy.ts http://127.0.0.1:ORIGIN_PORT
//
// Sends {port} over IPC when listening; {cmd:"exit"} exits.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Pool, type Dispatcher } from "undici";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authenticate", "proxy-authorization"]);

/** Flat [name, value, …] pairs without hop-by-hop headers (nor those named in Connection). */
function endToEnd(raw: readonly string[]): string[] {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === "connection") for (const t of raw[i + 1]!.split(",")) (named ??= new Set()).add(t.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(lower) && !named?.has(lower)) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

function responseHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const raw: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) raw.push(k, x);
    else raw.push(k, v);
  }
  return endToEnd(raw);
}

/** Relays one upstream response into `res`; a full client socket pauses the upstream connection. */
class Relay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private readonly onDrain = () => this.controller?.resume();

  constructor(private readonly res: http.ServerResponse) {}

  abort(reason: Error): void {
    this.controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return;
    this.res.writeHead(statusCode, responseHeaders(headers));
    this.res.on("drain", this.onDrain);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.res.off("drain", this.onDrain);
    this.res.end();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.res.off("drain", this.onDrain);
    if (this.res.headersSent) this.res.destroy(err);
    else {
      this.res.writeHead(502, { "content-length": 0 });
      this.res.end();
    }
  }
}

const origin = process.argv[2];
if (!origin) {
  console.error("usage: bare-proxy.ts ORIGIN_URL");
  process.exit(2);
}
// The same pool settings as Warren's direct targets (proxy/targets/upstream-pools.ts).
const pool = new Pool(origin, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });

const server = http.createServer((req, res) => {
  const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
  const relay = new Relay(res);
  pool.dispatch({ method: req.method as Dispatcher.HttpMethod, path: req.url!, headers: endToEnd(req.rawHeaders), body: hasBody ? req : null }, relay);
  res.once("close", () => {
    if (!res.writableFinished) relay.abort(new Error("client went away"));
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;

server.listen(0, "127.0.0.1", () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});

process.on("message", (m: { cmd?: string }) => {
  if (m.cmd === "exit") {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
process.on("disconnect", () => process.exit(0));
