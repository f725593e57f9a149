import { createHash } from "node:crypto";
import { BalancePolicy, HashOn, RedirectMode, RouteAction, TargetKind, type RouteSpec } from "../../proto/gen/warren/v1/proxy_pb.ts";
import type { AgentRow, ListenerRow, RouteRow } from "../store/index.ts";
import {
  compileHeaderRules,
  compileRouter,
  createBalancer,
  hstsValue,
  HeaderRuleError,
  RouterConfigError,
  TargetPool,
  type ActiveCheck,
  type AgentCandidate,
  type AgentInfo,
  type BalancePolicy as PolicyName,
  type CompiledListener,
  type CompiledListenerTls,
  CertificateStore,
  type CompiledRoute,
  type CompiledTarget,
  type CompiledWafRule,
  type ProxySnapshot,
  type RouteAction as CompiledAction,
} from "../../proxy/index.ts";
import { fieldError } from "../errors.ts";
import { ocspTargetOf } from "./compile-tls.ts";
import { effectiveLabels, parseStoredLabels } from "../agents/labels.ts";
import { DEFAULT_MAX_BODY_BYTES } from "./validate-route.ts";

const POLICIES: Record<number, PolicyName> = {
  [BalancePolicy.UNSPECIFIED]: "round_robin",
  [BalancePolicy.ROUND_ROBIN]: "round_robin",
  [BalancePolicy.WEIGHTED_ROUND_ROBIN]: "weighted_round_robin",
  [BalancePolicy.RANDOM]: "random",
  [BalancePolicy.LEAST_ACTIVE]: "least_active",
  [BalancePolicy.CONSISTENT_HASH]: "consistent_hash",
};

function agentMatches(agent: AgentInfo, selector: readonly (readonly [string, string])[]): boolean {
  if (!agent.enabled) return false;
  for (const [k, v] of selector) if (agent.labels[k] !== v) return false;
  return true;
}

function compileTarget(routeId: string, t: RouteSpec["targets"][number], policy: PolicyName, agents: readonly AgentInfo[]): CompiledTarget {
  const url = new URL(t.url);
  const https = url.protocol === "https:";
  const port = url.port || (https ? "443" : "80");
  const host = url.hostname;
  const basePath = url.pathname.replace(/\/+$/, "");
  const headers: string[] = [];
  for (const h of t.headers) headers.push(h.name, h.value);
  const agentSelector = Object.entries(t.agentSelector).sort(([a], [b]) => (a < b ? -1 : 1));
  const isAgent = t.kind === TargetKind.AGENT;
  const candidates: AgentCandidate[] = isAgent
    ? agents.filter((a) => agentMatches(a, agentSelector)).map((a) => Object.freeze({ id: a.id, weight: 1 as const, key: `${routeId}|${t.id}|${a.id}` }))
    : [];
  return {
    id: t.id,
    name: t.name || t.id,
    priorityGroup: t.priorityGroup,
    weight: t.weight || 1,
    kind: isAgent ? "agent" : "direct",
    origin: `${url.protocol}//${url.host}`,
    protocol: https ? "https:" : "http:",
    address: `${host}:${port}`,
    hostHeader: url.host,
    servername: host.replace(/^\[|\]$/g, ""),
    basePath,
    tlsSkipVerify: t.tlsSkipVerify,
    headers,
    agentSelector,
    key: `${routeId}|${t.id}|`,
    agents: Object.freeze(candidates),
    // Agents are chosen with the route's policy, through the same Balancer interface as targets.
    agentBalancer: isAgent ? createBalancer<AgentCandidate>(policy) : undefined,
  };
}

function compileActiveCheck(spec: RouteSpec): ActiveCheck | undefined {
  const h = spec.healthCheck;
  if (!h?.enabled || spec.action !== RouteAction.FORWARD) return undefined;
  const check = {
    method: h.method || "GET",
    path: h.path || "/",
    intervalMs: h.intervalMs || 10_000,
    timeoutMs: h.timeoutMs || 2_000,
    healthyThreshold: h.healthyThreshold || 2,
    unhealthyThreshold: h.unhealthyThreshold || 2,
    expectedStatuses: [...h.expectedStatuses],
  };
  const fingerprint = createHash("sha256")
    .update(JSON.stringify([check, spec.targets.map((t) => [t.id, t.url, t.kind, t.agentSelector, t.enabled])]))
    .digest("hex")
    .slice(0, 16);
  return { ...check, fingerprint };
}

