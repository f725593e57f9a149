import type http from "node:http";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { Logger } from "pino";
import type { Store, AgentRow } from "../store/index.ts";
import type { CertificateAuthority } from "../pki/index.ts";
import { authenticateAgent } from "./agent-auth.ts";
import type { AgentRegistry } from "./registry.ts";
import { TUNNEL_PROTOCOL_VERSION, TUNNEL_VERSION_HEADER, UPGRADE_PROTOCOL, agentSpiffeId } from "../../tunnel/handshake.ts";
import { peerAddress } from "../../lib/ip.ts";
import { statusOf, type ErrorCode } from "../../lib/errors.ts";
import { rawResponse } from "../../lib/http-status.ts";

const REPLACE_PING_MS = 2_000;

type Refusal = Extract<ErrorCode, `tunnel_${string}`>;
type Verdict = { refused: Refusal; message: string } | { refused: undefined; agent: AgentRow; mtls: boolean; certNotAfter: number | undefined };

export interface TunnelEndpointDeps {
  readonly store: Store;
  readonly registry: AgentRegistry;
  readonly ca: CertificateAuthority | undefined;
  readonly log: Logger;
  readonly now: () => number;
}

/**
 * `GET /agent/tunnel`: answers, in this order, 401 (credentials, disabled), 403 (mTLS required and
 * no valid certificate), 400 (not an upgrade), 426 (version), 409 (already connected and the old
 * session still answers a ping within 2 s), then 101 and hands the socket to the registry.
 */
export class TunnelEndpoint {
  constructor(private readonly d: TunnelEndpointDeps) {}

  /** The client certificate, if the TLS layer verified it and it names this agent and is not revoked. */
  private clientCertFor(req: http.IncomingMessage, agentId: string): { valid: boolean; notAfter?: number; why: string } {
    const sock = req.socket as Partial<TLSSocket>;
    if (!sock.encrypted || typeof sock.getPeerCertificate !== "function") return { valid: false, why: "plain HTTP connection" };
    const cert = sock.getPeerCertificate();
    if (!cert || !cert.raw) return { valid: false, why: "no client certificate" };
    if (!sock.authorized) return { valid: false, why: `client certificate not trusted (${String(sock.authorizationError ?? "unknown")})` };
    const uris = (cert.subjectaltname ?? "").split(/,\s*/).filter((s) => s.startsWith("URI:")).map((s) => s.slice(4));
    if (!uris.includes(agentSpiffeId(agentId))) return { valid: false, why: "client certificate is for another identity" };
    const notAfter = Date.parse(cert.valid_to);
    if (this.d.ca?.isIssuerOf(cert.raw)) {
      // Ours: it must be one we issued to this agent and not revoked since.
      const row = this.d.store.agents.certificate(cert.serialNumber);
      if (!row || row.agent_id !== agentId) return { valid: false, why: "client certificate unknown" };
      if (row.revoked_at !== null) return { valid: false, why: "client certificate revoked" };
    }
    return { valid: true, notAfter, why: "" };
  }

  private async verdict(req: http.IncomingMessage, isUpgrade: boolean): Promise<Verdict> {
    const auth = authenticateAgent(this.d.store, req.headers.authorization);
    if (!auth.ok) return { refused: "tunnel_unauthenticated", message: auth.reason === "agent disabled" ? "agent disabled" : "invalid agent credentials" };
    const agent = auth.agent;
    const cert = this.clientCertFor(req, agent.id);
    if (agent.require_mtls && !cert.valid) return { refused: "tunnel_mtls_required", message: `this agent requires mTLS: ${cert.why}` };
    const upgrade = String(req.headers.upgrade ?? "").toLowerCase();
    const connection = String(req.headers.connection ?? "").toLowerCase();
    if (!isUpgrade || upgrade !== UPGRADE_PROTOCOL || !connection.split(/,\s*/).includes("upgrade") || req.method !== "GET") {
      return { refused: "tunnel_not_upgrade", message: `expected GET with Connection: Upgrade and Upgrade: ${UPGRADE_PROTOCOL}` };
    }
    const version = String(req.headers[TUNNEL_VERSION_HEADER] ?? "");
    if (version !== String(TUNNEL_PROTOCOL_VERSION)) {
      return { refused: "tunnel_version_unsupported", message: `tunnel protocol version "${version}" is not supported; this server speaks ${TUNNEL_PROTOCOL_VERSION}` };
    }
    if (await this.d.registry.holdsLiveSession(agent.id, REPLACE_PING_MS)) {
      return { refused: "tunnel_already_connected", message: "this agent is already connected" };
    }
    return { refused: undefined, agent, mtls: cert.valid, certNotAfter: cert.notAfter };
  }

  /** A plain (non-upgrade) request to the tunnel path: same checks, ending in 400 at best. */
  async handleRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const v = await this.verdict(req, false);
    const status = statusOf(v.refused ?? "tunnel_not_upgrade");
    const body = `${v.refused ? v.message : "not an upgrade"}\n`;
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  async handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", () => {});
    const remote = peerAddress(req.socket.remoteAddress);
    let v: Verdict;
    try {
      v = await this.verdict(req, true);
    } catch (e) {
      this.d.log.error({ err: e }, "tunnel handshake failed");
      socket.end(rawResponse(500, []));
      return;
    }
    if (v.refused) {
      this.d.log.info({ status: statusOf(v.refused), code: v.refused, reason: v.message, remoteAddress: remote }, "tunnel refused");
      socket.end(rawResponse(statusOf(v.refused), ["content-type", "text/plain; charset=utf-8"], `${v.message}\n`));
      return;
    }
    if (socket.destroyed) return;
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${UPGRADE_PROTOCOL}\r\n${TUNNEL_VERSION_HEADER}: ${TUNNEL_PROTOCOL_VERSION}\r\n\r\n`,
    );
    if (head.length > 0) socket.unshift(head);
    const s = socket as Duplex & { setTimeout?: (ms: number) => void; setNoDelay?: (b: boolean) => void };
    s.setTimeout?.(0);
    s.setNoDelay?.(true);
    this.d.registry.attach(v.agent.id, socket, { remoteAddress: remote, mtls: v.mtls, certificateNotAfter: v.certNotAfter });
  }
}
