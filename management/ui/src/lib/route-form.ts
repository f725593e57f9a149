// The route editor's form state and its conversion to and from the API's RouteSpec. Pure (no DOM, no
// Preact): unit-tested in test/unit/ui/route-form.test.ts. Numbers are kept as the strings typed
// (empty = the server's default), lists as rows; only what the form itself can tell is checked here
// (a number that is not one): real validation is the server's, and its errors name the same fields.
import { create } from "@bufbuild/protobuf";
import {
  BalancePolicy,
  HashOn,
  HealthCheckSchema,
  LoadBalancingSchema,
  PassiveHealthSchema,
  RedirectMode,
  RedirectSpecSchema,
  RouteAction,
  RouteSpecSchema,
  StaticSpecSchema,
  TargetKind,
  TargetSchema,
  type RouteSpec,
  type Target,
} from "../../../../proto/gen/warren/v1/proxy_pb.ts";
import { FormError, type ApiProblem } from "./errors.ts";

export { FormError };

export interface HeaderRow {
  name: string;
  value: string;
}

export interface TargetHeaderRow {
  name: string;
  /** Empty with `sensitive` and `valueSet`: keep the stored secret. */
  value: string;
  sensitive: boolean;
  /** The server holds a value for this sensitive header (it is never returned). */
  valueSet: boolean;
}

export interface SelectorRow {
  key: string;
  value: string;
}

export interface TargetForm {
  /** Empty for a new target; sent back so the server keeps its stored secrets. */
  id: string;
  kind: TargetKind;
  url: string;
  name: string;
  enabled: boolean;
  weight: string;
  priorityGroup: string;
  tlsSkipVerify: boolean;
  headers: TargetHeaderRow[];
  selector: SelectorRow[];
}

export interface RouteForm {
  listenerId: string;
  name: string;
  /** Comma- or line-separated. */
  hosts: string;
  pathPrefix: string;
  /** Comma- or line-separated. */
  methods: string;
  priority: string;
  isDefault: boolean;
  action: RouteAction;
  redirect: {
    status: string;
    mode: RedirectMode;
    location: string;
    keepQuery: boolean;
    keepPathBelowPrefix: boolean;
  };
  staticResponse: {
    status: string;
    headers: HeaderRow[];
    body: string;
  };
  targets: TargetForm[];
  loadBalancing: { policy: BalancePolicy; hashOn: HashOn; hashKey: string };
  healthCheck: {
    enabled: boolean;
    method: string;
    path: string;
    intervalMs: string;
    timeoutMs: string;
    healthyThreshold: string;
    unhealthyThreshold: string;
    /** Comma- or space-separated status codes. */
    expectedStatuses: string;
  };
  passiveHealth: { enabled: boolean; cooldownMs: string };
  options: {
    preserveHost: boolean;
    stripPathPrefix: boolean;
    addRequestHeaders: HeaderRow[];
    /** Comma- or line-separated header names. */
    removeRequestHeaders: string;
    addResponseHeaders: HeaderRow[];
    removeResponseHeaders: string;
    connectTimeoutMs: string;
    responseHeaderTimeoutMs: string;
    /** Empty = unset (100 MiB); "0" = unlimited. */
    maxBodyBytes: string;
    allowEncodedSeparators: boolean;
    httpsRedirect: boolean;
    hstsMaxAgeSeconds: string;
    /** Empty or "0" = unlimited. */
    maxConcurrentRequests: string;
    addVia: boolean;
    /** Comma- or space-separated tokens. */
    upgradeProtocols: string;
  };
}


/** Splits comma-, whitespace- or line-separated text into trimmed, non-empty items. */
export function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function joinList(items: readonly string[]): string {
  return items.join(", ");
}

function num(n: number | bigint): string {
  return n === 0 || n === 0n ? "" : String(n);
}