function compileAction(spec: RouteSpec): CompiledAction {
  if (spec.action === RouteAction.REDIRECT && spec.redirect) {
    const r = spec.redirect;
    const mode = r.mode === RedirectMode.SAME_HOST_PATH ? "same_host_path" : r.mode === RedirectMode.EXTERNAL_ORIGIN ? "external_origin" : "absolute_url";
    return {
      kind: "redirect",
      status: r.status,
      mode,
      location: mode === "external_origin" ? r.location.replace(/\/$/, "") : r.location,
      keepQuery: r.keepQuery,
      keepPathBelowPrefix: mode === "same_host_path" && r.keepPathBelowPrefix,
    };
  }
  if (spec.action === RouteAction.STATIC && spec.staticResponse) {
    const s = spec.staticResponse;
    const headers: string[] = [];
    for (const h of s.headers) headers.push(h.name, h.value);
    return { kind: "static", status: s.status, headers, body: Buffer.from(s.body, "utf8") };
  }
  return { kind: "forward" };
}

function compileRoute(row: RouteRow, spec: RouteSpec, listenerProtocol: "http" | "https" | undefined, agents: readonly AgentInfo[]): CompiledRoute {
  const o = spec.options;
  const field = (f: string) => `routes[${row.id}].${f}`;
  let requestRules, responseRules;
  try {
    requestRules = compileHeaderRules({ remove: o?.removeRequestHeaders ?? [], add: o?.addRequestHeaders ?? [] });
  } catch (e) {
    throw fieldError(field(`options.request_headers.${(e as HeaderRuleError).field ?? ""}`), (e as Error).message);
  }
  // RFC 6797 §7.2: HSTS over plain HTTP is ignored by browsers and must not be sent.
  const hsts = listenerProtocol === "https" ? (o?.hstsMaxAgeSeconds ?? 0) : 0;
  try {
    responseRules = compileHeaderRules({
      remove: o?.removeResponseHeaders ?? [],
      add: o?.addResponseHeaders ?? [],
      set: hsts > 0 ? [{ name: "strict-transport-security", value: hstsValue({ maxAgeSeconds: hsts }) }] : [],
    });
  } catch (e) {
    throw fieldError(field(`options.response_headers.${(e as HeaderRuleError).field ?? ""}`), (e as Error).message);
  }
  const lb = spec.loadBalancing;
  const policy = POLICIES[lb?.policy ?? 0] ?? "round_robin";
  const hash =
    policy === "consistent_hash" && lb
      ? { on: lb.hashOn === HashOn.HEADER ? ("header" as const) : lb.hashOn === HashOn.COOKIE ? ("cookie" as const) : ("client_ip" as const), key: lb.hashKey.trim().toLowerCase() }
      : undefined;
  const targets = spec.action === RouteAction.FORWARD ? spec.targets.filter((t) => t.enabled).map((t) => compileTarget(row.id, t, policy, agents)) : [];
  return {
    id: row.id,
    listenerId: row.listener_id,
    name: spec.name,
    priority: spec.priority,
    hosts: spec.hosts,
    pathPrefix: spec.pathPrefix,
    methods: spec.methods,
    isDefault: spec.isDefault,
    action: compileAction(spec),
    preserveHost: o?.preserveHost ?? false,
    stripPathPrefix: o?.stripPathPrefix ?? false,
    requestRules,
    responseRules,
    timeouts: { connectMs: o?.connectTimeoutMs || 5_000, responseHeadersMs: o?.responseHeaderTimeoutMs || 60_000 },
    maxBodyBytes: o?.maxBodyBytes === undefined ? DEFAULT_MAX_BODY_BYTES : Number(o.maxBodyBytes),
    maxConcurrent: o?.maxConcurrentRequests ?? 0,
    allowEncodedSeparators: o?.allowEncodedSeparators ?? false,
    httpsRedirect: o?.httpsRedirect ?? false,
    hstsMaxAgeSeconds: hsts,
    addVia: o?.addVia ?? false,
    upgradeProtocols: new Set(["websocket", ...(o?.upgradeProtocols ?? [])]),
    pool: new TargetPool(targets, policy),
    hash,
    passiveHealth: { enabled: spec.passiveHealth?.enabled ?? false, cooldownMs: spec.passiveHealth?.cooldownMs || 30_000 },
    activeCheck: compileActiveCheck(spec),
  };
}

