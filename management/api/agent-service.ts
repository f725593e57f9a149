import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AgentService, type AgentSchema } from "../../proto/gen/warren/v1/agent_pb.ts";
import { ApiError, fieldError } from "../errors.ts";
import { newId } from "../store/ids.ts";
import type { AgentRow } from "../store/index.ts";
import { randomSecret, sha256Hex } from "../auth/secrets.ts";
import { authenticateAgent } from "../agents/agent-auth.ts";
import { effectiveLabels, parseStoredLabels, validateLabels } from "../agents/labels.ts";
import { installSnippet } from "../agents/install-snippet.ts";
import { agentSpiffeId } from "../../tunnel/handshake.ts";
import { setAuditTarget } from "./context.ts";
import type { ApiDeps } from "./deps.ts";

export const AGENT_CERT_VALIDITY_DAYS = 90;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/;

function checkName(raw: string): string {
  const name = raw.trim();
  if (name === "") throw fieldError("name", "is required");
  if (!NAME_RE.test(name)) throw fieldError("name", "must be 1–63 characters of letters, digits, space, '.', '_' or '-', starting with a letter or digit");
  return name;
}

export function agentService(d: ApiDeps): ServiceImpl<typeof AgentService> {
  const { registry, ca, managementUrl } = d.agents;
  const ts = (ms: number | null | undefined) => (ms === null || ms === undefined ? undefined : timestampFromMs(ms));

  const toProto = (a: AgentRow): MessageInitShape<typeof AgentSchema> => {
    const live = registry.status(a.id);
    return {
      id: a.id,
      name: a.name,
      labels: effectiveLabels(a.id, parseStoredLabels(a.labels)),
      enabled: a.enabled === 1,
      requireMtls: a.require_mtls === 1,
      createdAt: ts(a.created_at),
      updatedAt: ts(a.updated_at),
      status: live
        ? {
            online: true,
            connectedSince: ts(live.connectedAt),
            lastSeen: ts(live.lastSeenAt),
            remoteAddress: live.remoteAddress,
            version: live.version,
            hostname: live.hostname,
            activeStreams: BigInt(live.activeStreams),
            bytesIn: BigInt(live.bytesIn),
            bytesOut: BigInt(live.bytesOut),
            mtls: live.mtls,
            certificateNotAfter: ts(live.certificateNotAfter),
            reportedStats: live.reported && {
              activeStreams: BigInt(live.reported.activeStreams),
              streamsTotal: BigInt(live.reported.streamsTotal),
              dialFailures: BigInt(live.reported.dialFailures),
              bytesFromOrigins: BigInt(live.reported.bytesFromOrigins),
              bytesToOrigins: BigInt(live.reported.bytesToOrigins),
              reportedAt: ts(live.reported.reportedAt),
            },
          }
        : {
            online: false,
            lastSeen: ts(a.last_seen_at),
            remoteAddress: a.last_remote_addr,
            version: a.reported_version,
            hostname: a.reported_hostname,
          },
    };
  };

  const mustFind = (id: string): AgentRow => {
    if (id === "") throw fieldError("id", "is required");
    const a = d.store.agents.byId(id);
    if (!a) throw new ApiError("not_found", `id: no agent ${id}`);
    return a;
  };

  const snippet = (a: AgentRow, token: string | undefined) =>
    installSnippet({ agentId: a.id, agentName: a.name, managementUrl: managementUrl(), caFingerprint: d.info.caFingerprintSha256, token, bundleSha256: d.agents.bundleSha256 });

  const nameFree = (name: string, self?: string) => {
    const other = d.store.agents.byName(name);
    if (other && other.id !== self) throw new ApiError("already_exists", `name: an agent named "${name}" exists (${other.id})`);
  };

  return {
    async createAgent(req, ctx) {
      const name = checkName(req.name);
      const labels = validateLabels(req.labels);
      const now = d.now();
      const id = newId("agt");
      const secret = randomSecret(32);
      d.store.agents.transaction(() => {
        nameFree(name);
        d.store.agents.insert({
          id,
          name,
          labels: JSON.stringify(labels),
          enabled: req.enabled === false ? 0 : 1,
          require_mtls: req.requireMtls ? 1 : 0,
          token_hash: sha256Hex(secret),
          created_at: now,
          updated_at: now,
        });
      });
      setAuditTarget(ctx, id);
      const row = d.store.agents.byId(id)!;
      await d.proxy.snapshots.refresh();
      const token = `${id}.${secret}`;
      return { agent: toProto(row), token, install: snippet(row, token) };
    },

    listAgents() {
      return { agents: d.store.agents.list().map(toProto) };
    },

    getAgent(req) {
      return { agent: toProto(mustFind(req.id)) };
    },

    async updateAgent(req, ctx) {
      setAuditTarget(ctx, req.id);
      const now = d.now();
      const { row, cut } = d.store.agents.transaction(() => {
        const a = mustFind(req.id);
        const name = req.name === undefined ? a.name : checkName(req.name);
        if (name !== a.name) nameFree(name, a.id);
        const labels = req.replaceLabels ? validateLabels(req.labels) : parseStoredLabels(a.labels);
        if (!req.replaceLabels && Object.keys(req.labels).length > 0) throw fieldError("replace_labels", "must be true to change labels");
        const enabled = req.enabled ?? a.enabled === 1;
        const requireMtls = req.requireMtls ?? a.require_mtls === 1;
        d.store.agents.update({ id: a.id, name, labels: JSON.stringify(labels), enabled: enabled ? 1 : 0, require_mtls: requireMtls ? 1 : 0, updated_at: now });
        // Disabling revokes its certificates; a live tunnel that no longer meets the rules is closed.
        if (!enabled) d.store.agents.revokeCertificates(a.id, now, "agent disabled");
        const live = registry.status(a.id);
        return { row: d.store.agents.byId(a.id)!, cut: !enabled ? "agent disabled" : requireMtls && live && !live.mtls ? "mTLS now required" : undefined };
      });
      if (cut) registry.disconnect(row.id, cut);
      // Labels and enabled decide agent target selection: the data plane must see them now.
      await d.proxy.snapshots.refresh();
      return { agent: toProto(row) };
    },

    rotateAgentToken(req, ctx) {
      setAuditTarget(ctx, req.id);
      const secret = randomSecret(32);
      const now = d.now();
      const row = d.store.agents.transaction(() => {
        const a = mustFind(req.id);
        d.store.agents.setTokenHash(a.id, sha256Hex(secret), now);
        d.store.agents.revokeCertificates(a.id, now, "token rotated");
        return d.store.agents.byId(a.id)!;
      });
      registry.disconnect(row.id, "token rotated");
      const token = `${row.id}.${secret}`;
      return { agent: toProto(row), token, install: snippet(row, token) };
    },

    async deleteAgent(req, ctx) {
      setAuditTarget(ctx, req.id);
      const a = mustFind(req.id);
      if (registry.isConnected(a.id)) throw new ApiError("failed_precondition", "id: the agent is connected; disable it first (that closes its tunnel), then delete it");
      d.store.agents.delete(a.id);
      await d.proxy.snapshots.refresh();
      return {};
    },

    getInstallSnippet(req) {
      return { install: snippet(mustFind(req.id), undefined) };
    },

    async enroll(req, ctx: HandlerContext) {
      const auth = authenticateAgent(d.store, ctx.requestHeader.get("authorization"));
      if (!auth.ok) throw new ApiError("unauthenticated", "invalid agent credentials or agent disabled");
      const agent = auth.agent;
      setAuditTarget(ctx, agent.id);
      if (req.csrPem.trim() === "") throw fieldError("csr_pem", "is required");
      if (req.csrPem.length > 16 * 1024) throw fieldError("csr_pem", "is too large");
      let cert;
      try {
        cert = await ca.signClientCsr({ csrPem: req.csrPem, uriSan: agentSpiffeId(agent.id), validityDays: AGENT_CERT_VALIDITY_DAYS, now: new Date(d.now()) });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "pki_bad_csr" || code === "pki_unsupported_key") throw fieldError("csr_pem", (e as Error).message);
        throw e;
      }
      d.store.agents.insertCertificate({
        serial: cert.serial,
        agent_id: agent.id,
        not_before: cert.notBefore.getTime(),
        not_after: cert.notAfter.getTime(),
        issued_at: d.now(),
      });
      d.log.info({ agentId: agent.id, serial: cert.serial, notAfter: cert.notAfter.toISOString() }, "agent certificate issued");
      return { certificatePem: cert.certPem, caCertificatePem: ca.certPem, notAfter: timestampFromMs(cert.notAfter.getTime()) };
    },
  };
}
