// Listener → route. Routes are compiled once per snapshot into host-indexed buckets; a match is a
// few Map lookups and prefix compares, and allocates nothing unless it answers 405.
//
// The rule an operator can predict:
//   1. Only non-default routes whose host, path prefix and methods all match are candidates.
//   2. The lowest `priority` number wins.
//   3. Equal priority: the more specific host wins — exact > wildcard (longer suffix first) > any
//      host; a route listing several hosts competes with the host that matched this request.
//   4. Still equal: the longer path prefix wins (compared in normalized form).
//   5. Still equal: the smaller id (string order), so the result never depends on load order.
//   If no candidate exists but some non-default route matched host and path, the answer is
//   405 with the union of those routes' methods as Allow (this wins over the default route: the
//   request did address a configured resource). Otherwise the listener's default route (its
//   hosts, prefix and methods are ignored: it is the fallback), otherwise 404.
//   A route allowing GET also allows HEAD.
import { hostMatches, normalizeHost, parseHostPattern, validateHostPattern, type HostPattern } from "./host-pattern.ts";
import { matchPathPrefix, normalizePath, parsePathPrefix, validatePathPrefix } from "./path-prefix.ts";

export { validateHostPattern, validatePathPrefix };

export interface RouteSpec {
  readonly id: string;
  /** Lower runs first. */
  readonly priority: number;
  /** Exact ("app.example.com") or wildcard ("*.example.com"); empty = any host. */
  readonly hosts: readonly string[];
  /** Segment-aware prefix; "" or "/" = every path. */
  readonly pathPrefix: string;
  /** Upper-case method names; empty = any method. */
  readonly methods: readonly string[];
  readonly isDefault: boolean;
}

export type RouteMatch<R> =
  | { readonly kind: "match"; readonly route: R }
  | { readonly kind: "method_not_allowed"; readonly allow: readonly string[] }
  | { readonly kind: "not_found" };

export type RouteField = "priority" | "hosts" | "pathPrefix" | "methods" | "isDefault";

/** A route the router cannot compile; `field` names what the API should report. */
export class RouterConfigError extends Error {
  override name = "RouterConfigError";
  constructor(
    readonly routeId: string,
    readonly field: RouteField,
    message: string,
  ) {
    super(`route ${routeId}: ${field}: ${message}`);
  }
}

const METHOD_RE = /^[A-Z][A-Z0-9_-]*$/;

/** An error message for an invalid method name, or undefined when it is valid. */
export function validateMethod(s: string): string | undefined {
  if (s.length === 0) return "must not be empty";
  if (s.length > 32) return "must be at most 32 characters";
  if (!METHOD_RE.test(s)) return "must be an upper-case HTTP method name such as GET or POST";
  return undefined;
}

interface Entry<R> {
  readonly route: R;
  rank: number;
  readonly prefix: string;
  /** undefined = any method. */
  readonly methods: ReadonlySet<string> | undefined;
  readonly result: RouteMatch<R>;
  // Sort keys.
  readonly priority: number;
  /**
   * Host specificity: the exact host's length, the wildcard suffix's length, 0 for any host. For
   * one request host this orders exact > longer wildcard > shorter wildcard > any, because every
   * matching wildcard suffix is a proper suffix of the (exact) host.
   */
  readonly hostLen: number;
}

export interface Router<R extends RouteSpec> {
  /**
   * `host`: the Host header value as received (case, port and a trailing dot are ignored).
   * `path`: the request path without the query (raw or normalized; it is normalized here).
   * `method`: as received (methods are case-sensitive).
   */
  match(host: string, path: string, method: string): RouteMatch<R>;
  readonly defaultRoute: R | undefined;
  /** Every route, default included, as given. */
  readonly routes: readonly R[];
}

const NOT_FOUND = Object.freeze({ kind: "not_found" as const });

class CompiledRouter<R extends RouteSpec> implements Router<R> {
  readonly defaultRoute: R | undefined;
  private readonly defaultResult: RouteMatch<R> | undefined;
  private readonly exact = new Map<string, Entry<R>[]>();
  private readonly wildcard = new Map<string, Entry<R>[]>();
  /** suffixLens[n] === 1 when some wildcard suffix is n characters long. */
  private readonly suffixLens = new Uint8Array(256);
  private readonly any: Entry<R>[] = [];

