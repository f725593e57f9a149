// Issue 13 §1: public connections are bounded. An idle keep-alive connection is closed after the
// keep-alive timeout; past the per-client-IP cap (keyed on the PROXY protocol source where the
// listener takes one) or the per-listener cap, a new connection is closed at once, before a byte is
// read (IPv6 clients per /64); a slot frees as soon as a connection closes.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { Harness } from "./harness.ts";
import { generateSelfSigned } from "../../management/tls/self-signed.ts";
import { startOrigin, type Origin } from "../helpers/origins.ts";
import { RouteAction, TargetKind } from "../../proto/gen/warren/v1/proxy_pb.ts";

interface Conn {
  readonly socket: net.Socket;
  /** Resolves with what the server sent once it closed the connection. */
  readonly closed: Promise<string>;
  /** Resolves with the first complete response head (and body start) once it arrives. */
  response(): Promise<string>;
}

function connect(port: number, opts: { localAddress?: string; proxyFrom?: string } = {}): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    let got = "";
    let waiter: ((s: string) => void) | undefined;
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      got += d;
      if (waiter && got.includes("\r\n\r\n")) waiter(got);
    });
    socket.on("error", () => {});
    const closed = new Promise<string>((r) => socket.once("close", () => r(got)));
    socket.once("connect", () => {
      if (opts.proxyFrom) socket.write(opts.proxyFrom.includes(":") ? `PROXY TCP6 ${opts.proxyFrom} ::1 40000 80\r\n` : `PROXY TCP4 ${opts.proxyFrom} 127.0.0.1 40000 80\r\n`);
      resolve({
        socket,
        closed,
        response: () => {
          got = "";
          socket.write("GET / HTTP/1.1\r\nHost: caps.test\r\n\r\n");
          return new Promise<string>((r, j) => {
            waiter = r;
            void closed.then(() => j(new Error(`closed before a response; got ${JSON.stringify(got)}`)));
          });
        },
      });
    });
    socket.once("error", reject);
  });
}

/** A connection the server took and answered on: it now idles in keep-alive, counted against the caps. */
async function served(port: number, opts: { localAddress?: string; proxyFrom?: string } = {}): Promise<Conn> {
  const c = await connect(port, opts);
  const head = await c.response();
  assert.match(head, /^HTTP\/1\.1 200 /);
  return c;
}

/** A connection past a cap: closed by the server with nothing sent, even though we wrote a request. */
async function refused(port: number, opts: { localAddress?: string; proxyFrom?: string } = {}): Promise<void> {
  const c = await connect(port, opts);
  // An answer fails at once (a served connection would otherwise idle until its keep-alive timeout).
  const answered = new Promise<string>((r) => c.socket.once("data", (d: string) => r(`answered: ${d.slice(0, 40)}`)));
  c.socket.write("GET / HTTP/1.1\r\nHost: caps.test\r\n\r\n");
  assert.equal(await Promise.race([c.closed, answered]), "", "closed at once, nothing answered");
  c.socket.destroy();
}

