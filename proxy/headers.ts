// Header rewriting for forwarding (DESIGN.md §5 stage 10), on Node's raw header arrays.
//
// Format, in and out: a flat array [name, value, name, value, ...] — req.rawHeaders as node:http
// gives it (names in their received case, repeats kept as separate pairs, in order), and what
// undici's `headers` option and res.writeHead(status, array) accept. Names are compared
// case-insensitively; output names we add are lower case. Nothing here validates incoming
// values (llhttp already refused CR/LF/NUL); configured values are validated when compiled.
import { canonicalIp } from "../lib/ip.ts";

/** RFC 9110 §7.6.1 plus the legacy names proxies must not forward. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
]);

/** Client-supplied forwarding headers: dropped from untrusted peers, kept from trusted proxies. */
const FORWARDING = new Set(["forwarded", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-forwarded-prefix"]);

export type RawHeaders = readonly string[];

/** Lower-case names listed in every Connection header (themselves hop-by-hop); undefined if none. */
export function connectionTokens(raw: RawHeaders): Set<string> | undefined {
  let out: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 10 || name.toLowerCase() !== "connection") continue;
    for (const tok of raw[i + 1]!.split(",")) {
      const t = tok.trim().toLowerCase();
      if (t === "" || t === "close" || t === "keep-alive") continue;
      (out ??= new Set()).add(t);
    }
  }
  return out;
}

