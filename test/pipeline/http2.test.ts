// HTTP/2 to clients on HTTPS listeners with `http2` (ALPN h2), forwarding over HTTP/1.1: the same
// pipeline answers h2 requests (Node's compat objects adapted at the edge, proxy/http2-compat.ts)
// and HTTP/1.1 clients on the same port as before; Node's http2 client and the real curl --http2.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import tls from "node:tls";
import { X509Certificate, createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net, { type AddressInfo } from "node:net";
import { Harness } from "./harness.ts";
import { curl } from "../helpers/curl.ts";
import { startOrigin, startWebSocketEcho, type Origin } from "../helpers/origins.ts";
import { generateSelfSigned } from "../../management/tls/self-signed.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";
import { compileKey, ScopeMatcher, type CompiledRateLimitRule } from "../../proxy/index.ts";

const HOST = "h2.test";

interface Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One request on an open session; resolves with the whole response. */
function request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ":authority": HOST, ...headers }, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    s.on("response", (h) => (head = h));
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => resolve({ status: Number(head[":status"]), headers: head, body: Buffer.concat(chunks) }));
    s.on("error", reject);
    if (body !== undefined) s.end(body);
  });
}

/** Raw HTTP/2 over TLS for what Node's client refuses to send: frames written by hand (HPACK literals, no Huffman). */
class RawH2 {
  private buf = Buffer.alloc(0);
  readonly frames: { type: number; flags: number; stream: number; payload: Buffer }[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly socket: tls.TLSSocket) {
    socket.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 9) {
        const len = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + len) break;
        const f = { type: this.buf[3]!, flags: this.buf[4]!, stream: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) };
        this.buf = this.buf.subarray(9 + len);
        // SETTINGS from the server: acknowledged, as a client must.
        if (f.type === 4 && !(f.flags & 1)) this.socket.write(RawH2.frame(4, 1, 0, Buffer.alloc(0)));
        this.frames.push(f);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on("error", () => {});
  }

  static async open(port: number): Promise<RawH2> {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port, servername: HOST, rejectUnauthorized: false, ALPNProtocols: ["h2"] }, () => resolve(s));
      s.once("error", reject);
    });
    assert.equal(socket.alpnProtocol, "h2");
    socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    socket.write(RawH2.frame(4, 0, 0, Buffer.alloc(0)));
    return new RawH2(socket);
  }

  static frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
    const h = Buffer.alloc(9);
    h.writeUIntBE(payload.length, 0, 3);
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(stream, 5);
    return Buffer.concat([h, payload]);
  }

  private static int(n: number): Buffer {
    // HPACK integer, 7-bit prefix (string lengths; the Huffman bit stays 0).
    if (n < 127) return Buffer.from([n]);
    const out = [127];
    n -= 127;
    while (n >= 128) {
      out.push((n & 127) | 128);
      n >>= 7;
    }
    out.push(n);
    return Buffer.from(out);
  }

  /** A header block of "literal without indexing, new name" fields, in the order given. */
  static block(fields: [string, string][]): Buffer {
    return Buffer.concat(fields.flatMap(([k, v]) => [Buffer.from([0]), RawH2.int(k.length), Buffer.from(k, "latin1"), RawH2.int(v.length), Buffer.from(v, "latin1")]));
  }

  /** Sends a request head (split into HEADERS + CONTINUATION frames of 16 KiB) with END_STREAM. */
  send(stream: number, fields: [string, string][]): void {
    const block = RawH2.block(fields);
    const parts: Buffer[] = [];
    for (let i = 0; i < block.length; i += 16_384) parts.push(block.subarray(i, i + 16_384));
    parts.forEach((p, i) => {
      const last = i === parts.length - 1;
      this.socket.write(RawH2.frame(i === 0 ? 1 : 9, (last ? 4 : 0) | (i === 0 ? 1 : 0), stream, p));
    });
  }

  /** What the server answered on `stream`: its :status (from the first HEADERS, static-table statuses only), RST_STREAM's code, or GOAWAY. */
  async outcome(stream: number): Promise<{ status?: number; rst?: number; goaway?: number }> {
    const STATIC: Record<number, number> = { 0x88: 200, 0x89: 204, 0x8a: 206, 0x8b: 304, 0x8c: 400, 0x8d: 404, 0x8e: 500 };
    for (;;) {
      const h = this.frames.find((f) => f.stream === stream && f.type === 1);
      if (h) return { status: STATIC[h.payload[0]!] ?? RawH2.literalStatus(h.payload) };
      const r = this.frames.find((f) => f.stream === stream && f.type === 3);
      if (r) return { rst: r.payload.readUInt32BE(0) };
      const g = this.frames.find((f) => f.type === 7);
      if (g) return { goaway: g.payload.readUInt32BE(4) };
      if (this.closed) return { goaway: -1 };
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  close(): void {
    this.socket.destroy();
  }

  /** A :status sent as a literal with the static name (index 8), its value plain or Huffman-coded digits. */
  static literalStatus(block: Buffer): number {
    const first = block[0]!;
    // Literal with incremental indexing (01xxxxxx), without (0000xxxx) or never indexed (0001xxxx), name index 8.
    if (!((first & 0xc0) === 0x40 && (first & 0x3f) === 8) && first !== 0x08 && first !== 0x18) return -1;
    const huffman = (block[1]! & 0x80) !== 0;
    const value = block.subarray(2, 2 + (block[1]! & 0x7f));
    if (!huffman) return Number(value.toString("latin1"));
    // RFC 7541 Appendix B, digits only: 0–2 are 5 bits (00000–00010), 3–9 are 6 bits (011001–011111).
    let bits = "";
    for (const b of value) bits += b.toString(2).padStart(8, "0");
    let out = "";
    for (let i = 0; i + 5 <= bits.length; ) {
      const five = parseInt(bits.slice(i, i + 5), 2);
      if (five <= 2) {
        out += String(five);
        i += 5;
      } else if (i + 6 <= bits.length && bits.slice(i, i + 3) === "011") {
        out += String(parseInt(bits.slice(i, i + 6), 2) - 0b011001 + 3);
        i += 6;
      } else break; // EOS padding (ones)
    }
    return Number(out);
  }
}

const limited: CompiledRateLimitRule = {
  id: "rl_h2",
  name: "h2",
  fingerprint: "f",
  namespace: "rl:h2",
  scope: new ScopeMatcher({ hosts: [], pathPrefixes: ["/limited"], methods: [] }),
  when: undefined,
  key: compileKey(["client_ip"]),
  limit: { algorithm: "fixed_window", limit: 1, windowMs: 60_000, burst: 0, failClosed: false },
  headersOnAllowed: false,
  response: { status: 429, headers: [], body: { kind: "error_page" } },
};

describe("HTTP/2 on an HTTPS listener with http2", () => {
  let h: Harness;
  let origin: Origin;
  let special: http.Server;
  let ws: { url: string; close: () => Promise<void> };
  let session: http2.ClientHttp2Session;
  let base: string;
  let curlBase: string[];
  let curlUrl: string;
  let dir: string;
  /** /endless requests the special origin is streaming, resolved when each one closes. */
  const endless: { closed: Promise<void> }[] = [];
  /** rawHeaders of each request the special origin answered on /s/raw. */
  const rawSeen: string[][] = [];

  before(async () => {
    const [cert, fallback] = await Promise.all([generateSelfSigned([HOST], 30), generateSelfSigned(["warren-fallback.invalid"], 30)]);
    origin = await startOrigin("o");
    ws = await startWebSocketEcho();
    special = http.createServer((req, res) => {
      if (req.url === "/s/304") return void res.writeHead(304, { etag: '"v1"', "cache-control": "max-age=0" }).end();
      if (req.url === "/s/raw") {
        rawSeen.push(req.rawHeaders);
        return void res.end("raw");
      }
      // Answers at once, never reading the upload.
      if (req.url === "/s/early") return void res.end("early");
      if (req.url === "/s/204") return void res.writeHead(204, { "x-empty": "yes" }).end();
      if (req.url === "/s/cookie") return void res.writeHead(200, [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["connection", "x-gone"], ["x-gone", "1"], ["keep-alive", "timeout=5"], ["http2-settings", "AAMAAABkAAQAoAAAAAIAAAAA"]].flat()).end("c");
      if (req.url === "/s/endless") {
        let closed!: () => void;
        endless.push({ closed: new Promise<void>((r) => (closed = r)) });
        res.once("close", () => closed());
        res.writeHead(200, { "content-type": "application/octet-stream" });
        const chunk = Buffer.alloc(16 * 1024, 1);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once("drain", pump);
        };
        pump();
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => special.listen(0, "127.0.0.1", r));
    const specialUrl = `http://127.0.0.1:${(special.address() as AddressInfo).port}`;
    const forward = (url: string) => ({ action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url, enabled: true }] });
    const routes = [
      { pathPrefix: "/s", ...forward(specialUrl) },
      { pathPrefix: "/ws", ...forward(ws.url) },
      { pathPrefix: "/small", options: { maxBodyBytes: 1024n }, ...forward(origin.url) },
      { pathPrefix: "/", ...forward(origin.url) },
    ];
    h = await Harness.start({
      fallbackCertificate: async () => ({ cert: fallback.certPem, key: fallback.keyPem }),
      rateLimitRules: [limited],
      listeners: [
        { protocol: "https", http2: true, tls: { certificates: [{ names: [HOST], certPem: cert.certPem, keyPem: cert.keyPem }] }, routes },
        // The same without http2: HTTP/1.1 only, whatever the client offers.
        { protocol: "https", tls: { certificates: [{ names: [HOST], certPem: cert.certPem, keyPem: cert.keyPem }] }, routes },
      ],
    });
    base = `https://127.0.0.1:${h.port(0)}`;
    // curl names the host in the URL (its :authority), resolved to the listener.
    curlBase = [`--resolve`, `${HOST}:${h.port(0)}:127.0.0.1`];
    curlUrl = `https://${HOST}:${h.port(0)}`;
    session = http2.connect(base, { rejectUnauthorized: false, servername: HOST });
    session.on("error", () => {});
    dir = mkdtempSync(join(tmpdir(), "warren-h2-"));
  });
  after(async () => {
    session.close();
    await h.close();
    await origin.close();
    await ws.close();
    special.closeAllConnections();
    await new Promise<void>((r) => special.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("negotiates h2 when offered, http/1.1 otherwise on the same port, and only http/1.1 without the setting", async () => {
    const alpn = async (port: number, protocols: string[]) => {
      const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const c = tls.connect({ host: "127.0.0.1", port, servername: HOST, rejectUnauthorized: false, ALPNProtocols: protocols }, () => resolve(c));
        c.once("error", reject);
      });
      s.destroy();
      return s.alpnProtocol;
    };
    assert.equal(await alpn(h.port(0), ["h2", "http/1.1"]), "h2");
    assert.equal(await alpn(h.port(0), ["http/1.1", "h2"]), "h2", "Warren's preference decides");
    assert.equal(await alpn(h.port(0), ["http/1.1"]), "http/1.1");
    assert.equal(await alpn(h.port(1), ["h2", "http/1.1"]), "http/1.1", "http2 is off by default");
    const r2 = await curl(["-k", "--http2", ...curlBase, `${curlUrl}/hello`]);
    assert.equal(r2.exitCode, 0, r2.stderr);
    assert.match(r2.raw, /^HTTP\/2 200/);
    assert.equal(JSON.parse(r2.body).headers["x-forwarded-host"], `${HOST}:${h.port(0)}`, "curl's :authority is the request's Host");
    const r1 = await curl(["-k", "--http1.1", ...curlBase, `${curlUrl}/hello`]);
    assert.match(r1.raw, /^HTTP\/1\.1 200/);
    assert.equal(r1.headers["x-origin"], "o");
    assert.ok(r1.headers["x-request-id"]);
  });

  it("HTTP/1.1 on the http2 listener answers exactly as on a listener without it", async () => {
    /** Writes `data` over TLS (ALPN http/1.1) and collects what comes back until the server closes (every request says Connection: close). */
    const exchange = (port: number, data: string) =>
      new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const done = () => resolve(Buffer.concat(chunks).toString("latin1"));
        const c = tls.connect({ host: "127.0.0.1", port, servername: HOST, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }, () => c.end(data));
        c.on("data", (d: Buffer) => chunks.push(d));
        c.on("close", done);
        c.on("error", (e) => (chunks.length ? done() : reject(e)));
      });
    // Each answer without what differs by request (ids, dates, ports).
    const shape = (raw: string) =>
      raw
        .replace(/x-request-id: \S+/gi, "x-request-id: ID")
        .replace(/"requestId":"[^"]*"|Request ID: <code>[^<]*<\/code>|[0-9a-f]{8}-[0-9a-z]+/g, "ID")
        .replace(/date: [^\r]*/gi, "date: D")
        .replace(/127\.0\.0\.1:\d+/g, "ADDR")
        .replace(/h2\.test:\d+/g, "h2.test:PORT");
    const requests = [
      `GET /hello HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
      `GET /hello HTTP/2.0\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
      `GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n`,
      `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n`,
      `POST /upload HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nhello`,
      `POST /small/upload HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5000\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      `GET /a/../b HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
      `GET /hello HTTP/1.1\r\nHost: ${HOST}\r\nX-Big: ${"a".repeat(40 * 1024)}\r\nConnection: close\r\n\r\n`,
    ];
    for (const r of requests) {
      const [withH2, without] = await Promise.all([exchange(h.port(0), r), exchange(h.port(1), r)]);
      assert.ok(withH2.length > 0 || without.length === 0, r.slice(0, 40));
      assert.equal(shape(withH2), shape(without), `same answer to ${JSON.stringify(r.slice(0, 40))}`);
    }
  });

  it("still answers a TLS-ALPN-01 validation with the challenge certificate and no HTTP/2 session", async () => {
    const challenge = await generateSelfSigned([HOST], 1);
    h.plane.acmeChallenges.setTlsAlpn01(HOST, challenge.certPem, challenge.keyPem);
    try {
      const got: Buffer[] = [];
      let ended!: Promise<void>;
      const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const c = tls.connect({ host: "127.0.0.1", port: h.port(0), servername: HOST, rejectUnauthorized: false, ALPNProtocols: ["acme-tls/1"] }, () => resolve(c));
        c.on("data", (d: Buffer) => got.push(d));
        ended = new Promise<void>((r) => c.once("close", () => r()));
        c.once("error", reject);
      });
      assert.equal(s.alpnProtocol, "acme-tls/1");
      assert.equal(s.getPeerX509Certificate()!.fingerprint256, new X509Certificate(challenge.certPem).fingerprint256);
      await ended;
      assert.equal(Buffer.concat(got).length, 0, "the server ended the connection without a byte of HTTP/2 (no SETTINGS)");
    } finally {
      h.plane.acmeChallenges.removeTlsAlpn01(HOST);
    }
  });

  it("GET and HEAD: the origin sees Host from :authority, no pseudo-headers, one Cookie; the event records the request", async () => {
    const before = h.events.length;
    const r = await request(session, { ":path": "/hello?x=1", cookie: ["a=1", "b=2"], "x-custom": "v" });
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-origin"], "o");
    assert.ok(r.headers["x-request-id"]);
    const seen = JSON.parse(r.body.toString()) as { method: string; url: string; headers: Record<string, string> };
    assert.equal(seen.url, "/hello?x=1");
    assert.equal(seen.headers.host, origin.url.slice("http://".length), "the route rewrites Host to the target's");
    assert.equal(seen.headers["x-forwarded-proto"], "https");
    assert.equal(seen.headers["x-forwarded-host"], HOST);
    assert.equal(seen.headers["x-real-ip"], "127.0.0.1");
    assert.equal(seen.headers.cookie, "a=1; b=2");
    assert.equal(seen.headers["x-custom"], "v");
    assert.ok(!Object.keys(seen.headers).some((k) => k.startsWith(":")), "no pseudo-header was forwarded");
    assert.equal(seen.headers["transfer-encoding"], undefined, "a GET has no body");
    const head = await request(session, { ":path": "/s/cookie", ":method": "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    await h.waitForEvents(before + 2);
    const e = h.events.slice(before).find((x) => x.path === "/hello")!;
    assert.equal(e.status, 200);
    assert.equal(e.host, HOST);
    assert.equal(e.clientIp, "127.0.0.1");
    assert.equal(e.answeredBy, "forward");
  });

  it("joins cookie crumbs into one Cookie for the HTTP/1.1 origin (RFC 9113 §8.2.3)", async () => {
    // Node's client joins them itself; sent by hand as separate fields, as browsers do.
    const raw = await RawH2.open(h.port(0));
    try {
      raw.send(1, [
        [":method", "GET"],
        [":scheme", "https"],
        [":path", "/s/raw"],
        [":authority", HOST],
        ["cookie", "a=1"],
        ["cookie", "b=2"],
      ]);
      assert.deepEqual(await raw.outcome(1), { status: 200 });
    } finally {
      raw.close();
    }
    const headers = rawSeen.at(-1)!;
    const cookies = headers.filter((_, i) => i % 2 === 0 && headers[i]!.toLowerCase() === "cookie").length;
    assert.equal(cookies, 1, JSON.stringify(headers));
    assert.equal(headers[headers.findIndex((x) => x.toLowerCase() === "cookie") + 1], "a=1; b=2");
  });

  it("relays repeated response headers and drops connection-specific ones (Node throws on them over h2)", async () => {
    const r = await request(session, { ":path": "/s/cookie" });
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers["set-cookie"], ["a=1", "b=2"]);
    assert.equal(r.headers.connection, undefined);
    assert.equal(r.headers["keep-alive"], undefined);
    assert.equal(r.headers["http2-settings"], undefined, "not hop-by-hop for HTTP/1.1, connection-specific for HTTP/2");
    assert.equal(r.headers["x-gone"], undefined, "named in Connection: hop-by-hop");
    assert.equal(r.body.toString(), "c");
  });

  it("POST bodies reach the origin intact, with and without content-length", async () => {
    const body = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < body.length; i += 1000) body[i] = i & 255;
    const sha = createHash("sha256").update(body).digest("hex");
    const sized = await request(session, { ":path": "/upload", ":method": "POST", "content-length": String(body.length) }, body);
    assert.equal(sized.status, 200);
    assert.deepEqual(JSON.parse(sized.body.toString()), { sha256: sha, bytes: body.length });
    const unsized = await request(session, { ":path": "/upload", ":method": "POST" }, body);
    assert.deepEqual(JSON.parse(unsized.body.toString()), { sha256: sha, bytes: body.length });
    const seen = origin.seen.filter((s) => s.url === "/upload").at(-1)!;
    assert.equal(seen.headers["transfer-encoding"], "chunked", "a body of unknown length goes upstream chunked");
    const file = join(dir, "up");
    writeFileSync(file, body);
    const c = await curl(["-k", "--http2", ...curlBase, "--data-binary", `@${file}`, `${curlUrl}/upload`]);
    assert.match(c.raw, /^HTTP\/2 200/);
    assert.deepEqual(JSON.parse(c.body), { sha256: sha, bytes: body.length });
  });

  it("Expect: 100-continue: 100 once the body is wanted, none for a refused one", async () => {
    const body = Buffer.alloc(200_000, 3);
    const send = (path: string) =>
      new Promise<{ status: number; continued: boolean; body: string }>((resolve, reject) => {
        const s = session.request({ ":authority": HOST, ":path": path, ":method": "POST", "content-length": String(body.length), expect: "100-continue" }, { endStream: false });
        let continued = false;
        let status = 0;
        const chunks: Buffer[] = [];
        s.on("continue", () => {
          continued = true;
          s.end(body);
        });
        s.on("response", (hd) => {
          status = Number(hd[":status"]);
          // Answered without a 100: the body is not wanted.
          if (!continued) s.end();
        });
        s.on("data", (d: Buffer) => chunks.push(d));
        s.on("end", () => resolve({ status, continued, body: Buffer.concat(chunks).toString() }));
        s.on("error", reject);
      });
    const ok = await send("/upload");
    assert.equal(ok.status, 200);
    assert.ok(ok.continued, "got 100 Continue");
    assert.equal(JSON.parse(ok.body).bytes, body.length);
    assert.equal(origin.seen.filter((s) => s.url === "/upload").at(-1)!.headers.expect, undefined, "Expect is never forwarded");
    const refused = await send("/small/upload");
    assert.equal(refused.status, 413);
    assert.ok(!refused.continued, "no 100 before a refusal");
  });

  it("an early answer to a body still arriving ends the stream; the session goes on", async () => {
    // 413 from the body limit while the client is still sending (no content-length: found mid-body).
    const r = await new Promise<{ status: number; rst: number }>((resolve) => {
      const s = session.request({ ":authority": HOST, ":path": "/small/upload", ":method": "POST" }, { endStream: false });
      let status = 0;
      s.on("response", (hd) => (status = Number(hd[":status"])));
      s.on("error", () => {});
      s.resume();
      // The answer ends with the server's RST_STREAM; the client's stream is done reading then (it
      // would stay open for writing, so the test closes it).
      s.on("end", () => {
        resolve({ status, rst: s.rstCode ?? -1 });
        s.destroy();
      });
      const chunk = Buffer.alloc(16 * 1024, 1);
      const pump = () => {
        while (!s.destroyed && !s.closed && s.write(chunk));
        if (!s.destroyed && !s.closed) s.once("drain", pump);
      };
      pump();
    });
    assert.equal(r.status, 413);
    assert.equal(r.rst, http2.constants.NGHTTP2_NO_ERROR, "RST_STREAM NO_ERROR: stop sending, no error (RFC 9113 §8.1)");
    assert.equal((await request(session, { ":path": "/hello" })).status, 200);
  });

  it("an origin that answers before reading the upload: the stream is ended and freed, the request recorded", async () => {
    const before = h.events.length;
    const status = await new Promise<number>((resolve, reject) => {
      const s = session.request({ ":authority": HOST, ":path": "/s/early", ":method": "POST" }, { endStream: false });
      let st = 0;
      s.on("response", (hd) => (st = Number(hd[":status"])));
      s.on("error", reject);
      s.resume();
      s.on("end", () => {
        resolve(st);
        s.destroy();
      });
      const chunk = Buffer.alloc(16 * 1024, 1);
      const pump = () => {
        while (!s.destroyed && !s.closed && s.write(chunk));
        if (!s.destroyed && !s.closed) s.once("drain", pump);
      };
      pump();
    });
    assert.equal(status, 200);
    // Recorded only once the server's stream is closed: a stream left half-open would never be.
    await h.waitForEvents(before + 1);
    assert.equal(h.events.slice(before).find((e) => e.path === "/s/early")?.status, 200);
  });

  it("streams a large download intact", async () => {
    const r = await request(session, { ":path": "/download?bytes=20000000" });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 20_000_000);
    assert.equal(createHash("sha256").update(r.body).digest("hex"), r.headers["x-sha256"]);
  });

  it("relays an origin's 304 and 204 without a body", async () => {
    const nm = await request(session, { ":path": "/s/304", "if-none-match": '"v1"' });
    assert.equal(nm.status, 304);
    assert.equal(nm.headers.etag, '"v1"');
    assert.equal(nm.body.length, 0);
    const empty = await request(session, { ":path": "/s/204" });
    assert.equal(empty.status, 204);
    assert.equal(empty.headers["x-empty"], "yes");
    assert.equal(empty.body.length, 0);
  });

  it("answers 4xx from hygiene and routing, and 429 from a rate limit, on the stream", async () => {
    const dots = await request(session, { ":path": "/a/%2e%2e/b" });
    assert.equal(dots.status, 400);
    assert.match(dots.body.toString(), /path_dot_segment/);
    assert.equal(dots.headers.connection, undefined);
    const mismatch = await request(session, { ":path": "/hello", host: "other.test" });
    assert.equal(mismatch.status, 400, "a Host that differs from :authority is refused (RFC 9113 §8.3.1)");
    const trace = await request(session, { ":path": "/hello", ":method": "TRACE" });
    assert.equal(trace.status, 405);
    const first = await request(session, { ":path": "/limited" });
    assert.equal(first.status, 200);
    const second = await request(session, { ":path": "/limited" });
    assert.equal(second.status, 429);
    assert.ok(second.headers["retry-after"]);
    assert.match(second.body.toString(), /rate_limited/);
    // The session survives all of it.
    assert.equal((await request(session, { ":path": "/hello" })).status, 200);
  });

  it("answers an HTTP/2 CONNECT with 405 (no RFC 8441), while WebSocket upgrades use HTTP/1.1 on the same port", async () => {
    const r = await new Promise<Reply>((resolve, reject) => {
      const s = session.request({ ":method": "CONNECT", ":authority": "example.com:443" });
      const chunks: Buffer[] = [];
      let head: http2.IncomingHttpHeaders = {};
      s.on("response", (hd) => (head = hd));
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("end", () => resolve({ status: Number(head[":status"]), headers: head, body: Buffer.concat(chunks) }));
      s.on("error", reject);
    });
    assert.equal(r.status, 405);
    assert.match(String(r.headers.allow), /GET/);
    // The WebSocket handshake over TLS with ALPN http/1.1, spliced to the echo origin.
    const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const c = tls.connect({ host: "127.0.0.1", port: h.port(0), servername: HOST, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }, () => resolve(c));
      c.once("error", reject);
    });
    s.write(`GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    // One masked text frame "hi".
    const mask = [1, 2, 3, 4];
    s.write(Buffer.from([0x81, 0x82, ...mask, "h".charCodeAt(0) ^ 1, "i".charCodeAt(0) ^ 2]));
    let got = Buffer.alloc(0);
    await new Promise<void>((resolve) => {
      s.on("data", (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.includes(Buffer.from([0x81, 0x02, 0x68, 0x69]))) resolve();
      });
    });
    s.destroy();
    assert.match(got.toString("latin1"), /^HTTP\/1\.1 101 /);
  });

  it("serves many concurrent streams on one connection", async () => {
    const n = 100;
    const replies = await Promise.all(Array.from({ length: n }, (_, i) => request(session, { ":path": `/c/${i}` })));
    assert.deepEqual(
      replies.map((r) => r.status),
      Array(n).fill(200),
    );
    assert.deepEqual(
      replies.map((r) => (JSON.parse(r.body.toString()) as { url: string }).url),
      Array.from({ length: n }, (_, i) => `/c/${i}`),
    );
  });

  it("a stream the client resets mid-download cancels the origin request; the session goes on", async () => {
    const before = h.events.length;
    const count = endless.length;
    await new Promise<void>((resolve, reject) => {
      const s = session.request({ ":authority": HOST, ":path": "/s/endless" });
      let n = 0;
      s.on("data", (d: Buffer) => {
        n += d.length;
        if (n > 256 * 1024) s.close(http2.constants.NGHTTP2_CANCEL);
      });
      s.on("close", () => resolve());
      s.on("error", reject);
    });
    assert.equal(endless.length, count + 1);
    await endless.at(-1)!.closed;
    await h.waitForEvents(before + 1);
    const e = h.events.slice(before).find((x) => x.path === "/s/endless")!;
    assert.equal(e.errorKind, "client_aborted");
    assert.equal(e.status, 200);
    assert.equal((await request(session, { ":path": "/hello" })).status, 200);
  });

  it("malformed HTTP/2 gets a stream error or a 4xx, never a crash; valid requests keep working", async () => {
    const valid: [string, string][] = [
      [":method", "GET"],
      [":scheme", "https"],
      [":path", "/hello"],
      [":authority", HOST],
    ];
    const cases: { name: string; fields: [string, string][]; expect: "error" | 400 | "400 or protocol error" }[] = [
      { name: "no :path", fields: valid.filter(([k]) => k !== ":path"), expect: "error" },
      { name: "unknown pseudo-header", fields: [...valid, [":foo", "x"]], expect: "error" },
      { name: "pseudo-header after a field", fields: [[":method", "GET"], [":scheme", "https"], ["x-a", "1"], [":path", "/hello"], [":authority", HOST]], expect: "error" },
      { name: "upper-case field name", fields: [...valid, ["X-Upper", "1"]], expect: "error" },
      { name: "connection-specific field", fields: [...valid, ["connection", "keep-alive"]], expect: "error" },
      { name: "header list over 32 KiB", fields: [...valid, ["x-big", "a".repeat(40 * 1024)]], expect: "error" },
      // nghttp2 refuses a request without :authority or Host (or with an empty one) itself (PROTOCOL_ERROR).
      { name: "no :authority and no Host", fields: valid.filter(([k]) => k !== ":authority"), expect: "error" },
      { name: "no :authority and an empty Host", fields: [...valid.filter(([k]) => k !== ":authority"), ["host", ""]], expect: "error" },
      // What nghttp2 lets through, hygiene refuses as it does for HTTP/1.1. The nghttp2 of Node 22 and
      // later refuses userinfo in :authority itself (RFC 9113 §8.3.1) with a PROTOCOL_ERROR reset; the
      // one of Node 20 passes it on, and then it must be our 400, never an answer from the origin.
      { name: "userinfo in :authority", fields: [...valid.filter(([k]) => k !== ":authority"), [":authority", "user@h2.test"]], expect: "400 or protocol error" },
      { name: "dot segment", fields: [...valid.filter(([k]) => k !== ":path"), [":path", "/a/../b"]], expect: 400 },
    ];
    for (const c of cases) {
      const raw = await RawH2.open(h.port(0));
      try {
        raw.send(1, c.fields);
        const o = await raw.outcome(1);
        if (c.expect === 400) assert.equal(JSON.stringify(o), JSON.stringify({ status: 400 }), c.name);
        else if (c.expect === "400 or protocol error") {
          const got = JSON.stringify(o);
          assert.ok(got === JSON.stringify({ status: 400 }) || got === JSON.stringify({ rst: http2.constants.NGHTTP2_PROTOCOL_ERROR }), `${c.name}: ${got}`);
        }
        else assert.ok(o.rst !== undefined || o.goaway !== undefined || (o.status !== undefined && o.status >= 400 && o.status < 500), `${c.name}: ${JSON.stringify(o)}`);
        if (o.goaway === undefined) {
          // A stream error: the connection serves the next request.
          raw.send(3, valid);
          assert.deepEqual(await raw.outcome(3), { status: 200 }, `${c.name}: the next stream is served`);
        }
      } finally {
        raw.close();
      }
    }
    assert.equal((await request(session, { ":path": "/hello" })).status, 200, "the gateway is still serving");
  });
});

describe("turning http2 off on a listener", () => {
  it("rebinds it: an HTTP/2 download in flight finishes after GOAWAY, the new socket speaks HTTP/1.1 only", async () => {
    const [cert, fallback] = await Promise.all([generateSelfSigned([HOST], 30), generateSelfSigned(["warren-fallback.invalid"], 30)]);
    const origin = await startOrigin("d");
    const listener = (http2on: boolean) => ({
      protocol: "https" as const,
      http2: http2on,
      tls: { certificates: [{ names: [HOST], certPem: cert.certPem, keyPem: cert.keyPem }] },
      routes: [{ pathPrefix: "/", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url: origin.url, enabled: true }] }],
    });
    const fallbackCertificate = async () => ({ cert: fallback.certPem, key: fallback.keyPem });
    const h = await Harness.start({ fallbackCertificate, listeners: [listener(true)] });
    const session = http2.connect(`https://127.0.0.1:${h.port(0)}`, { rejectUnauthorized: false, servername: HOST });
    session.on("error", () => {});
    try {
      const goaway = new Promise<void>((r) => session.once("goaway", () => r()));
      const s = session.request({ ":authority": HOST, ":path": "/download?bytes=8000000" });
      const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        s.once("response", resolve);
        s.once("error", reject);
      });
      // Held by flow control while the listener is swapped.
      s.pause();
      await h.reconfigure({ fallbackCertificate, listeners: [listener(false)] });
      await goaway;
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.resume();
      await new Promise<void>((resolve, reject) => {
        s.once("end", () => resolve());
        s.once("error", reject);
      });
      const body = Buffer.concat(chunks);
      assert.equal(body.length, 8_000_000);
      assert.equal(createHash("sha256").update(body).digest("hex"), head["x-sha256"]);
      // No new stream after GOAWAY. Node 20 and 22 refuse the request at once; Node 24 queues it and
      // cancels it when the session, drained, closes. Either way it is never answered.
      const next = await new Promise<string>((resolve) => {
        try {
          const r = session.request({ ":authority": HOST, ":path": "/" });
          r.once("response", () => resolve("answered"));
          r.once("error", (e: Error) => resolve(e.message));
        } catch (e) {
          resolve((e as Error).message);
        }
      });
      assert.match(next, /GOAWAY|destroyed|closed|canceled/i, "no new stream after GOAWAY");
      const s2 = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const c = tls.connect({ host: "127.0.0.1", port: h.port(0), servername: HOST, rejectUnauthorized: false, ALPNProtocols: ["h2", "http/1.1"] }, () => resolve(c));
        c.once("error", reject);
      });
      s2.destroy();
      assert.equal(s2.alpnProtocol, "http/1.1");
    } finally {
      session.destroy();
      await h.close();
      await origin.close();
    }
  });
});

