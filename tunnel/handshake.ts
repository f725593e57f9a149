// The HTTP/1.1 upgrade that starts a tunnel (DESIGN.md §4). Both ends import these names.

export const TUNNEL_PATH = "/agent/tunnel";
export const UPGRADE_PROTOCOL = "warren-yamux";
export const TUNNEL_VERSION_HEADER = "warren-tunnel-version";
export const TUNNEL_PROTOCOL_VERSION = 1;
export const AGENT_ID_RE = /^agt_[a-z2-7]{16}$/;
export const AGENT_SPIFFE_PREFIX = "spiffe://warren/agent/";

/** `Authorization: Bearer <agentId>.<secret>`. */
export function agentAuthorization(agentId: string, secret: string): string {
  return `Bearer ${agentId}.${secret}`;
}

/** An agent token as users copy it: `<agentId>.<secret>`, or the secret alone with AGENT_ID set. */
export function splitAgentToken(token: string): { agentId: string; secret: string } | undefined {
  const dot = token.indexOf(".");
  if (dot < 0) return undefined;
  const agentId = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  if (!AGENT_ID_RE.test(agentId) || secret === "") return undefined;
  return { agentId, secret };
}

export function parseAgentAuthorization(header: string | undefined): { agentId: string; secret: string } | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return m ? splitAgentToken(m[1]!) : undefined;
}

export function agentSpiffeId(agentId: string): string {
  return `${AGENT_SPIFFE_PREFIX}${agentId}`;
}

/** Why the server refused a tunnel, by status, in words an operator can act on. */
export const REFUSAL_REASONS: Readonly<Record<number, string>> = {
  400: "bad request: management did not see a tunnel upgrade (a proxy in between may strip Upgrade headers)",
  401: "unauthorized: unknown agent, wrong token, or the agent is disabled",
  403: "forbidden: this agent requires mTLS and presented no valid client certificate (or it was revoked)",
  409: "conflict: another process is already connected as this agent",
  426: "upgrade required: this agent's tunnel protocol version is not supported by management",
};
