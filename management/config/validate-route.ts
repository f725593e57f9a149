import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import {
  BalancePolicy,
  HashOn,
  RedirectMode,
  RouteAction,
  RouteSpecSchema,
  TargetKind,
  type RouteSpec,
  type Target,
} from "../../proto/gen/warren/v1/proxy_pb.ts";
import { ApiError, fieldError } from "../errors.ts";
import { validateHeaderName, validateHeaderValue, validateHostPattern, validateMethod, validatePathPrefix } from "../../proxy/index.ts";
import { newId } from "../store/ids.ts";

export const DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024;
const MAX_TARGETS = 64;
const MAX_STATIC_BODY = 1024 * 1024;
const SELECTOR_KEY_RE = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

export function checkHeaders(list: readonly { name: string; value: string }[], field: string): void {
  list.forEach((h, i) => {
    const n = validateHeaderName(h.name);
    if (n) throw fieldError(`${field}[${i}].name`, n);
    const v = validateHeaderValue(h.value);
    if (v) throw fieldError(`${field}[${i}].value`, v);
  });
}

function checkTarget(t: Target, i: number, previous: ReadonlyMap<string, Target>): void {
  const f = `spec.targets[${i}]`;
  if (t.id !== "" && !previous.has(t.id)) throw fieldError(`${f}.id`, `no target ${t.id} on this route (leave it empty for a new target)`);
  if (t.id === "") t.id = newId("tgt");
  // Sent without `enabled`, a target is enabled: forgetting the flag must not quietly serve 503s.
  t.enabled ??= true;
  if (t.name.length > 64) throw fieldError(`${f}.name`, "must be at most 64 characters");
  if (t.weight === 0) t.weight = 1;
  if (t.weight > 1000) throw fieldError(`${f}.weight`, "must be 1–1000");
  if (t.priorityGroup > 1000) throw fieldError(`${f}.priority_group`, "must be 0–1000");
  if (t.kind !== TargetKind.DIRECT && t.kind !== TargetKind.AGENT) throw fieldError(`${f}.kind`, "must be TARGET_KIND_DIRECT or TARGET_KIND_AGENT");
  let url: URL;
  try {
    url = new URL(t.url);
  } catch {
    throw fieldError(`${f}.url`, "must be an absolute http:// or https:// URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw fieldError(`${f}.url`, "must be http:// or https://");
  if (url.username || url.password) throw fieldError(`${f}.url`, "must not carry credentials (use a target header)");
  if (url.search || url.hash) throw fieldError(`${f}.url`, "must not have a query or fragment");
  if (t.kind === TargetKind.AGENT) {
    const entries = Object.entries(t.agentSelector);
    if (entries.length === 0) throw fieldError(`${f}.agent_selector`, "must name at least one label (e.g. warren.io/agent-id)");
    for (const [k, v] of entries) {
      if (!SELECTOR_KEY_RE.test(k)) throw fieldError(`${f}.agent_selector["${k}"]`, "is not a valid label key");
      if (v.length > 63) throw fieldError(`${f}.agent_selector["${k}"]`, "value must be at most 63 characters");
    }
  } else if (Object.keys(t.agentSelector).length > 0) {
    throw fieldError(`${f}.agent_selector`, "only agent targets take a selector");
  }
  const prevHeaders = previous.get(t.id)?.headers ?? [];
  t.headers.forEach((h, j) => {
    const n = validateHeaderName(h.name);
    if (n) throw fieldError(`${f}.headers[${j}].name`, n);
    // A sensitive value sent empty keeps the stored one (it is never returned).
    if (h.sensitive && h.value === "") {
      const stored = prevHeaders.find((p) => p.name.toLowerCase() === h.name.toLowerCase() && p.sensitive);
      if (!stored) throw fieldError(`${f}.headers[${j}].value`, "is required (no stored value to keep)");
      h.value = stored.value;
    }
    const v = validateHeaderValue(h.value);
    if (v) throw fieldError(`${f}.headers[${j}].value`, v);
    h.valueSet = false;
  });
}

/**
 * Validates a route spec in place (normalizing it: ids for new targets, defaults, kept secrets)
 * and returns it. Every failure is invalid_argument naming the field.
 */
export function validateRoute(spec: RouteSpec | undefined, previous?: RouteSpec): RouteSpec {
  if (!spec) throw fieldError("spec", "is required");
  if (spec.listenerId === "") throw fieldError("spec.listener_id", "is required");
  if (spec.name.length > 64) throw fieldError("spec.name", "must be at most 64 characters");
  if (spec.priority < -1_000_000 || spec.priority > 1_000_000) throw fieldError("spec.priority", "must be between -1000000 and 1000000");
  spec.hosts = spec.hosts.map((h) => h.trim().toLowerCase());
  spec.hosts.forEach((h, i) => {
    const e = validateHostPattern(h);
    if (e) throw fieldError(`spec.hosts[${i}]`, e);
  });
  if (spec.pathPrefix === "") spec.pathPrefix = "/";
  const pe = validatePathPrefix(spec.pathPrefix);
  if (pe) throw fieldError("spec.path_prefix", pe);
  spec.methods = spec.methods.map((m) => m.trim().toUpperCase());
  spec.methods.forEach((m, i) => {
    const e = validateMethod(m);
    if (e) throw fieldError(`spec.methods[${i}]`, e);
  });
  if (!spec.isDefault && spec.hosts.length === 0 && spec.pathPrefix === "/" && spec.methods.length === 0) {
    // Allowed, but it shadows everything after it: fine for catch-all routes.
  }
  const o = spec.options;
  if (o) {
    checkHeaders(o.addRequestHeaders, "spec.options.add_request_headers");
    checkHeaders(o.addResponseHeaders, "spec.options.add_response_headers");
    o.removeRequestHeaders.forEach((n, i) => {
      const e = validateHeaderName(n);
      if (e) throw fieldError(`spec.options.remove_request_headers[${i}]`, e);
    });
    o.removeResponseHeaders.forEach((n, i) => {
      const e = validateHeaderName(n);
      if (e) throw fieldError(`spec.options.remove_response_headers[${i}]`, e);
    });
    if (o.connectTimeoutMs > 120_000) throw fieldError("spec.options.connect_timeout_ms", "must be at most 120000");
    if (o.responseHeaderTimeoutMs > 3_600_000) throw fieldError("spec.options.response_header_timeout_ms", "must be at most 3600000");
    if (o.maxConcurrentRequests > 1_000_000) throw fieldError("spec.options.max_concurrent_requests", "must be at most 1000000 (0 = unlimited)");
    if (o.hstsMaxAgeSeconds > 63_072_000) throw fieldError("spec.options.hsts_max_age_seconds", "must be at most 63072000 (2 years)");
    if (o.upgradeProtocols.length > 16) throw fieldError("spec.options.upgrade_protocols", "at most 16 tokens");
    o.upgradeProtocols = o.upgradeProtocols.map((t, i) => {
      const token = t.trim().toLowerCase();
      // RFC 9110 §7.8: protocol-name ["/" protocol-version], both tokens.
      if (!/^[!#$%&'*+\-.^_`|~0-9a-z]{1,64}(\/[!#$%&'*+\-.^_`|~0-9a-z]{1,64})?$/.test(token)) {
        throw fieldError(`spec.options.upgrade_protocols[${i}]`, "must be an upgrade token such as h2c or tls/1.2");
      }
      return token;
    });
  }

  switch (spec.action) {
    case RouteAction.FORWARD: {
      if (spec.targets.length === 0) throw fieldError("spec.targets", "a forward route needs at least one target");
      if (spec.targets.length > MAX_TARGETS) throw fieldError("spec.targets", `at most ${MAX_TARGETS} targets`);
      const prev = new Map((previous?.targets ?? []).map((t) => [t.id, t]));
      spec.targets.forEach((t, i) => checkTarget(t, i, prev));
      if (!spec.targets.some((t) => t.enabled)) throw fieldError("spec.targets", "every target is disabled: enable at least one (a route with none would answer 503 to every request)");
      const lb = spec.loadBalancing;
      if (lb) {
        if (lb.policy > BalancePolicy.CONSISTENT_HASH) throw fieldError("spec.load_balancing.policy", "unknown policy");
        if (lb.policy === BalancePolicy.CONSISTENT_HASH) {
          if (lb.hashOn === HashOn.UNSPECIFIED) throw fieldError("spec.load_balancing.hash_on", "is required for consistent hashing");
          if ((lb.hashOn === HashOn.HEADER || lb.hashOn === HashOn.COOKIE) && lb.hashKey.trim() === "") {
            throw fieldError("spec.load_balancing.hash_key", "names the header or cookie to hash on");
          }
        }
      }
      const hc = spec.healthCheck;
      if (hc?.enabled) {
        if (hc.method !== "" && validateMethod(hc.method.toUpperCase())) throw fieldError("spec.health_check.method", "must be an HTTP method such as GET or HEAD");
        hc.method = hc.method.toUpperCase();
        if (hc.path !== "" && (!hc.path.startsWith("/") || /[\s#]/.test(hc.path))) throw fieldError("spec.health_check.path", "must be a path starting with /");
        if (hc.intervalMs !== 0 && (hc.intervalMs < 100 || hc.intervalMs > 3_600_000)) throw fieldError("spec.health_check.interval_ms", "must be 100–3600000 (0 = 10000)");
        if (hc.timeoutMs !== 0 && (hc.timeoutMs < 10 || hc.timeoutMs > 60_000)) throw fieldError("spec.health_check.timeout_ms", "must be 10–60000 (0 = 2000)");
        if ((hc.timeoutMs || 2_000) >= (hc.intervalMs || 10_000)) throw fieldError("spec.health_check.timeout_ms", "must be shorter than the interval");
        if (hc.healthyThreshold > 100) throw fieldError("spec.health_check.healthy_threshold", "must be 1–100 (0 = 2)");
        if (hc.unhealthyThreshold > 100) throw fieldError("spec.health_check.unhealthy_threshold", "must be 1–100 (0 = 2)");
        hc.expectedStatuses.forEach((c, i) => {
          if (c < 100 || c > 599) throw fieldError(`spec.health_check.expected_statuses[${i}]`, "must be an HTTP status 100–599");
        });
      }
      const ph = spec.passiveHealth;
      if (ph && ph.cooldownMs > 3_600_000) throw fieldError("spec.passive_health.cooldown_ms", "must be at most 3600000");
      break;
    }
    case RouteAction.REDIRECT: {
      const r = spec.redirect;
      if (!r) throw fieldError("spec.redirect", "is required for a redirect route");
      if (![301, 302, 307, 308].includes(r.status)) throw fieldError("spec.redirect.status", "must be 301, 302, 307 or 308");
      if (r.mode === RedirectMode.SAME_HOST_PATH) {
        if (!r.location.startsWith("/") || r.location.startsWith("//")) throw fieldError("spec.redirect.location", "must be a path starting with a single /");
      } else if (r.mode === RedirectMode.EXTERNAL_ORIGIN || r.mode === RedirectMode.ABSOLUTE_URL) {
        let u: URL;
        try {
          u = new URL(r.location);
        } catch {
          throw fieldError("spec.redirect.location", "must be an absolute http(s) URL");
        }
        if (u.protocol !== "http:" && u.protocol !== "https:") throw fieldError("spec.redirect.location", "must be http:// or https://");
        if (r.mode === RedirectMode.EXTERNAL_ORIGIN && (u.pathname !== "/" || u.search || u.hash)) {
          throw fieldError("spec.redirect.location", "must be an origin (scheme://host[:port]) without a path");
        }
      } else {
        throw fieldError("spec.redirect.mode", "must be SAME_HOST_PATH, EXTERNAL_ORIGIN or ABSOLUTE_URL");
      }
      if (r.keepPathBelowPrefix && r.mode !== RedirectMode.SAME_HOST_PATH) {
        throw fieldError("spec.redirect.keep_path_below_prefix", "applies only to SAME_HOST_PATH redirects");
      }
      if (spec.targets.length > 0) throw fieldError("spec.targets", "only forward routes have targets");
      break;
    }
    case RouteAction.STATIC: {
      const st = spec.staticResponse;
      if (!st) throw fieldError("spec.static_response", "is required for a static route");
      if (st.status < 200 || st.status > 599) throw fieldError("spec.static_response.status", "must be 200–599");
      if (Buffer.byteLength(st.body) > MAX_STATIC_BODY) throw fieldError("spec.static_response.body", "must be at most 1 MiB");
      checkHeaders(st.headers, "spec.static_response.headers");
      if (spec.targets.length > 0) throw fieldError("spec.targets", "only forward routes have targets");
      break;
    }
    default:
      throw fieldError("spec.action", "must be ROUTE_ACTION_FORWARD, ROUTE_ACTION_REDIRECT or ROUTE_ACTION_STATIC");
  }
  return spec;
}

export function routeSpecToJson(spec: RouteSpec): string {
  return JSON.stringify(toJson(RouteSpecSchema, spec));
}

export function routeSpecFromJson(json: string): RouteSpec {
  try {
    const spec = fromJson(RouteSpecSchema, JSON.parse(json) as JsonValue);
    // Rows stored before `enabled` became optional omitted it when false.
    for (const t of spec.targets) t.enabled ??= false;
    return spec;
  } catch (e) {
    throw new ApiError("internal_error", "a stored route is unreadable", { cause: e });
  }
}

/** What the API returns: sensitive header values blanked, `value_set` telling they exist. */
export function redactRouteSpec(spec: RouteSpec): RouteSpec {
  const copy = create(RouteSpecSchema, spec);
  copy.targets = spec.targets.map((t) => ({
    ...t,
    headers: t.headers.map((h) => (h.sensitive ? { ...h, value: "", valueSet: h.value !== "" } : { ...h })),
  }));
  return copy;
}
