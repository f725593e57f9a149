// runAgent() against a small fake management server (the real one has its own tests): upgrade headers,
// control stream, data streams, refusals and their logs, reconnect, mTLS after enrollment, graceful stop.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { EventEmitter, once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import pino from "pino";
import { CertificateAuthority } from "../../../management/pki/index.ts";
import { ControlMessageSchema, OpenResultSchema, OpenStreamSchema, type ControlMessage, type OpenResult } from "../../../proto/gen/warren/v1/tunnel_pb.ts";
import { REFUSAL_REASONS, agentSpiffeId } from "../../../tunnel/handshake.ts";
import { readMessage, readMessages, writeMessage } from "../../../tunnel/messages.ts";
import { protoCodec } from "../../../tunnel/proto-codec.ts";
import { YamuxSession, type YamuxStream } from "../../../tunnel/yamux/index.ts";
import { AGENT_VERSION, runAgent, type RunningAgent } from "../../../agent/agent.ts";
import type { EnrollFn } from "../../../agent/enrollment.ts";
import type { AgentSettings, ManagementTrust } from "../../../agent/settings.ts";

const ID = "agt_abcdefghijklmnop";
const SECRET = "agent-secret-do-not-log";
const FAST = { initialMs: 50, maxMs: 200 };
const dirs: string[] = [];
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

let ca: CertificateAuthority;
before(async () => {
  const m = await CertificateAuthority.generate({ commonName: "Agent Test CA" });
  ca = await CertificateAuthority.fromPem(m.certPem, m.keyPem);
});

interface Connection {
  headers: http.IncomingHttpHeaders;
  session: YamuxSession;
  control: ControlMessage[];
  peerCertSan: string | undefined;
  goaway: boolean;
}

class FakeManagement extends EventEmitter<{ connection: [Connection] }> {
  readonly connections: Connection[] = [];
  attempts = 0;
  /** Status to answer for each attempt in turn; 101 once the list is used up. */
  script: number[] = [];
  url!: URL;
  private server!: http.Server | https.Server;
  private sockets = new Set<Duplex>();

  async start(tls?: https.ServerOptions): Promise<this> {
    this.server = tls ? https.createServer(tls) : http.createServer();
    this.server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.server.on("connection", (s: net.Socket) => {
      this.sockets.add(s);
      s.once("close", () => this.sockets.delete(s));
    });
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    this.url = new URL(`${tls ? "https" : "http"}://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`);
    cleanups.push(() => this.close());
    return this;
  }