/** A whole number from a form field: empty = 0 (the server's default). */
export function parseWhole(text: string, field: string, opts: { signed?: boolean; max?: number } = {}): number {
  const t = text.trim();
  if (t === "") return 0;
  if (!(opts.signed ? /^-?\d+$/ : /^\d+$/).test(t)) throw new FormError(field, opts.signed ? "must be a whole number" : "must be a whole number, 0 or more");
  const n = Number(t);
  const max = opts.max ?? 4_294_967_295;
  if (n > max || n < -max) throw new FormError(field, `must be at most ${max}`);
  return n;
}

export function newTarget(kind: TargetKind = TargetKind.DIRECT): TargetForm {
  return { id: "", kind, url: "", name: "", enabled: true, weight: "", priorityGroup: "", tlsSkipVerify: false, headers: [], selector: [] };
}

function targetToForm(t: Target): TargetForm {
  return {
    id: t.id,
    kind: t.kind === TargetKind.AGENT ? TargetKind.AGENT : TargetKind.DIRECT,
    url: t.url,
    name: t.name,
    enabled: t.enabled ?? true,
    weight: num(t.weight),
    priorityGroup: num(t.priorityGroup),
    tlsSkipVerify: t.tlsSkipVerify,
    headers: t.headers.map((h) => ({ name: h.name, value: h.value, sensitive: h.sensitive, valueSet: h.valueSet })),
    selector: Object.entries(t.agentSelector).map(([key, value]) => ({ key, value })),
  };
}

/**
 * The form for a route (or a new route when `spec` is undefined, on the first listener).
 */
export function routeToForm(spec: RouteSpec | undefined, listeners: readonly { readonly id: string }[] = []): RouteForm {
  const s = spec ?? create(RouteSpecSchema, { action: RouteAction.FORWARD, pathPrefix: "/" });
  const o = s.options;
  const hc = s.healthCheck;
  const r = s.redirect;
  const st = s.staticResponse;
  const action = s.action === RouteAction.REDIRECT || s.action === RouteAction.STATIC ? s.action : RouteAction.FORWARD;
  return {
    listenerId: s.listenerId || listeners[0]?.id || "",
    name: s.name,
    hosts: joinList(s.hosts),
    pathPrefix: s.pathPrefix || "/",
    methods: joinList(s.methods),
    priority: num(s.priority),
    isDefault: s.isDefault,
    action,
    redirect: {
      status: String(r?.status || 308),
      mode: r && r.mode !== RedirectMode.UNSPECIFIED ? r.mode : RedirectMode.SAME_HOST_PATH,
      location: r?.location ?? "",
      keepQuery: r ? r.keepQuery : true,
      keepPathBelowPrefix: r?.keepPathBelowPrefix ?? false,
    },
    staticResponse: {
      status: String(st?.status || 200),
      headers: (st?.headers ?? []).map((h) => ({ name: h.name, value: h.value })),
      body: st?.body ?? "",
    },
    targets: s.targets.length > 0 ? s.targets.map(targetToForm) : spec ? [] : [newTarget()],
    loadBalancing: {
      policy: s.loadBalancing?.policy ?? BalancePolicy.UNSPECIFIED,
      hashOn: s.loadBalancing?.hashOn ?? HashOn.UNSPECIFIED,
      hashKey: s.loadBalancing?.hashKey ?? "",
    },
    healthCheck: {
      enabled: hc?.enabled ?? false,
      method: hc?.method ?? "",
      path: hc?.path ?? "",
      intervalMs: num(hc?.intervalMs ?? 0),
      timeoutMs: num(hc?.timeoutMs ?? 0),
      healthyThreshold: num(hc?.healthyThreshold ?? 0),
      unhealthyThreshold: num(hc?.unhealthyThreshold ?? 0),
      expectedStatuses: joinList((hc?.expectedStatuses ?? []).map(String)),
    },
    passiveHealth: { enabled: s.passiveHealth?.enabled ?? false, cooldownMs: num(s.passiveHealth?.cooldownMs ?? 0) },
    options: {
      preserveHost: o?.preserveHost ?? false,
      stripPathPrefix: o?.stripPathPrefix ?? false,
      addRequestHeaders: (o?.addRequestHeaders ?? []).map((h) => ({ name: h.name, value: h.value })),
      removeRequestHeaders: joinList(o?.removeRequestHeaders ?? []),
      addResponseHeaders: (o?.addResponseHeaders ?? []).map((h) => ({ name: h.name, value: h.value })),
      removeResponseHeaders: joinList(o?.removeResponseHeaders ?? []),
      connectTimeoutMs: num(o?.connectTimeoutMs ?? 0),
      responseHeaderTimeoutMs: num(o?.responseHeaderTimeoutMs ?? 0),
      maxBodyBytes: o?.maxBodyBytes === undefined ? "" : String(o.maxBodyBytes),
      allowEncodedSeparators: o?.allowEncodedSeparators ?? false,
      httpsRedirect: o?.httpsRedirect ?? false,
      hstsMaxAgeSeconds: num(o?.hstsMaxAgeSeconds ?? 0),
      maxConcurrentRequests: num(o?.maxConcurrentRequests ?? 0),
      addVia: o?.addVia ?? false,
      upgradeProtocols: joinList(o?.upgradeProtocols ?? []),
    },
  };
}

