import type { Store, AgentRow } from "../store/index.ts";
import { parseAgentAuthorization } from "../../tunnel/handshake.ts";
import { safeEqual, sha256Hex } from "../auth/secrets.ts";

export type AgentAuthResult = { ok: true; agent: AgentRow } | { ok: false; reason: string };

/**
 * Checks `Authorization: Bearer <agentId>.<secret>` against the stored SHA-256 of the agent's
 * token. A disabled agent fails the same way as a wrong token (401), with its own reason for logs.
 */
export function authenticateAgent(store: Store, authorization: string | undefined | null): AgentAuthResult {
  const creds = parseAgentAuthorization(authorization ?? undefined);
  if (!creds) return { ok: false, reason: "missing or malformed agent credentials" };
  const agent = store.agents.byId(creds.agentId);
  // Hash even for unknown agents so timing does not reveal which ids exist.
  const hash = sha256Hex(creds.secret);
  if (!agent) return { ok: false, reason: "unknown agent" };
  if (!safeEqual(agent.token_hash, hash)) return { ok: false, reason: "wrong token" };
  if (!agent.enabled) return { ok: false, reason: "agent disabled" };
  return { ok: true, agent };
}
