// Request hygiene: what is rejected with 400 before routing (DESIGN.md §5 stage 1). Pure checks over
// the request target as received (req.url) and the raw header array; they return a stable code
// instead of throwing, so a flood of bad requests costs no stack traces.
//
// Two steps, because one rule depends on the route:
//   1. checkRequestTarget + checkHostHeader + checkFraming — route-independent;
//   2. encoded separators — TargetOk.encodedSeparator, decided by the route stage once the route is
//      known, since `%2F`/`%5C` are allowed per route (and refused where no route matches).
// What is forwarded is always the raw target (TargetOk.forwardTarget); routingPath is only for
// routing and policy scopes.
import { parseAuthority } from "../lib/host-name.ts";
import type { ErrorCode } from "../lib/errors.ts";
import { normalizePath } from "./routing/path-prefix.ts";

export { normalizePath };

export type HygieneCode = Extract<
  ErrorCode,
  | "bad_request_target"
  | "path_dot_segment"
  | "path_backslash"
  | "path_encoded_separator"
  | "path_bad_encoding"
  | "target_control_char"
  | "absolute_uri_host_mismatch"
  | "missing_host"
  | "duplicate_host"
  | "bad_host"
  | "bad_framing"
>;

export interface TargetOk {
  readonly ok: true;
  /** RFC 9112 §3.2: origin-form "/p?q", absolute-form "http://h/p?q", asterisk-form "*" (OPTIONS). */
  readonly form: "origin" | "absolute" | "asterisk";
  /** The path as received, without the query ("*" for asterisk-form; "/" for "http://h"). */
  readonly path: string;
  /** The query as received, with its "?", or "". */
  readonly query: string;
  /** What to send upstream: the raw origin-form target (absolute-form reduced to path + query). */
  readonly forwardTarget: string;
  /** normalizePath(path): for routing and policy scopes only, never forwarded. */
  readonly routingPath: string;
  /** The path contains %2F or %5C; the route stage decides once the route is known. */
  readonly encodedSeparator: boolean;
}

export type TargetCheck = TargetOk | { readonly ok: false; readonly code: HygieneCode };

// scanPath results: >= 0 ok (bit 0 = encoded separator seen), < 0 a failure.
const E_CONTROL = -1;
const E_BACKSLASH = -2;
const E_ENCODING = -3;
const E_DOT = -4;
const E_TARGET = -5;

const SCAN_CODES: Record<number, HygieneCode> = {
  [E_CONTROL]: "target_control_char",
  [E_BACKSLASH]: "path_backslash",
  [E_ENCODING]: "path_bad_encoding",
  [E_DOT]: "path_dot_segment",
  [E_TARGET]: "bad_request_target",
};

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * One pass over a path (no query). Rejects:
 * - raw control characters (< 0x20, 0x7f) and encoded ones (%00–%1F, %7F),
 * - space and "#" (not allowed in a request target),
 * - a raw backslash,
 * - "%" not followed by two hex digits, and %C0/%C1 (only ever overlong UTF-8 for ASCII, the
 *   classic "%C0%AE" dot bypass),
 * - dot segments: a segment that is "." or ".." once %2E is decoded. Segments end at "/", and also at
 *   %2F and %5C (an upstream that decodes them would see the dots as a segment), and the part
 *   before a ";" counts as the segment ("/..;/x" is ".." to Tomcat-style path parameters).
 */
function scanPath(path: string, start: number, end: number): number {
  let encSep = 0;
  let dots = 0;
  let other = false;
  let inParam = false;
  for (let i = start; i <= end; i++) {
    // i === end acts as a final segment boundary.
    let c = i === end ? 47 : path.charCodeAt(i);
    let boundary = c === 47;
    if (c === 37 /* % */) {
      if (i + 2 >= end) return E_ENCODING;
      const h = hexVal(path.charCodeAt(i + 1));
      const l = hexVal(path.charCodeAt(i + 2));
      if (h < 0 || l < 0) return E_ENCODING;
      const b = (h << 4) | l;
      i += 2;
      if (b < 0x20 || b === 0x7f) return E_CONTROL;
      if (b === 0xc0 || b === 0xc1) return E_ENCODING;
      if (b === 0x2f || b === 0x5c) {
        encSep = 1;
        boundary = true;
      } else if (b === 0x2e) {
        c = 46;
      } else {
        c = -1; // any other encoded byte is an ordinary character here (an encoded ";" is not a delimiter)
      }
    } else if (c < 0x20 || c === 0x7f) {
      return E_CONTROL;
    } else if (c === 92 /* \ */) {
      return E_BACKSLASH;
    } else if (c === 32 || c === 35 /* # */) {
      return E_TARGET;
    }
    if (boundary || (c === 59 /* ; */ && !inParam)) {
      if (!inParam && !other && (dots === 1 || dots === 2)) return E_DOT;
      if (boundary) {
        dots = 0;
        other = false;
        inParam = false;
      } else {
        inParam = true;
      }
    } else if (!inParam) {
      if (c === 46) dots++;
      else other = true;
    }
  }
  return encSep;
}

/** Raw control characters, space and "#" in the query; its percent-encoding is the origin's business. */
function scanQuery(target: string, start: number): number {
  for (let i = start; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return E_CONTROL;
    if (c === 32 || c === 35) return E_TARGET;
  }
  return 0;
}

function fail(code: HygieneCode): TargetCheck {
  return { ok: false, code };
}

/**
 * Route-independent checks of the request target (req.url as received).
 * `hostHeader` is the Host value (if any); an absolute-form target must name the same host and port.
 */