  readonly routes: readonly R[];
  constructor(routes: readonly R[]) {
    this.routes = Object.freeze([...routes]);
    const entries: Entry<R>[] = [];
    let def: R | undefined;
    for (const r of routes) {
      if (!Number.isFinite(r.priority)) throw new RouterConfigError(r.id, "priority", "must be a finite number");
      if (r.isDefault) {
        if (def !== undefined) throw new RouterConfigError(r.id, "isDefault", `a listener has at most one default route (${def.id} is already default)`);
        def = r;
        continue;
      }
      const prefixSrc = r.pathPrefix === "" ? "/" : r.pathPrefix;
      const perr = validatePathPrefix(prefixSrc);
      if (perr !== undefined) throw new RouterConfigError(r.id, "pathPrefix", perr);
      const prefix = parsePathPrefix(prefixSrc);
      let methods: Set<string> | undefined;
      if (r.methods.length > 0) {
        methods = new Set();
        for (const m of r.methods) {
          const merr = validateMethod(m);
          if (merr !== undefined) throw new RouterConfigError(r.id, "methods", `${JSON.stringify(m)} ${merr}`);
          methods.add(m);
        }
        if (methods.has("GET")) methods.add("HEAD");
      }
      const result = Object.freeze({ kind: "match" as const, route: r });
      const base = { route: r, rank: 0, prefix, methods, result, priority: r.priority };
      if (r.hosts.length === 0) {
        entries.push({ ...base, hostLen: 0 });
        continue;
      }
      const seen = new Set<string>();
      for (const h of r.hosts) {
        const herr = validateHostPattern(h);
        if (herr !== undefined) throw new RouterConfigError(r.id, "hosts", `${JSON.stringify(h)} ${herr}`);
        const p: HostPattern = parseHostPattern(h);
        const key = p.kind === "exact" ? p.host : "*" + p.suffix;
        if (seen.has(key)) continue;
        seen.add(key);
        const e: Entry<R> = { ...base, hostLen: p.kind === "exact" ? p.host.length : p.suffix.length };
        entries.push(e);
        const map = p.kind === "exact" ? this.exact : this.wildcard;
        const k = p.kind === "exact" ? p.host : p.suffix;
        let list = map.get(k);
        if (!list) map.set(k, (list = []));
        list.push(e);
      }
    }
    entries.sort(compareEntries);
    for (let i = 0; i < entries.length; i++) entries[i]!.rank = i;
    for (const e of entries) if (e.hostLen === 0) this.any.push(e);
    for (const list of this.exact.values()) list.sort(byRank);
    for (const list of this.wildcard.values()) list.sort(byRank);
    for (const suffix of this.wildcard.keys()) if (suffix.length < 256) this.suffixLens[suffix.length] = 1;
    this.defaultRoute = def;
    this.defaultResult = def === undefined ? undefined : Object.freeze({ kind: "match" as const, route: def });
  }

  match(rawHost: string, rawPath: string, method: string): RouteMatch<R> {
    const host = normalizeHost(rawHost);
    const path = normalizePath(rawPath);
    this.pathHit = false;
    let best: Entry<R> | undefined;
    const ex = this.exact.get(host);
    if (ex !== undefined) best = this.scan(ex, path, method, best);
    if (this.wildcard.size > 0) {
      // Each dot after the first label starts a suffix a wildcard might own: work is bounded by
      // the request's label count, not by the number of wildcard routes.
      const hl = host.length;
      for (let d = host.indexOf(".", 1); d > 0; d = host.indexOf(".", d + 1)) {
        if (this.suffixLens[hl - d] !== 1) continue;
        const list = this.wildcard.get(host.slice(d));
        if (list !== undefined) best = this.scan(list, path, method, best);
      }
    }
    best = this.scan(this.any, path, method, best);
    if (best !== undefined) return best.result;
    if (this.pathHit) return { kind: "method_not_allowed", allow: this.allowed(host, path) };
    return this.defaultResult ?? NOT_FOUND;
  }

  /** Set by scan() when a route matched host and path but not the method (match() is synchronous). */
  private pathHit = false;

  /** The first entry of `list` (sorted by rank) that matches and beats `best`, else `best`. */
  private scan(list: readonly Entry<R>[], path: string, method: string, best: Entry<R> | undefined): Entry<R> | undefined {
    const bestRank = best === undefined ? Infinity : best.rank;
    for (const e of list) {
      if (e.rank >= bestRank) return best;
      if (!matchPathPrefix(e.prefix, path)) continue;
      if (e.methods === undefined || e.methods.has(method)) return e;
      this.pathHit = true;
    }
    return best;
  }

  /** The 405 slow path: the union of methods of every route matching host and path. */
  private allowed(host: string, path: string): string[] {
    const out = new Set<string>();
    const add = (list: readonly Entry<R>[] | undefined) => {
      if (list === undefined) return;
      for (const e of list) {
        if (e.methods !== undefined && matchPathPrefix(e.prefix, path)) for (const m of e.methods) out.add(m);
      }
    };
    add(this.exact.get(host));
    for (const [suffix, list] of this.wildcard) if (host.length > suffix.length && host.endsWith(suffix)) add(list);
    add(this.any);
    return [...out].sort();
  }
}

function byRank<R>(a: Entry<R>, b: Entry<R>): number {
  return a.rank - b.rank;
}

function compareEntries<R extends RouteSpec>(a: Entry<R>, b: Entry<R>): number {
  return (
    a.priority - b.priority ||
    b.hostLen - a.hostLen ||
    b.prefix.length - a.prefix.length ||
    (a.route.id < b.route.id ? -1 : a.route.id > b.route.id ? 1 : 0)
  );
}

/** Compiles one listener's routes. Throws RouterConfigError naming the route and field. */
export function compileRouter<R extends RouteSpec>(routes: readonly R[]): Router<R> {
  return new CompiledRouter(routes);
}

export { hostMatches, normalizeHost, matchPathPrefix, normalizePath };
