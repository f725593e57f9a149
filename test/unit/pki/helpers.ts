import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";

export async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "warren-pki-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface RunningServer {
  port: number;
  host: string;
  close(): Promise<void>;
  /** Errors the server saw while handshaking with clients (e.g. rejected client certificates). */
  clientErrors: Error[];
  /** Connections that reached 'secureConnection' (were accepted), with the client's identity. */
  accepted: Array<{ authorized: boolean; subjectAltName: string | undefined }>;
}

/** Starts a TLS server that answers "ok\n" to every accepted connection, then closes it. */
export async function startTlsServer(options: tls.TlsOptions, host = "127.0.0.1"): Promise<RunningServer> {
  const clientErrors: Error[] = [];
  const accepted: RunningServer["accepted"] = [];
  const server = tls.createServer(options, (socket) => {
    socket.on("error", () => {});
    const peer = socket.getPeerCertificate();
    accepted.push({ authorized: socket.authorized, subjectAltName: peer && "subjectaltname" in peer ? peer.subjectaltname : undefined });
    socket.end("ok\n");
  });
  server.on("tlsClientError", (err) => clientErrors.push(err));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    host,
    clientErrors,
    accepted,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ConnectResult {
  ok: boolean;
  authorized: boolean;
  authorizationError?: string;
  data: string;
  error?: string;
}

/**
 * Connects, waits for the server's "ok\n" (or a failure), and reports. With TLS 1.3 a
 * rejected client certificate shows up as an alert after the client-side handshake,
 * so success is judged by the application data, not by 'secureConnect'.
 */
export function tlsRoundTrip(options: tls.ConnectionOptions, timeoutMs = 5000): Promise<ConnectResult> {
  return new Promise((resolve) => {
    let data = "";
    let authorized = false;
    let authorizationError: string | undefined;
    let settled = false;
    const socket = tls.connect(options);
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const r: ConnectResult = { ok: data === "ok\n" && !error, authorized, data };
      if (authorizationError !== undefined) r.authorizationError = authorizationError;
      if (error) r.error = `${(error as NodeJS.ErrnoException).code ?? ""} ${error.message}`.trim();
      resolve(r);
    };
    const timer = setTimeout(() => finish(new Error("timeout")), timeoutMs);
    socket.setEncoding("utf8");
    socket.on("secureConnect", () => {
      authorized = socket.authorized;
      if (socket.authorizationError) authorizationError = String(socket.authorizationError);
    });
    socket.on("data", (chunk: string) => {
      data += chunk;
    });
    socket.on("end", () => finish());
    socket.on("close", () => finish());
    socket.on("error", (err) => finish(err));
  });
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
