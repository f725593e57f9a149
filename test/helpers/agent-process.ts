import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import tls from "node:tls";
import { createHash } from "node:crypto";
import { WarrenProcess, type JsonApi } from "./warren-process.ts";

export interface AgentHandle {
  id: string;
  token: string;
}

export async function createAgent(api: JsonApi, headers: Record<string, string>, body: Record<string, unknown>): Promise<AgentHandle> {
  const r = await api.call("AgentService/CreateAgent", body, headers);
  if (r.status !== 200) throw new Error(`CreateAgent: ${r.text}`);
  return { id: String((r.json.agent as { id: string }).id), token: String(r.json.token) };
}

/** Starts a real `warren agent` process against a running server. */
export function startAgent(server: WarrenProcess, agent: AgentHandle, env: Record<string, string> = {}, stateDir?: string): WarrenProcess {
  const dir = stateDir ?? mkdtempSync(join(tmpdir(), "warren-agent-"));
  const caFile = join(dir, "management-ca.pem");
  writeFileSync(caFile, server.caPem);
  return WarrenProcess.spawnCommand(
    ["agent"],
    {
      MANAGEMENT_URL: server.baseUrl.replace("127.0.0.1", "localhost"),
      AGENT_ID: agent.id,
      AGENT_TOKEN: agent.token,
      MANAGEMENT_CA_FILE: caFile,
      AGENT_STATE_DIR: dir,
      ...env,
    },
    dir,
  );
}

/** A TCP echo origin on loopback; counts the connections it accepted. */
export async function echoServer(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    n++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    connections: () => n,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/**
 * Opens a raw byte stream through an agent via the server's test hook (WARREN_TEST_HOOKS=true):
 * resolves with the socket after 101, or rejects with the server's error code.
 */
export function openAgentStream(server: WarrenProcess, adminToken: string, agentId: string, address: string): Promise<tls.TLSSocket> {
  const u = new URL(server.baseUrl);
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: u.hostname, port: Number(u.port), ca: server.caPem, servername: "localhost", ALPNProtocols: ["http/1.1"] }, () => {
      sock.write(
        `GET /_test/agent-stream?agent=${agentId}&address=${encodeURIComponent(address)} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: warren-test-tcp\r\nAuthorization: Bearer ${adminToken}\r\n\r\n`,
      );
    });
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      sock.off("data", onData);
      const statusLine = head.subarray(0, head.indexOf("\r\n")).toString();
      const rest = head.subarray(end + 4);
      if (statusLine.includes(" 101 ")) {
        if (rest.length) sock.unshift(rest);
        resolve(sock);
      } else {
        sock.destroy();
        reject(new Error(rest.toString().trim() || statusLine));
      }
    };
    sock.on("data", onData);
    sock.once("error", reject);
  });
}

/**
 * Streams `total` bytes through a socket that echoes them and returns both SHA-256s. It closes
 * only after everything came back: the test-hook socket is not half-close aware.
 */
export async function echoTransfer(sock: net.Socket, total: number): Promise<{ sent: string; received: string; bytes: number }> {
  const sent = createHash("sha256");
  const received = createHash("sha256");
  let got = 0;
  const done = new Promise<void>((resolve, reject) => {
    sock.on("data", (d: Buffer) => {
      received.update(d);
      got += d.length;
      if (got >= total) resolve();
    });
    sock.once("end", () => (got >= total ? resolve() : reject(new Error(`stream ended after ${got} of ${total} bytes`))));
    sock.once("error", reject);
  });
  const chunk = Buffer.alloc(256 * 1024);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i);
  let left = total;
  while (left > 0) {
    const n = Math.min(left, chunk.length);
    chunk.writeUInt32LE(left >>> 0, 0);
    const part = chunk.subarray(0, n);
    sent.update(part);
    left -= n;
    if (!sock.write(Buffer.from(part))) await new Promise((r) => sock.once("drain", r));
  }
  await done;
  sock.end();
  return { sent: sent.digest("hex"), received: received.digest("hex"), bytes: got };
}

/** A port that was free a moment ago (for restarting a server on the same address). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