describe("an HTTP/2 connection that sends no request", () => {
  it("is closed after the headers timeout, as an HTTP/1.1 one is", async () => {
    const [cert, fallback] = await Promise.all([generateSelfSigned([HOST], 30), generateSelfSigned(["warren-fallback.invalid"], 30)]);
    const h = await Harness.start({
      headersTimeoutMs: 300,
      fallbackCertificate: async () => ({ cert: fallback.certPem, key: fallback.keyPem }),
      listeners: [{ protocol: "https", http2: true, tls: { certificates: [{ names: [HOST], certPem: cert.certPem, keyPem: cert.keyPem }] }, routes: [] }],
    });
    try {
      const raw = await RawH2.open(h.port(0));
      const started = performance.now();
      // Preface and SETTINGS only, then nothing: the server ends the connection.
      await raw.outcome(1);
      const took = performance.now() - started;
      assert.ok(raw.closed || raw.frames.some((f) => f.type === 7), "closed or GOAWAY");
      assert.ok(took >= 250 && took < 5_000, `closed after ${took} ms`);
      raw.close();
    } finally {
      await h.close();
    }
  });
});

describe("HTTP/2 behind the PROXY protocol", () => {
  it("takes the client address from the PROXY header read before TLS", async () => {
    const [cert, fallback] = await Promise.all([generateSelfSigned([HOST], 30), generateSelfSigned(["warren-fallback.invalid"], 30)]);
    const origin = await startOrigin("p");
    const h = await Harness.start({
      fallbackCertificate: async () => ({ cert: fallback.certPem, key: fallback.keyPem }),
      listeners: [
        {
          protocol: "https",
          http2: true,
          acceptProxyProtocol: true,
          tls: { certificates: [{ names: [HOST], certPem: cert.certPem, keyPem: cert.keyPem }] },
          routes: [{ pathPrefix: "/", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url: origin.url, enabled: true }] }],
        },
      ],
    });
    const port = h.port(0);
    const session = http2.connect(`https://${HOST}:${port}`, {
      createConnection: () => {
        const tcp = net.connect(port, "127.0.0.1");
        tcp.write(`PROXY TCP4 203.0.113.7 127.0.0.1 51234 ${port}\r\n`);
        return tls.connect({ socket: tcp, servername: HOST, rejectUnauthorized: false, ALPNProtocols: ["h2"] });
      },
    });
    session.on("error", () => {});
    try {
      const r = await request(session, { ":path": "/who" });
      assert.equal(r.status, 200);
      const seen = JSON.parse(r.body.toString()) as { headers: Record<string, string> };
      assert.equal(seen.headers["x-forwarded-for"], "203.0.113.7");
      assert.equal(seen.headers["x-real-ip"], "203.0.113.7");
    } finally {
      session.destroy();
      await h.close();
      await origin.close();
    }
  });
});