/** Compiles all rows into one immutable snapshot, or throws invalid_argument naming what is wrong. */
export function compileSnapshot(
  version: number,
  listeners: readonly ListenerRow[],
  routes: readonly { row: RouteRow; spec: RouteSpec }[],
  agents: readonly AgentRow[],
  /** Enabled policy rules of each kind in evaluation order (compilePolicies, compileRateLimits, compileShapers; cache rules: none compiled yet). */
  policies: Pick<ProxySnapshot, "waf" | "rateLimits" | "shapers" | "cacheRules">,
  policyKey: Buffer,
  /** Per HTTPS listener id: its stored certificates (compileCertificateStores); absent = none. */
  certificates: ReadonlyMap<string, CertificateStore> = new Map(),
): ProxySnapshot {
  const protocols = new Map(listeners.map((l) => [l.id, l.protocol]));
  const agentInfos: AgentInfo[] = agents.map((a) => ({ id: a.id, enabled: a.enabled === 1, labels: effectiveLabels(a.id, parseStoredLabels(a.labels)) }));
  agentInfos.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const byListener = new Map<string, CompiledRoute[]>();
  for (const { row, spec } of routes) {
    const list = byListener.get(row.listener_id) ?? [];
    list.push(compileRoute(row, spec, protocols.get(row.listener_id), agentInfos));
    byListener.set(row.listener_id, list);
  }
  const compiled = new Map<string, CompiledListener>();
  for (const l of listeners) {
    let router;
    try {
      router = compileRouter(byListener.get(l.id) ?? []);
    } catch (e) {
      if (e instanceof RouterConfigError) throw fieldError(`spec.${e.field === "isDefault" ? "is_default" : e.field}`, e.message);
      throw e;
    }
    const minVersion = l.tls_min_version === "1.3" ? "TLSv1.3" : "TLSv1.2";
    const tls: CompiledListenerTls | undefined =
      l.protocol === "https"
        ? {
            minVersion,
            defaultCertificate: l.tls_cert_pem ? { cert: l.tls_cert_pem, key: l.tls_key_pem } : undefined,
            contextKey: createHash("sha256").update(JSON.stringify([minVersion, l.tls_cert_pem, l.tls_key_pem])).digest("hex"),
            store: certificates.get(l.id) ?? CertificateStore.EMPTY,
            http2: l.http2 === 1,
            defaultOcsp: l.tls_cert_pem ? ocspTargetOf(l.tls_cert_pem) : undefined,
          }
        : undefined;
    // Certificates are not socket settings: they swap in on the bound listener (listeners.ts). HTTP/2
    // is (another kind of server object): changing it rebinds.
    const socketKey = createHash("sha256").update(JSON.stringify([l.bind_address, l.port, l.protocol, l.accept_proxy_protocol, l.protocol === "https" && l.http2 === 1])).digest("hex");
    compiled.set(l.id, {
      id: l.id,
      name: l.name,
      bindAddress: l.bind_address,
      port: l.port,
      protocol: l.protocol,
      enabled: l.enabled === 1,
      acceptProxyProtocol: l.accept_proxy_protocol === 1,
      tls,
      socketKey,
      router,
    });
  }
  return Object.freeze({ version, listeners: compiled, agents: Object.freeze(agentInfos), waf: policies.waf, rateLimits: policies.rateLimits, shapers: policies.shapers, cacheRules: policies.cacheRules, policyKey });
}