/** Every pair except hop-by-hop headers and those named in Connection. */
export function stripHopByHop(raw: RawHeaders): string[] {
  const conn = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || conn?.has(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** Values as node:http accepts them: HTAB, visible ASCII, obs-text; no CR, LF, NUL or other CTL. */
const INVALID_VALUE_RE = /[^\t\x20-\x7e\x80-\xff]/;
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MAX_VALUE = 8192;

export function isValidHeaderName(name: string): boolean {
  return TOKEN_RE.test(name);
}

export function isValidHeaderValue(value: string): boolean {
  return !INVALID_VALUE_RE.test(value);
}

/** An error message for a header name in a route rule, or undefined when it is valid. */
export function validateHeaderName(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > 256) return "must be at most 256 characters";
  if (!TOKEN_RE.test(name)) return "may contain only letters, digits and !#$%&'*+-.^_`|~";
  return undefined;
}

/** An error message for a configured header value, or undefined when it is valid. */
export function validateHeaderValue(value: string): string | undefined {
  if (value.length > MAX_VALUE) return `must be at most ${MAX_VALUE} characters`;
  if (!isValidHeaderValue(value)) return "must not contain CR, LF, NUL or other control characters";
  if (value !== value.trim()) return "must not start or end with whitespace";
  return undefined;
}

/** Names a route may not add, set or remove: framing and hop-by-hop are Warren's job. */
const RULE_FORBIDDEN = new Set([...HOP_BY_HOP, "content-length", "host"]);

export class HeaderRuleError extends Error {
  override name = "HeaderRuleError";
  constructor(
    /** "remove", "set" or "add", with the index: "set[2].name". */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export interface HeaderRuleSpec {
  /** Names to drop (what the upstream or client sent, and the X-Forwarded-* Warren would add). */
  readonly remove?: readonly string[];
  /** Replace: drop every header of that name, then send this one. */
  readonly set?: readonly { readonly name: string; readonly value: string }[];
  /** Append, keeping existing headers of that name. */
  readonly add?: readonly { readonly name: string; readonly value: string }[];
}

export interface HeaderRules {
  /** Lower-case names removed from the input (remove ∪ set names). */
  readonly drop: ReadonlySet<string>;
  /** Flat [name, value, ...] appended after everything else (set, then add). */
  readonly append: readonly string[];
}

export const NO_HEADER_RULES: HeaderRules = Object.freeze({ drop: new Set<string>(), append: Object.freeze([]) as readonly string[] });

/** Compiles a route's header rules once per snapshot. Throws HeaderRuleError naming the field. */
export function compileHeaderRules(spec: HeaderRuleSpec): HeaderRules {
  const drop = new Set<string>();
  const append: string[] = [];
  const checkName = (field: string, name: string) => {
    const err = validateHeaderName(name);
    if (err !== undefined) throw new HeaderRuleError(field, err);
    if (RULE_FORBIDDEN.has(name.toLowerCase())) throw new HeaderRuleError(field, `${name} is managed by Warren and cannot be changed by a rule`);
  };
  (spec.remove ?? []).forEach((name, i) => {
    checkName(`remove[${i}]`, name);
    drop.add(name.toLowerCase());
  });
  for (const [kind, list] of [
    ["set", spec.set ?? []],
    ["add", spec.add ?? []],
  ] as const) {
    list.forEach((h, i) => {
      checkName(`${kind}[${i}].name`, h.name);
      const err = validateHeaderValue(h.value);
      if (err !== undefined) throw new HeaderRuleError(`${kind}[${i}].value`, err);
      if (kind === "set") drop.add(h.name.toLowerCase());
      append.push(h.name.toLowerCase(), h.value);
    });
  }
  if (drop.size === 0 && append.length === 0) return NO_HEADER_RULES;
  return Object.freeze({ drop, append: Object.freeze(append) });
}

export interface UpstreamRequestOptions {
  /** Host to send: the client's Host when the route preserves it, else the target's host[:port]. */
  readonly host: string;
  /** The TCP peer (or the PROXY protocol source). */
  readonly peer: string;
  /** The peer is a trusted proxy: its X-Forwarded-For is extended, its Forwarded/X-Forwarded-* kept. */
  readonly peerTrusted: boolean;
  /** The resolved client IP (client-ip.ts), sent as X-Real-IP. */
  readonly clientIp: string;
  /** The listener's protocol, for X-Forwarded-Proto. */
  readonly proto: "http" | "https";
  /** The Host the client sent, for X-Forwarded-Host; undefined when it sent none. */
  readonly originalHost: string | undefined;
  /** req.httpVersion ("1.1", "1.0"), the protocol Via reports as received. */
  readonly httpVersion: string;
  readonly rules?: HeaderRules | undefined;
  /** Via pseudonym (route option add_via); undefined = no Via, as nginx, Caddy, Traefik and HAProxy. */
  readonly via?: string | undefined;
}

/**
 * Request headers for the upstream, in order: host; the client's end-to-end headers (hop-by-hop,
 * Connection-named, Host and X-Real-IP dropped; X-Forwarded-For and the other forwarding headers
 * dropped unless the peer is trusted); then x-forwarded-for (chain + peer if trusted, else the
 * peer alone), x-forwarded-proto and x-forwarded-host (unless a trusted peer sent them),
 * x-real-ip, via "<version> warren" when asked; then the route's set/add headers. The route's
 * remove/set names drop Warren's headers too. Upgrade/Connection never appear: for an upgrade, pass
 * the token to undici's `upgrade` option, which writes both. Expect never does: Warren answers
 * 100-continue itself (and undici refuses the header).
 */
export function buildUpstreamRequestHeaders(raw: RawHeaders, o: UpstreamRequestOptions): string[] {
  const rules = o.rules ?? NO_HEADER_RULES;
  const drop = rules.drop;
  const conn = connectionTokens(raw);
  const out: string[] = ["host", o.host];
  let chain: string | undefined;
  let sawProto = false;
  let sawHost = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === "host" || lower === "x-real-ip" || lower === "expect" || drop.has(lower)) continue;
    if (conn !== undefined && conn.has(lower)) continue;
    if (lower === "x-forwarded-for") {
      if (o.peerTrusted) chain = chain === undefined ? raw[i + 1]! : `${chain}, ${raw[i + 1]!}`;
      continue;
    }
    if (FORWARDING.has(lower)) {
      if (!o.peerTrusted) continue;
      if (lower === "x-forwarded-proto") sawProto = true;
      else if (lower === "x-forwarded-host") sawHost = true;
    }
    out.push(name, raw[i + 1]!);
  }
  const peer = canonicalIp(o.peer);
  if (!drop.has("x-forwarded-for")) {
    const c = chain?.trim();
    out.push("x-forwarded-for", c ? `${c}, ${peer}` : peer);
  }
  if (!sawProto && !drop.has("x-forwarded-proto")) out.push("x-forwarded-proto", o.proto);
  if (!sawHost && o.originalHost !== undefined && !drop.has("x-forwarded-host")) out.push("x-forwarded-host", o.originalHost);
  if (!drop.has("x-real-ip")) out.push("x-real-ip", o.clientIp);
  if (o.via !== undefined && !drop.has("via")) out.push("via", `${viaVersion(o.httpVersion)} ${o.via}`);
  for (let i = 0; i < rules.append.length; i++) out.push(rules.append[i]!);
  return out;
}

export interface DownstreamResponseOptions {
  readonly rules?: HeaderRules | undefined;
  /** Via pseudonym (route option add_via), or false / undefined for none (the default). */
  readonly via?: string | false | undefined;
  /** Protocol version of the upstream response (undici speaks HTTP/1.1). */
  readonly httpVersion?: string | undefined;
  /** A 101 response being relayed: keep Upgrade and send "connection: upgrade". */
  readonly upgrade?: boolean | undefined;
}

/**
 * Response headers for the client: the upstream's end-to-end headers (hop-by-hop and
 * Connection-named dropped; Transfer-Encoding is Node's to decide), via, then the route's set/add
 * headers (HSTS is a `set` rule, see hstsValue).
 */
/** A parsed header object (undici's) as flat [name, value, ...], one pair per value. */
export function flatHeaders(h: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  for (const k in h) {
    const v = h[k];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push(k, x);
    else out.push(k, v);
  }
  return out;
}

export function buildDownstreamResponseHeaders(raw: RawHeaders, o: DownstreamResponseOptions = {}): string[] {
  const rules = o.rules ?? NO_HEADER_RULES;
  const drop = rules.drop;
  const conn = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (o.upgrade && lower === "upgrade") {
      out.push(name, raw[i + 1]!);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || drop.has(lower) || (conn !== undefined && conn.has(lower))) continue;
    out.push(name, raw[i + 1]!);
  }
  if (o.upgrade) out.push("connection", "upgrade");
  if (typeof o.via === "string" && !drop.has("via")) out.push("via", `${viaVersion(o.httpVersion ?? "1.1")} ${o.via}`);
  for (let i = 0; i < rules.append.length; i++) out.push(rules.append[i]!);
  return out;
}

function viaVersion(v: string): string {
  return v === "1.1" ? "1.1" : v === "1.0" ? "1.0" : v === "2.0" || v === "2" ? "2" : v;
}

/** The Strict-Transport-Security value for a route's HSTS option. */
export function hstsValue(o: { maxAgeSeconds: number; includeSubDomains?: boolean; preload?: boolean }): string {
  let v = `max-age=${Math.max(0, Math.floor(o.maxAgeSeconds))}`;
  if (o.includeSubDomains) v += "; includeSubDomains";
  if (o.preload) v += "; preload";
  return v;
}

/** First value of a header in a raw array (case-insensitive name), or undefined. */
export function rawHeaderValue(raw: RawHeaders, lowerName: string): string | undefined {
  const n = lowerName.length;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === n && name.toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}