  close(): Promise<void> {
    for (const c of this.connections) c.session.close();
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => {});
    this.attempts++;
    const status = this.script.shift() ?? 101;
    if (status !== 101) {
      const body = `refused by the fake with ${status}\n`;
      socket.end(`HTTP/1.1 ${status} Nope\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: warren-yamux\r\n\r\n");
    if (head.length > 0) socket.unshift(head);
    const session = new YamuxSession(socket, { role: "server", keepAliveIntervalMs: 0 });
    const tlsSocket = req.socket as Partial<TLSSocket>;
    const peer = tlsSocket.getPeerCertificate?.();
    const c: Connection = { headers: req.headers, session, control: [], peerCertSan: peer?.subjectaltname, goaway: false };
    session.on("goaway", () => (c.goaway = true));
    session.once("stream", (control) => {
      control.on("error", () => {});
      void (async () => {
        try {
          for await (const m of readMessages(control, protoCodec(ControlMessageSchema))) c.control.push(m);
        } catch {
          // session closed
        }
      })();
    });
    this.connections.push(c);
    this.emit("connection", c);
  }

  async nextConnection(timeoutMs = 5000): Promise<Connection> {
    const [c] = (await Promise.race([once(this, "connection"), sleep(timeoutMs).then(() => Promise.reject(new Error("no connection")))])) as [Connection];
    return c;
  }
}

async function openThrough(c: Connection, address: string): Promise<{ result: OpenResult; stream: YamuxStream }> {
  const stream = c.session.openStream();
  stream.on("error", () => {});
  writeMessage(stream, protoCodec(OpenStreamSchema), create(OpenStreamSchema, { address, requestId: "r1" }));
  return { result: await readMessage(stream, protoCodec(OpenResultSchema), 10_000), stream };
}

async function echoOrigin(): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as net.AddressInfo).port;
}

function readAll(s: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on("data", (c: Buffer) => parts.push(c));
    s.once("end", () => resolve(Buffer.concat(parts)));
    s.once("error", reject);
  });
}

async function until(cond: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function start(url: URL, trust: ManagementTrust, deps: { enroll?: EnrollFn } = {}) {
  const stateDir = await mkdtemp(path.join(tmpdir(), "warren-agent-run-"));
  dirs.push(stateDir);
  const settings = { managementUrl: url, agentId: ID, secret: SECRET, trust, stateDir, allow: "all", logLevel: "debug" } as AgentSettings;
  const raw: string[] = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void raw.push(s) });
  const agent: RunningAgent = await runAgent(settings, logger, { hostname: "test-host", backoff: FAST, ...deps });
  cleanups.push(() => agent.stop({ graceMs: 0 }));
  const logs = () => raw.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { agent, logs, raw };
}

describe("warren agent against a fake management server", () => {
  it("upgrades with the documented headers, says hello, sends heartbeats and stats, relays streams", async () => {
    const m = await new FakeManagement().start();
    const next = m.nextConnection();
    const { agent, logs, raw } = await start(m.url, { kind: "insecure" });
    const c = await next;
    assert.equal(c.headers.upgrade, "warren-yamux");
    assert.match(String(c.headers.connection), /upgrade/i);
    assert.equal(c.headers["warren-tunnel-version"], "1");
    assert.equal(c.headers.authorization, `Bearer ${ID}.${SECRET}`);
    await until(() => c.control.length >= 3, 5000, "hello + heartbeat + stats");
    const [hello, hb, stats] = c.control;
    assert.equal(hello!.msg.case, "hello");
    assert.deepEqual(
      hello!.msg.case === "hello" ? { v: hello!.msg.value.version, h: hello!.msg.value.hostname, p: hello!.msg.value.protocolVersion } : undefined,
      { v: AGENT_VERSION, h: "test-host", p: 1 },
    );
    assert.equal(hb!.msg.case, "heartbeat");
    assert.equal(stats!.msg.case, "stats");

    const port = await echoOrigin();
    const { result, stream } = await openThrough(c, `127.0.0.1:${port}`);
    assert.equal(result.ok, true);
    const data = randomBytes(4 * 1024 * 1024);
    const echoed = readAll(stream);
    stream.end(data);
    const got = await echoed;
    assert.equal(createHash("sha256").update(got).digest("hex"), createHash("sha256").update(data).digest("hex"));
    await until(() => agent.stats().activeStreams === 0, 5000, "relay to finish");
    assert.equal(agent.stats().bytesToOrigins, data.length);

    // Default policy: never the management endpoint itself.
    const self = await openThrough(c, `127.0.0.1:${m.url.port}`);
    assert.equal(self.result.ok, false);
    assert.equal(self.result.errorKind, "agent_denied");

    await until(() => logs().some((l) => l.msg === "tunnel connected"), 2000, "connected log");
    const connected = logs().find((l) => l.msg === "tunnel connected");
    assert.ok(connected);
    assert.equal(connected.remoteAddress, "127.0.0.1");
    assert.ok(!raw.join("").includes(SECRET), "the token never reaches the logs");
  });

  it("logs each refusal with status and reason, backs off, and connects when allowed", async () => {
    const m = await new FakeManagement().start();
    m.script = [401, 403, 426, 409];
    const next = m.nextConnection(10_000);
    const { logs, raw } = await start(m.url, { kind: "insecure" });
    await next;
    assert.equal(m.attempts, 5);
    const refused = logs().filter((l) => l.msg === "tunnel refused");
    assert.deepEqual(
      refused.map((l) => [l.status, l.reason, l.level]),
      [
        [401, REFUSAL_REASONS[401], 50],
        [403, REFUSAL_REASONS[403], 50],
        [426, REFUSAL_REASONS[426], 50],
        [409, REFUSAL_REASONS[409], 40],
      ],
    );
    assert.match(String(refused[0]!.detail), /refused by the fake with 401/);
    assert.ok(refused.every((l) => typeof l.retryInMs === "number"));
    assert.ok(!raw.join("").includes(SECRET));
  });

  it("reconnects after the session drops, and after management restarts", async () => {
    const m = await new FakeManagement().start();
    const first = m.nextConnection();
    const { logs } = await start(m.url, { kind: "insecure" });
    const c1 = await first;
    const second = m.nextConnection();
    c1.session.close();
    const c2 = await second;
    assert.notEqual(c1, c2);
    assert.ok(logs().some((l) => l.msg === "tunnel disconnected"));
    // Management gone: connection attempts fail (logged), then it is back on the same port.
    const port = Number(m.url.port);
    await m.close();
    await until(() => logs().some((l) => l.msg === "tunnel connection failed"), 5000, "a failed attempt");
    const m2 = new FakeManagement();
    const back = once(m2, "connection");
    await (async () => {
      const server = http.createServer();
      server.on("upgrade", (req, socket, head) => (m2 as unknown as { onUpgrade: (...a: unknown[]) => void }).onUpgrade(req, socket, head));
      server.listen(port, "127.0.0.1");
      await once(server, "listening");
      cleanups.push(() => {
        for (const c of m2.connections) c.session.close();
        return new Promise<void>((r) => server.close(() => r()));
      });
    })();
    await Promise.race([back, sleep(5000).then(() => Promise.reject(new Error("agent did not come back")))]);
  });

  // A 60 s grace that this test's 20 s timeout would never see the end of: stop() must return once
  // the open stream is done, not when the grace period runs out.
  it("stop(): go-away, open streams finish, then the session closes", { timeout: 20_000 }, async () => {
    const m = await new FakeManagement().start();
    const next = m.nextConnection();
    const { agent } = await start(m.url, { kind: "insecure" });
    const c = await next;
    const port = await echoOrigin();
    const { result, stream } = await openThrough(c, `127.0.0.1:${port}`);
    assert.equal(result.ok, true);
    const closed = once(c.session, "close");
    const stopped = agent.stop({ graceMs: 60_000 });
    await until(() => c.goaway, 2000, "go-away");
    await assert.rejects(openThrough(c, `127.0.0.1:${port}`), "no new streams after go-away");
    // The open stream still works.
    const echoed = readAll(stream);
    stream.end("still flowing");
    assert.equal((await echoed).toString(), "still flowing");
    await stopped;
    await closed;
    assert.equal(m.attempts, 1, "no reconnect after stop");
  });

  it("stop(): a stream still open when the grace period ends is cut", async () => {
    const m = await new FakeManagement().start();
    const next = m.nextConnection();
    const { agent } = await start(m.url, { kind: "insecure" });
    const c = await next;
    const port = await echoOrigin();
    const { stream } = await openThrough(c, `127.0.0.1:${port}`);
    const errored = new Promise<Error>((resolve) => stream.once("error", resolve));
    const t0 = Date.now();
    await agent.stop({ graceMs: 300 });
    const took = Date.now() - t0;
    assert.ok(took >= 250, `took ${took} ms: the grace period was waited for`);
    await errored;
  });

  it("https with a CA file: enrolls first, then presents its client certificate (mTLS)", async () => {
    const serverCert = await ca.issueServerCertificate(["127.0.0.1"]);
    const m = await new FakeManagement().start({ cert: serverCert.certPem, key: serverCert.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false });
    let calls = 0;
    const enroll: EnrollFn = async (csrPem) => {
      calls++;
      const s = await ca.signClientCsr({ csrPem, uriSan: agentSpiffeId(ID), validityDays: 90 });
      return { certificatePem: s.certPem, caCertificatePem: ca.certPem };
    };
    const next = m.nextConnection();
    const { agent, logs } = await start(m.url, { kind: "ca", caPem: ca.certPem, caFile: "ca.pem" }, { enroll });
    const c = await next;
    assert.equal(calls, 1);
    assert.ok(agent.identity.clientCertificate());
    assert.match(c.peerCertSan ?? "", new RegExp(`URI:${agentSpiffeId(ID)}`));
    assert.ok(logs().some((l) => l.msg === "enrolled"));
    await until(() => logs().some((l) => l.msg === "tunnel connected"), 2000, "connected log");
    assert.equal(logs().find((l) => l.msg === "tunnel connected")?.mtls, true);
  });

  it("a 403 despite a certificate that looks valid (revoked) makes the agent enroll again", async () => {
    const serverCert = await ca.issueServerCertificate(["127.0.0.1"]);
    const m = await new FakeManagement().start({ cert: serverCert.certPem, key: serverCert.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false });
    m.script = [403];
    let calls = 0;
    const enroll: EnrollFn = async (csrPem) => {
      calls++;
      const s = await ca.signClientCsr({ csrPem, uriSan: agentSpiffeId(ID), validityDays: 90 });
      return { certificatePem: s.certPem, caCertificatePem: ca.certPem };
    };
    const next = m.nextConnection();
    const { logs } = await start(m.url, { kind: "ca", caPem: ca.certPem, caFile: "ca.pem" }, { enroll });
    await next;
    assert.equal(calls, 2, "enrolled at start and again after the 403");
    assert.equal(m.attempts, 2);
    assert.ok(logs().some((l) => l.msg === "management refused the client certificate; enrolling again"));
  });

  it("https with a pin: works when management sends its chain, refuses an impostor", async () => {
    const serverCert = await ca.issueServerCertificate(["127.0.0.1"]);
    const pin = createHash("sha256").update(new (await import("node:crypto")).X509Certificate(ca.certPem).raw).digest("hex");
    const m = await new FakeManagement().start({ cert: serverCert.certPem + ca.certPem, key: serverCert.keyPem });
    const enroll: EnrollFn = async (csrPem) => {
      const s = await ca.signClientCsr({ csrPem, uriSan: agentSpiffeId(ID), validityDays: 90 });
      return { certificatePem: s.certPem, caCertificatePem: ca.certPem };
    };
    const next = m.nextConnection();
    await start(m.url, { kind: "pin", sha256: pin }, { enroll });
    await next;

    const otherM = await CertificateAuthority.generate({ commonName: "Impostor" });
    const other = await CertificateAuthority.fromPem(otherM.certPem, otherM.keyPem);
    const fake = await other.issueServerCertificate(["127.0.0.1"]);
    const impostor = await new FakeManagement().start({ cert: fake.certPem + other.certPem, key: fake.keyPem });
    const { logs } = await start(impostor.url, { kind: "pin", sha256: pin }, { enroll });
    await until(() => logs().some((l) => l.msg === "tunnel connection failed: management's TLS certificate is not trusted"), 5000, "TLS refusal log");
    assert.equal(impostor.attempts, 0, "no HTTP request reached the impostor");
  });
});
