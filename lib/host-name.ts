// Host names: the one place Warren says what a DNS name, a Host header value and a URI authority
// are. Routes, policy scopes, certificates, the agent allowlist and request hygiene all use this.
import { ipVersion, parseIPv4 } from "./ip.ts";

/** One label: letters, digits, "-" and "_" (seen in real names), not starting or ending with "-". */
export const DNS_LABEL_RE = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;
export const MAX_DNS_NAME = 253;

/**
 * Why `name` is not an ASCII DNS name, or undefined when it is. One trailing dot is allowed (the
 * root). IP literals are not names; callers that accept them check them first.
 */
export function dnsNameError(name: string): string | undefined {
  let n = name;
  if (n.endsWith(".")) n = n.slice(0, -1);
  if (n.length === 0) return "must name a domain";
  if (n.length > MAX_DNS_NAME) return `must be at most ${MAX_DNS_NAME} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(n)) return "must be ASCII (write internationalized names in their xn-- form)";
  for (const label of n.split(".")) {
    if (label.length === 0) return "must not contain empty labels";
    if (label.length > 63) return "labels must be at most 63 characters";
    if (!DNS_LABEL_RE.test(label)) return `label "${label}" may contain only letters, digits, - and _ and must not start or end with -`;
  }
  return undefined;
}

export function isDnsName(name: string): boolean {
  return dnsNameError(name) === undefined;
}

/**
 * The host part of a Host header (or URI authority) as Warren compares it: lower case, without the
 * port and without one trailing dot. "[::1]:8080" → "[::1]". Returns the input itself (no
 * allocation) when it is already in that form. Does not validate (parseAuthority does).
 */
export function normalizeHost(value: string): string {
  const n = value.length;
  let needs = false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c === 58 /* : */) {
      needs = true;
      break;
    }
  }
  if (!needs && !(n > 0 && value.charCodeAt(n - 1) === 46)) return value;
  let host = value;
  if (host.charCodeAt(0) === 91 /* [ */) {
    const end = host.indexOf("]");
    if (end > 0) host = host.slice(0, end + 1);
  } else {
    const colon = host.indexOf(":");
    if (colon >= 0) host = host.slice(0, colon);
  }
  host = host.toLowerCase();
  if (host.length > 1 && host.charCodeAt(host.length - 1) === 46) host = host.slice(0, -1);
  return host;
}

export interface Authority {
  /** Normalized (normalizeHost): lower case, no trailing dot, IPv6 in brackets. */
  readonly host: string;
  readonly port: number | undefined;
}

const LABEL_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[a-zA-Z0-9_-]/.test(ch)) LABEL_CHAR[c] = 1;
}

/** A Host-header name without allocation: labels of [a-zA-Z0-9_-], not starting or ending with "-". */
function isHostName(value: string, start: number, end: number): boolean {
  if (end > start && value.charCodeAt(end - 1) === 46) end--; // one trailing dot
  const len = end - start;
  if (len === 0 || len > MAX_DNS_NAME) return false;
  let labelStart = start;
  for (let i = start; i <= end; i++) {
    const c = i === end ? 46 : value.charCodeAt(i);
    if (c === 46) {
      const l = i - labelStart;
      if (l === 0 || l > 63) return false;
      if (value.charCodeAt(labelStart) === 45 || value.charCodeAt(i - 1) === 45) return false;
      labelStart = i + 1;
    } else if (c >= 128 || LABEL_CHAR[c] !== 1) {
      return false;
    }
  }
  return true;
}

/**
 * Parses a Host value or URI authority: a DNS name (letters, digits, "-", "_"; labels ≤ 63,
 * total ≤ 253, one trailing dot allowed), an IPv4 address or a bracketed IPv6 address, optionally
 * with ":port" (1–65535). No userinfo. Returns undefined when invalid.
 */
export function parseAuthority(value: string): Authority | undefined {
  const n = value.length;
  if (n === 0 || n > 260) return undefined;
  let hostEnd: number;
  let portStart = -1;
  if (value.charCodeAt(0) === 91 /* [ */) {
    const close = value.indexOf("]");
    if (close < 0 || ipVersion(value.slice(1, close)) !== 6) return undefined;
    hostEnd = close + 1;
    if (hostEnd < n) {
      if (value.charCodeAt(hostEnd) !== 58) return undefined;
      portStart = hostEnd + 1;
    }
  } else {
    const colon = value.indexOf(":");
    hostEnd = colon < 0 ? n : colon;
    if (colon >= 0) portStart = colon + 1;
    if (!isHostName(value, 0, hostEnd) && parseIPv4(value, 0, hostEnd) < 0) return undefined;
  }
  let port: number | undefined;
  if (portStart >= 0) {
    const len = n - portStart;
    if (len < 1 || len > 5) return undefined;
    port = 0;
    for (let i = portStart; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
      port = port * 10 + (c - 48);
    }
    if (port < 1 || port > 65535) return undefined;
  }
  return { host: normalizeHost(value.slice(0, hostEnd)), port };
}
