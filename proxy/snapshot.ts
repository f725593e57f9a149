import type { CertificateStore } from "./tls/certificate-store.ts";
import type { OcspTarget } from "./tls/ocsp.ts";
import type { Router, RouteSpec as RouterRoute } from "./routing/router.ts";
import type { Balancer, BalanceTarget, TargetPool, GroupedTarget } from "./balance/index.ts";
import type { HeaderRules } from "./headers.ts";
import type { ScopeMatcher } from "./policy/match.ts";
import type { CompiledWhen } from "./policy/cel.ts";
import type { CompiledTemplate } from "./policy/template.ts";
import type { CaptchaSettings } from "./policy/captcha.ts";
import type { WaitingRoomConfig } from "./policy/waiting-room.ts";
import type { CelRequest } from "./policy/cel-request.ts";
import type { LimitSpec } from "./policy/rate-limit/store.ts";
import type { CompiledShaperRule } from "./shaping/types.ts";
import type { CompiledCacheRule } from "./cache/types.ts";

// The immutable, compiled public configuration the data plane reads. Built by management/config
// after every successful write and swapped atomically; nothing here is mutated after compile
// (balancer cursors live inside TargetPool, which is replaced with the snapshot).

export interface CompiledTarget extends GroupedTarget {
  readonly id: string;
  readonly name: string;
  readonly kind: "direct" | "agent";
  /** scheme://host:port of the origin. */
  readonly origin: string;
  readonly protocol: "http:" | "https:";
  /** host:port the connection goes to (the agent dials it for agent targets). */
  readonly address: string;
  /** Host header value when the route does not preserve the client's (host[:port] of the URL). */
  readonly hostHeader: string;
  readonly servername: string;
  /** Path prepended to the forwarded path ("" for none, never a trailing slash). */
  readonly basePath: string;
  readonly tlsSkipVerify: boolean;
  /** Flat [name, value, ...] added to requests to this target. */
  readonly headers: readonly string[];
  /** Agent targets: every pair must be in the agent's labels. */
  readonly agentSelector: readonly (readonly [string, string])[];
  /** Runtime state (health, active counts) of this target on its route: "routeId|targetId|". */
  readonly key: string;
  /** Agent targets: the enabled agents whose labels match, in id order (online is checked per request). */
  readonly agents: readonly AgentCandidate[];
  /** Chooses among `agents` with the route's policy (one Balancer interface for targets and agents). */
  readonly agentBalancer: Balancer<AgentCandidate> | undefined;
}

/** One agent that may serve one agent target of one route. */
export interface AgentCandidate extends BalanceTarget {
  /** The agent id. */
  readonly id: string;
  readonly weight: 1;
  /** Runtime state key of this (route, target, agent): "routeId|targetId|agentId". */
  readonly key: string;
}

export interface RouteTimeouts {
  readonly connectMs: number;
  readonly responseHeadersMs: number;
}

export type RouteAction =
  | { readonly kind: "forward" }
  | {
      readonly kind: "redirect";
      readonly status: number;
      readonly mode: "same_host_path" | "external_origin" | "absolute_url";
      readonly location: string;
      readonly keepQuery: boolean;
      /** same_host_path: append the request path below the route's prefix. */
      readonly keepPathBelowPrefix: boolean;
    }
  | { readonly kind: "static"; readonly status: number; readonly headers: readonly string[]; readonly body: Buffer };

export interface ActiveCheck {
  readonly method: string;
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
  /** Empty = any 2xx or 3xx. */
  readonly expectedStatuses: readonly number[];
  /** Changes whenever the check or the route's targets change: probe state is reset then. */
  readonly fingerprint: string;
}

export interface CompiledRoute extends RouterRoute {
  readonly id: string;
  readonly listenerId: string;
  readonly name: string;
  readonly action: RouteAction;
  readonly preserveHost: boolean;
  readonly stripPathPrefix: boolean;
  readonly requestRules: HeaderRules;
  readonly responseRules: HeaderRules;
  readonly timeouts: RouteTimeouts;
  /** 0 = unlimited. */
  readonly maxBodyBytes: number;
  /** Requests forwarded at once at most (route_busy past it); 0 = unlimited. */
  readonly maxConcurrent: number;
  readonly allowEncodedSeparators: boolean;
  readonly httpsRedirect: boolean;
  readonly hstsMaxAgeSeconds: number;
  /** Send Via on forwarded requests and responses (off by default). */
  readonly addVia: boolean;
  /** Upgrade tokens spliced through, lower case; always has "websocket". */
  readonly upgradeProtocols: ReadonlySet<string>;
  readonly pool: TargetPool<CompiledTarget>;
  readonly hash: { readonly on: "client_ip" | "header" | "cookie"; readonly key: string } | undefined;
  readonly passiveHealth: { readonly enabled: boolean; readonly cooldownMs: number };
  readonly activeCheck: ActiveCheck | undefined;
}