export function checkRequestTarget(target: string, method: string, hostHeader: string | undefined): TargetCheck {
  const first = target.charCodeAt(0);
  if (first === 47 /* / */) {
    let q = target.indexOf("?");
    if (q < 0) q = target.length;
    return finish("origin", target, 0, q);
  }
  if (target === "*") {
    if (method !== "OPTIONS") return fail("bad_request_target");
    return { ok: true, form: "asterisk", path: "*", query: "", forwardTarget: "*", routingPath: "*", encodedSeparator: false };
  }
  return checkAbsoluteForm(target, hostHeader);
}

function finish(form: "origin" | "absolute", target: string, pathStart: number, q: number): TargetCheck {
  const r = scanPath(target, pathStart, q);
  if (r < 0) return fail(SCAN_CODES[r]!);
  if (q < target.length) {
    const rq = scanQuery(target, q + 1);
    if (rq < 0) return fail(SCAN_CODES[rq]!);
  }
  const path = pathStart === q ? "/" : target.slice(pathStart, q);
  const query = target.slice(q);
  const forwardTarget = pathStart === 0 ? target : pathStart === q ? "/" + query : target.slice(pathStart);
  return { ok: true, form, path, query, forwardTarget, routingPath: normalizePath(path), encodedSeparator: r === 1 };
}

function checkAbsoluteForm(target: string, hostHeader: string | undefined): TargetCheck {
  const sep = target.indexOf("://");
  if (sep < 0) return fail("bad_request_target");
  const scheme = target.slice(0, sep).toLowerCase();
  if (scheme !== "http" && scheme !== "https") return fail("bad_request_target");
  const authStart = sep + 3;
  let authEnd = authStart;
  while (authEnd < target.length) {
    const c = target.charCodeAt(authEnd);
    if (c === 47 || c === 63 /* ? */ || c === 35 /* # */) break;
    authEnd++;
  }
  const authority = parseAuthority(target.slice(authStart, authEnd));
  if (authority === undefined) return fail("bad_request_target");
  if (hostHeader !== undefined) {
    const h = parseAuthority(hostHeader);
    const defPort = scheme === "https" ? 443 : 80;
    if (h === undefined || h.host !== authority.host || (h.port ?? defPort) !== (authority.port ?? defPort)) {
      return fail("absolute_uri_host_mismatch");
    }
  }
  if (authEnd < target.length && target.charCodeAt(authEnd) === 35) return fail("bad_request_target");
  let q = target.indexOf("?", authEnd);
  if (q < 0) q = target.length;
  return finish("absolute", target, authEnd, q);
}

export { parseAuthority };

export type HostCheck =
  | {
      readonly ok: true;
      /** Normalized host name for routing ("" when an HTTP/1.0 request has none). */
      readonly host: string;
      readonly port: number | undefined;
      /** The header value as received (undefined when absent). */
      readonly value: string | undefined;
    }
  | { readonly ok: false; readonly code: "missing_host" | "duplicate_host" | "bad_host" };

/**
 * The Host header from req.rawHeaders (node:http keeps only the first Host in req.headers, so the
 * raw array is the only place a duplicate shows). Required for HTTP/1.1 and later; exactly one.
 */
export function checkHostHeader(rawHeaders: readonly string[], httpVersion: string): HostCheck {
  let value: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 4 && name.toLowerCase() === "host") {
      if (value !== undefined) return { ok: false, code: "duplicate_host" };
      value = rawHeaders[i + 1] ?? "";
    }
  }
  if (value === undefined) {
    if (httpVersion === "1.0" || httpVersion === "0.9") return { ok: true, host: "", port: undefined, value: undefined };
    return { ok: false, code: "missing_host" };
  }
  const a = parseAuthority(value);
  if (a === undefined) return { ok: false, code: value.length === 0 ? "missing_host" : "bad_host" };
  return { ok: true, host: a.host, port: a.port, value };
}

/**
 * Message framing, defence in depth behind llhttp (which rejects most of this already, but lets a
 * request with `Transfer-Encoding: gzip` through before failing): Content-Length must be digits and
 * agree across repeats; Transfer-Encoding must end in "chunked"; both together are refused.
 */
export function checkFraming(rawHeaders: readonly string[]): "bad_framing" | undefined {
  let cl: string | undefined;
  let te: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      for (const part of rawHeaders[i + 1]!.split(",")) {
        const v = trimOws(part);
        if (!/^[0-9]{1,15}$/.test(v)) return "bad_framing";
        if (cl !== undefined && cl !== v) return "bad_framing";
        cl = v;
      }
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      te = te === undefined ? rawHeaders[i + 1]! : `${te},${rawHeaders[i + 1]!}`;
    }
  }
  if (te === undefined) return undefined;
  if (cl !== undefined) return "bad_framing";
  const codings = te.toLowerCase().split(",");
  let chunked = 0;
  for (const c of codings) {
    const v = trimOws(c);
    if (v === "chunked") chunked++;
    else if (v === "" || !/^[!#$%&'*+.^_`|~0-9a-z-]+(\s*;.*)?$/.test(v)) return "bad_framing";
  }
  // Chunked exactly once and last (RFC 9112 §6.3): anything else cannot be framed safely.
  if (chunked !== 1 || trimOws(codings[codings.length - 1]!) !== "chunked") return "bad_framing";
  return undefined;
}

/** HTTP's optional whitespace is SP and HTAB only (String.prototype.trim also eats VT, NBSP, ...). */
function trimOws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, "");
}
