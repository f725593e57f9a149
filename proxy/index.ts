// The data plane's public surface: the only module outside proxy/ may import (DESIGN.md §2).
// Management compiles the snapshot with these types and builders and controls the running data
// plane through DataPlaneControl; cli/serve.ts constructs it.
export { DataPlane, type DataPlaneControl, type DataPlaneOptions } from "./data-plane.ts";
export type { ConnectionLimits, ListenerStatus, ListenerState, ListenerTimeouts } from "./listeners.ts";
export {
  EMPTY_SNAPSHOT,
  type ActiveCheck,
  type AgentCandidate,
  type AgentInfo,
  type CompiledListener,
  type CompiledListenerTls,
  type CompiledRoute,
  type CompiledTarget,
  type ProxySnapshot,
  type RouteAction,
  type RouteTimeouts,
  type BlockBody,
  type CompiledWafRule,
  type WafRuleAction,
  type NoScriptFallback,
  type CompiledRateLimitRule,
  type RateLimitResponse,
} from "./snapshot.ts";
export { compileKey, validateKeyParts, MAX_KEY_PARTS } from "./policy/key-parts.ts";
export type { LimitSpec, RateLimitAlgorithm, RateLimitStore, StoreStatus } from "./policy/rate-limit/store.ts";
export { checkRateLimitStoreUrl, createRateLimitStore } from "./policy/rate-limit/create-store.ts";
export type { CompiledShaperRule, ShaperSpec } from "./shaping/types.ts";
export type { CompiledCacheRule, CacheSettings, CacheStore, CacheUsage, EntryMeta, EntryWriter, PurgeFilter, QueryMode, StoredEntry, TierUsage } from "./cache/types.ts";
export { MemoryTier, DEFAULT_CACHE_SETTINGS } from "./cache/memory-tier.ts";
export type { CacheTuning } from "./cache/service.ts";
export { ScopeMatcher, validateScope, type ScopeSpec, type ScopeProblem } from "./policy/match.ts";
export { CelCheckError, compileWhen } from "./policy/cel.ts";
export { CAPTCHA_KINDS, captchaPageCsp, providerUrlProblem, type CaptchaKindName, type CaptchaSettings } from "./policy/captcha.ts";
export { CompiledTemplate, TemplateError, TEMPLATE_PLACEHOLDERS, SAMPLE_VALUES, DEFAULT_TEMPLATE_CONTENT_TYPE, type TemplateKindName } from "./policy/template.ts";
export { compileRouter, RouterConfigError, validateHostPattern, validateMethod, validatePathPrefix } from "./routing/router.ts";
export { createBalancer, TargetPool, type BalancePolicy, type Balancer } from "./balance/index.ts";
export { compileHeaderRules, hstsValue, HeaderRuleError, validateHeaderName, validateHeaderValue, type HeaderRules } from "./headers.ts";
export { clientIp, parseTrustedProxies, TrustedProxiesError, TRUST_NOBODY, type TrustedProxies } from "./client-ip.ts";
export type { AgentDialer } from "./targets/upstream-pools.ts";
export { NO_EVENTS, type EventSink, type RequestEvent } from "./observe/request-event.ts";
export { CertificateStore, normalizeServerName, type StoredCertificate, type CertificateChoice } from "./tls/certificate-store.ts";
export { AcmeChallenges, ACME_HTTP01_PREFIX, ACME_TLS_ALPN_PROTOCOL } from "./tls/acme-challenges.ts";
export { OcspStapler, ocspTarget, parseOcspResponse, type OcspTarget, type OcspAnswer } from "./tls/ocsp.ts";
