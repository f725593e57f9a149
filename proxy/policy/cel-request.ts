// One request as policy expressions and key parts see it. Everything derived (the normalized path,
// header lists, parsed cookies and query) is built on first use and shared by every rule.
import { celMap, type CelMap } from "@bufbuild/cel";
import { normalizePath } from "../routing/path-prefix.ts";

/** What a `when` expression sees of one request. */
export interface CelRequestInput {
  readonly method: string; // upper case
  readonly protocol: string; // "http" | "https"
  readonly host: string; // lower case, no port
  readonly path: string; // the raw path, no query
  readonly rawQuery: string; // what follows "?", or ""
  readonly headers: Readonly<Record<string, string | string[] | undefined>>; // node's IncomingHttpHeaders
  readonly clientIp: string;
}

/** Per request: built once, lazily — maps only when an expression reads them — shared by every rule. */
export class CelRequest {
  readonly input: CelRequestInput;
  private normPath: string | undefined;
  private headerLists: Map<string, readonly string[]> | undefined;
  private cookieMap: Map<string, string> | undefined;
  private queryMap: Map<string, string[]> | undefined;
  private vars: CelVars | undefined;

  constructor(input: CelRequestInput) {
    this.input = input;
  }

  /** The routing form of the path (path-prefix.ts normalizePath): what `path` is in expressions. */
  get path(): string {
    return (this.normPath ??= normalizePath(this.input.path));
  }

  /** All values of a header (lower-case name), each repeated header its own entry; undefined when absent. */
  headerValues(name: string): readonly string[] | undefined {
    const v = this.input.headers[name];
    if (v === undefined) return undefined;
    return typeof v === "string" ? [v] : v;
  }

  /** A header's value as one string (repeated ones joined by ", "), or undefined when absent. */
  header(name: string): string | undefined {
    const v = this.input.headers[name];
    return v === undefined || typeof v === "string" ? v : v.join(", ");
  }

  /** A cookie's value (the first one of that name), or undefined. */
  cookie(name: string): string | undefined {
    return this.cookies().get(name);
  }

  /** A query parameter's first value (percent-decoded, "+" as space), or undefined. */
  queryParam(name: string): string | undefined {
    return this.query().get(name)?.[0];
  }

  /** Every header as a list of values. */
  headers(): ReadonlyMap<string, readonly string[]> {
    if (this.headerLists !== undefined) return this.headerLists;
    const m = new Map<string, readonly string[]>();
    const h = this.input.headers;
    for (const k in h) {
      const v = h[k];
      if (v !== undefined) m.set(k, typeof v === "string" ? [v] : v);
    }
    return (this.headerLists = m);
  }

  cookies(): ReadonlyMap<string, string> {
    return (this.cookieMap ??= parseCookies(this.input.headers["cookie"]));
  }

  query(): ReadonlyMap<string, readonly string[]> {
    return (this.queryMap ??= parseQuery(this.input.rawQuery));
  }

  /** The activation expressions are evaluated against (cel.ts). */
  celVars(): CelVars {
    return (this.vars ??= new CelVars(this));
  }
}

/**
 * The variables by their CEL names. @bufbuild/cel's activation reads `bindings[name]`, so getters
 * make every map lazy; each is built once per request.
 */
export class CelVars {
  private readonly req: CelRequest;
  private h: CelMap | undefined;
  private q: CelMap | undefined;
  private c: CelMap | undefined;
  constructor(req: CelRequest) {
    this.req = req;
  }
  get method(): string {
    return this.req.input.method;
  }
  get protocol(): string {
    return this.req.input.protocol;
  }
  get host(): string {
    return this.req.input.host;
  }
  get path(): string {
    return this.req.path;
  }
  get client_ip(): string {
    return this.req.input.clientIp;
  }
  get headers(): CelMap {
    return (this.h ??= celMap(this.req.headers() as Map<string, string[]>));
  }
  get query(): CelMap {
    return (this.q ??= celMap(this.req.query() as Map<string, string[]>));
  }
  get cookies(): CelMap {
    return (this.c ??= celMap(this.req.cookies() as Map<string, string>));
  }
}

/** Cookie header(s) → name → value; the first of a name wins; DQUOTEs around a value are dropped. */
export function parseCookies(header: string | string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (header === undefined) return m;
  const all = typeof header === "string" ? header : header.join("; ");
  let i = 0;
  const n = all.length;
  while (i < n) {
    let end = all.indexOf(";", i);
    if (end < 0) end = n;
    const eq = all.indexOf("=", i);
    if (eq > i && eq < end) {
      const name = all.slice(i, eq).trim();
      let value = all.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) value = value.slice(1, -1);
      if (name.length > 0 && !m.has(name)) m.set(name, value);
    }
    i = end + 1;
  }
  return m;
}

/** A raw query string → name → values in order, percent-decoded with "+" as space. */
export function parseQuery(raw: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  if (raw.length === 0) return m;
  for (const pair of raw.split("&")) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf("=");
    const name = decodeQueryComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? "" : decodeQueryComponent(pair.slice(eq + 1));
    const list = m.get(name);
    if (list === undefined) m.set(name, [value]);
    else list.push(value);
  }
  return m;
}

function decodeQueryComponent(s: string): string {
  if (s.indexOf("+") >= 0) s = s.replace(/\+/g, " ");
  if (s.indexOf("%") < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    // Malformed or non-UTF-8 escapes: decode what decodes, keep the rest as written.
    return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}