describe("public connection caps and keep-alive timeout (issue 13 §1)", () => {
  let origin: Origin;
  const route = () => ({ hosts: ["caps.test"], pathPrefix: "/", action: RouteAction.FORWARD, targets: [{ kind: TargetKind.DIRECT, url: origin.url, enabled: true }] });
  before(async () => {
    origin = await startOrigin("caps");
  });
  after(() => origin.close());

  it("closes an idle keep-alive connection after the keep-alive timeout", async () => {
    const h = await Harness.start({ keepAliveMs: 300, listeners: [{ routes: [route()] }] });
    try {
      const c = await served(h.port());
      const idleFrom = Date.now();
      const all = await c.closed;
      assert.equal(all.split("HTTP/1.1 ").length - 1, 1, "one response, and nothing after it: the close is the server's");
      assert.ok(all.endsWith("\r\n0\r\n\r\n"), "the response ended before the close");
      const idle = Date.now() - idleFrom;
      assert.ok(idle >= 250 && idle < 5_000, `closed after ${idle} ms idle (keep-alive timeout 300 ms)`);
    } finally {
      await h.close();
    }
  });

  it("caps connections per client IP: the next one is closed at once, another IP is served, a freed slot is reused", async () => {
    const h = await Harness.start({ connectionLimits: { perListener: 100, perIp: 3 }, listeners: [{ routes: [route()] }] });
    try {
      const port = h.port();
      const held = [await served(port), await served(port), await served(port)];
      await refused(port);
      await refused(port);
      // Another loopback address is another client.
      const other = await served(port, { localAddress: "127.0.0.2" });
      // A clean close: our 'close' comes after the server's FIN, i.e. after the server let the socket go.
      held[0]!.socket.end();
      await held[0]!.closed;
      const again = await served(port);
      for (const c of [...held, other, again]) c.socket.destroy();
    } finally {
      await h.close();
    }
  });

  it("keys the per-IP cap on the PROXY protocol source, not on the load balancer in front, and IPv6 per /64", async () => {
    const h = await Harness.start({ connectionLimits: { perListener: 100, perIp: 2 }, listeners: [{ acceptProxyProtocol: true, routes: [route()] }] });
    try {
      const port = h.port();
      const a = [await served(port, { proxyFrom: "10.0.0.1" }), await served(port, { proxyFrom: "10.0.0.1" })];
      await refused(port, { proxyFrom: "10.0.0.1" });
      // Same TCP peer (127.0.0.1), other client behind it: served.
      const b = [await served(port, { proxyFrom: "10.0.0.2" }), await served(port, { proxyFrom: "10.0.0.2" })];
      // IPv6 clients count per /64: a host has the whole prefix to pick addresses from.
      const v6 = [await served(port, { proxyFrom: "2001:db8::1" }), await served(port, { proxyFrom: "2001:db8::ffff:2" })];
      await refused(port, { proxyFrom: "2001:db8:0:0:1::3" });
      const otherPrefix = await served(port, { proxyFrom: "2001:db8:0:1::1" });
      for (const c of [...a, ...b, ...v6, otherPrefix]) c.socket.destroy();
    } finally {
      await h.close();
    }
  });

  it("caps connections per listener, whatever their addresses", async () => {
    const h = await Harness.start({ connectionLimits: { perListener: 4, perIp: 100 }, listeners: [{ routes: [route()] }] });
    try {
      const port = h.port();
      const held = [];
      for (let i = 1; i <= 4; i++) held.push(await served(port, { localAddress: `127.0.0.${i}` }));
      await refused(port, { localAddress: "127.0.0.5" });
      held[0]!.socket.end();
      await held[0]!.closed;
      held.push(await served(port, { localAddress: "127.0.0.6" }));
      for (const c of held) c.socket.destroy();
    } finally {
      await h.close();
    }
  });
  it("caps an HTTPS listener's connections per IP before the TLS handshake", async () => {
    const pair = await generateSelfSigned(["caps.test"], 1);
    const h = await Harness.start({
      connectionLimits: { perListener: 100, perIp: 2 },
      fallbackCertificate: async () => ({ cert: pair.certPem, key: pair.keyPem }),
      listeners: [{ protocol: "https", routes: [route()] }],
    });
    const handshake = () =>
      new Promise<tls.TLSSocket | string>((resolve) => {
        const s = tls.connect({ host: "127.0.0.1", port: h.port(), servername: "caps.test", rejectUnauthorized: false });
        s.once("secureConnect", () => resolve(s));
        s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        s.once("close", () => resolve("closed"));
      });
    try {
      const held = [await handshake(), await handshake()];
      assert.ok(held.every((x) => typeof x !== "string"), JSON.stringify(held.filter((x) => typeof x === "string")));
      const third = await handshake();
      assert.equal(typeof third, "string", "the third connection from this address gets no handshake");
      // A clean close: our 'close' comes after the server's FIN, i.e. after the server let the socket go.
      const first = held[0] as tls.TLSSocket;
      const gone = new Promise<void>((r) => first.once("close", () => r()));
      first.end();
      await gone;
      const again = await handshake();
      assert.notEqual(typeof again, "string", "a slot freed by a close is taken again");
      (again as tls.TLSSocket).destroy();
      (held[1] as tls.TLSSocket).destroy();
    } finally {
      await h.close();
    }
  });
});