export interface CompiledListenerTls {
  readonly minVersion: "TLSv1.2" | "TLSv1.3";
  /** PEM chain and key served without SNI or for names no stored certificate covers; undefined: the fallback. */
  readonly defaultCertificate: { readonly cert: string; readonly key: string } | undefined;
  /** Changes when the default context (default certificate, minimum version) changes. */
  readonly contextKey: string;
  readonly store: CertificateStore;
  /** Offer HTTP/2 (ALPN h2) besides HTTP/1.1; part of the socket key (a change rebinds). */
  readonly http2: boolean;
  /** The default certificate's OCSP target, when its issuer runs a responder. */
  readonly defaultOcsp: OcspTarget | undefined;
}

export interface CompiledListener {
  readonly id: string;
  readonly name: string;
  readonly bindAddress: string;
  readonly port: number;
  readonly protocol: "http" | "https";
  readonly enabled: boolean;
  readonly acceptProxyProtocol: boolean;
  /** HTTPS listeners: what each handshake serves (swapped in without touching the socket); undefined on HTTP. */
  readonly tls: CompiledListenerTls | undefined;
  /** Changes when anything about the socket changes; equal keys keep the listener (and its connections). */
  readonly socketKey: string;
  readonly router: Router<CompiledRoute>;
}

export interface AgentInfo {
  readonly id: string;
  readonly enabled: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

/** What a block rule answers with: its template, a literal body, or Warren's error page (`waf_blocked`). */
export type BlockBody =
  | { readonly kind: "template"; readonly template: CompiledTemplate }
  | { readonly kind: "literal"; readonly contentType: string; readonly body: Buffer }
  | { readonly kind: "error_page" };

/** ask: the page asks for JavaScript; block: such a browser is sent to the block answer; captcha: a hosted check's no-JavaScript form. */
export type NoScriptFallback = { readonly kind: "ask" } | { readonly kind: "block" } | { readonly kind: "captcha"; readonly captcha: CaptchaSettings; readonly fallbackUrl: string };

export type WafRuleAction =
  | { readonly kind: "allow" }
  | { readonly kind: "block"; readonly status: number; readonly headers: readonly string[]; readonly body: BlockBody }
  | {
      readonly kind: "challenge";
      readonly difficulty: number;
      readonly passTtlS: number;
      readonly page: CompiledTemplate;
      /** A hosted captcha instead of proof of work; undefined = proof of work. */
      readonly captcha: CaptchaSettings | undefined;
      /** What a browser without JavaScript gets. */
      readonly noScript: NoScriptFallback;
    }
  | { readonly kind: "waiting_room"; readonly config: WaitingRoomConfig; readonly page: CompiledTemplate };

export interface CompiledWafRule {
  readonly id: string;
  readonly name: string;
  /** Changes with the rule's spec: state kept for a rule (passes, queues) is keyed on it. */
  readonly fingerprint: string;
  readonly scope: ScopeMatcher;
  readonly when: CompiledWhen | undefined;
  readonly action: WafRuleAction;
}

/** What a rate-limit rule answers a denied request with (429 by default). */
export interface RateLimitResponse {
  readonly status: number;
  /** Extra headers (flat); Retry-After and the RateLimit headers are Warren's and cannot be set here. */
  readonly headers: readonly string[];
  readonly body: BlockBody;
}

export interface CompiledRateLimitRule {
  readonly id: string;
  readonly name: string;
  /** Changes with the spec (name included): an edit starts the rule's counters afresh. */
  readonly fingerprint: string;
  /** The store namespace, from the fingerprint: the same on every gateway given the same rule. */
  readonly namespace: string;
  readonly scope: ScopeMatcher;
  readonly when: CompiledWhen | undefined;
  readonly key: (req: CelRequest) => string;
  readonly limit: LimitSpec;
  /** Also send RateLimit-Policy / RateLimit on allowed responses. */
  readonly headersOnAllowed: boolean;
  readonly response: RateLimitResponse;
}

export interface ProxySnapshot {
  readonly version: number;
  readonly listeners: ReadonlyMap<string, CompiledListener>;
  readonly agents: readonly AgentInfo[];
  /** Enabled WAF rules in evaluation order (priority, then id); every listener runs them. */
  readonly waf: readonly CompiledWafRule[];
  /** Enabled rate-limit rules in priority order; every matching one consumes. */
  readonly rateLimits: readonly CompiledRateLimitRule[];
  /** Enabled shaper rules in priority order; the first matching one applies. */
  readonly shapers: readonly CompiledShaperRule[];
  /** Enabled cache rules in priority order; the first matching one applies (stage 9). */
  readonly cacheRules: readonly CompiledCacheRule[];
  /** Signs challenge tokens and pass cookies (HMAC-SHA256); 32 random bytes kept by management. */
  readonly policyKey: Buffer;
}

export const EMPTY_SNAPSHOT: ProxySnapshot = Object.freeze({ version: 0, listeners: new Map(), agents: [], waf: [], rateLimits: [], shapers: [], cacheRules: [], policyKey: Buffer.alloc(32) });