/** Rows with neither a name nor a value are blank lines, not headers. */
function headers(rows: readonly HeaderRow[]): { name: string; value: string }[] {
  return rows.filter((h) => h.name.trim() !== "" || h.value !== "").map((h) => ({ name: h.name.trim(), value: h.value }));
}

function statuses(text: string, field: string): number[] {
  return splitList(text).map((s, i) => {
    if (!/^\d+$/.test(s)) throw new FormError(`${field}[${i}]`, `"${s}" is not an HTTP status`);
    return Number(s);
  });
}

/**
 * The RouteSpec to send. Throws FormError (with an ApiProblem naming the field) for input the form can
 * tell is wrong on its own: a number field that is not a number.
 */
export function formToRouteSpec(f: RouteForm): RouteSpec {
  const forward = f.action === RouteAction.FORWARD;
  const o = f.options;
  let maxBodyBytes: bigint | undefined;
  if (o.maxBodyBytes.trim() !== "") {
    if (!/^\d+$/.test(o.maxBodyBytes.trim())) throw new FormError("options.max_body_bytes", "must be a whole number of bytes (empty = 100 MiB, 0 = unlimited)");
    maxBodyBytes = BigInt(o.maxBodyBytes.trim());
  }
  const spec = create(RouteSpecSchema, {
    listenerId: f.listenerId,
    name: f.name.trim(),
    priority: parseWhole(f.priority, "priority", { signed: true, max: 2_147_483_647 }),
    hosts: splitList(f.hosts),
    pathPrefix: f.pathPrefix.trim(),
    methods: splitList(f.methods).map((m) => m.toUpperCase()),
    isDefault: f.isDefault,
    action: f.action,
    options: {
      preserveHost: o.preserveHost,
      stripPathPrefix: o.stripPathPrefix,
      addRequestHeaders: headers(o.addRequestHeaders),
      removeRequestHeaders: splitList(o.removeRequestHeaders),
      addResponseHeaders: headers(o.addResponseHeaders),
      removeResponseHeaders: splitList(o.removeResponseHeaders),
      connectTimeoutMs: parseWhole(o.connectTimeoutMs, "options.connect_timeout_ms"),
      responseHeaderTimeoutMs: parseWhole(o.responseHeaderTimeoutMs, "options.response_header_timeout_ms"),
      maxBodyBytes,
      allowEncodedSeparators: o.allowEncodedSeparators,
      httpsRedirect: o.httpsRedirect,
      hstsMaxAgeSeconds: parseWhole(o.hstsMaxAgeSeconds, "options.hsts_max_age_seconds"),
      maxConcurrentRequests: parseWhole(o.maxConcurrentRequests, "options.max_concurrent_requests"),
      addVia: o.addVia,
      upgradeProtocols: splitList(o.upgradeProtocols),
    },
  });
  if (f.action === RouteAction.REDIRECT) {
    spec.redirect = create(RedirectSpecSchema, {
      status: parseWhole(f.redirect.status, "redirect.status"),
      mode: f.redirect.mode,
      location: f.redirect.location.trim(),
      keepQuery: f.redirect.keepQuery,
      keepPathBelowPrefix: f.redirect.mode === RedirectMode.SAME_HOST_PATH && f.redirect.keepPathBelowPrefix,
    });
  }
  if (f.action === RouteAction.STATIC) {
    spec.staticResponse = create(StaticSpecSchema, {
      status: parseWhole(f.staticResponse.status, "static_response.status"),
      headers: headers(f.staticResponse.headers),
      body: f.staticResponse.body,
    });
  }
  if (forward) {
    spec.targets = f.targets.map((t, i) => {
      const field = `targets[${i}]`;
      const selector: Record<string, string> = {};
      if (t.kind === TargetKind.AGENT) for (const r of t.selector) if (r.key.trim() !== "") selector[r.key.trim()] = r.value.trim();
      return create(TargetSchema, {
        id: t.id,
        kind: t.kind,
        url: t.url.trim(),
        name: t.name.trim(),
        enabled: t.enabled,
        weight: parseWhole(t.weight, `${field}.weight`),
        priorityGroup: parseWhole(t.priorityGroup, `${field}.priority_group`),
        tlsSkipVerify: t.tlsSkipVerify,
        agentSelector: selector,
        headers: t.headers.filter((h) => h.name.trim() !== "" || h.value !== "").map((h) => ({ name: h.name.trim(), value: h.value, sensitive: h.sensitive })),
      });
    });
    spec.loadBalancing = create(LoadBalancingSchema, { policy: f.loadBalancing.policy, hashOn: f.loadBalancing.hashOn, hashKey: f.loadBalancing.hashKey.trim() });
    spec.healthCheck = create(HealthCheckSchema, {
      enabled: f.healthCheck.enabled,
      method: f.healthCheck.method.trim().toUpperCase(),
      path: f.healthCheck.path.trim(),
      intervalMs: parseWhole(f.healthCheck.intervalMs, "health_check.interval_ms"),
      timeoutMs: parseWhole(f.healthCheck.timeoutMs, "health_check.timeout_ms"),
      healthyThreshold: parseWhole(f.healthCheck.healthyThreshold, "health_check.healthy_threshold"),
      unhealthyThreshold: parseWhole(f.healthCheck.unhealthyThreshold, "health_check.unhealthy_threshold"),
      expectedStatuses: statuses(f.healthCheck.expectedStatuses, "health_check.expected_statuses"),
    });
    spec.passiveHealth = create(PassiveHealthSchema, { enabled: f.passiveHealth.enabled, cooldownMs: parseWhole(f.passiveHealth.cooldownMs, "passive_health.cooldown_ms") });
  }
  return spec;
}

/** What a target list cell says: "2 targets (1 direct, 1 agent), 1 disabled". */
export function targetsSummary(spec: RouteSpec | undefined): string {
  if (!spec || spec.action !== RouteAction.FORWARD) return "—";
  const n = spec.targets.length;
  const direct = spec.targets.filter((t) => t.kind === TargetKind.DIRECT).length;
  const agent = spec.targets.filter((t) => t.kind === TargetKind.AGENT).length;
  const disabled = spec.targets.filter((t) => t.enabled === false).length;
  const kinds = [direct ? `${direct} direct` : "", agent ? `${agent} agent` : ""].filter(Boolean).join(", ");
  return `${n} target${n === 1 ? "" : "s"}${kinds ? ` (${kinds})` : ""}${disabled ? `, ${disabled} disabled` : ""}`;
}

/** Which form sections hold a field (for opening the `<details>` an error is in). */
export function fieldIn(problem: ApiProblem | undefined, prefixes: readonly string[]): boolean {
  const f = problem?.field;
  if (!f) return false;
  return prefixes.some((p) => f === p || f.startsWith(`${p}.`) || f.startsWith(`${p}[`));
}
