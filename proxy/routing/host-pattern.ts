// Host patterns for routes (and policy scopes): "app.example.com" (exact) or "*.example.com"
// (any name with at least one more label in front — any depth — but never the apex).
import net from "node:net";

export type HostPattern =
  | { readonly kind: "exact"; readonly host: string }
  /** `suffix` keeps its leading dot: "*.example.com" → ".example.com". */
  | { readonly kind: "wildcard"; readonly suffix: string };

const LABEL_RE = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const MAX_NAME = 253;

/** An error message for an invalid host pattern, or undefined when it is valid. */
export function validateHostPattern(s: string): string | undefined {
  if (s.length === 0) return "must not be empty (use an empty host list to match any host)";
  if (/\s/.test(s)) return "must not contain spaces";
  if (s.includes("://")) return "must be a host name without a scheme";
  if (s.includes("/")) return "must be a host name without a path";
  if (s === "*" || s === "*.") return "a lone * is not allowed (use an empty host list to match any host)";
  if (s.startsWith("[")) {
    if (!s.endsWith("]")) return "an IPv6 address must be written as [address] without a port";
    return net.isIPv6(s.slice(1, -1)) ? undefined : "is not a valid IPv6 address";
  }
  if (s.includes(":")) return "must not contain a port";
  let name = s.toLowerCase();
  if (name.startsWith("*.")) name = name.slice(2);
  if (name.includes("*")) return "may contain * only as the whole first label (*.example.com)";
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name.length === 0) return "must name a domain";
  if (name.length > MAX_NAME) return `must be at most ${MAX_NAME} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(name)) return "must be ASCII (write internationalized names in their xn-- form)";
  for (const label of name.split(".")) {
    if (label.length === 0) return "must not contain empty labels";
    if (label.length > 63) return "labels must be at most 63 characters";
    if (!LABEL_RE.test(label)) return `label "${label}" may contain only letters, digits, - and _ and must not start or end with -`;
  }
  return undefined;
}

/** Parses a pattern that passed validateHostPattern; throws on an invalid one. */
export function parseHostPattern(s: string): HostPattern {
  const err = validateHostPattern(s);
  if (err !== undefined) throw new TypeError(`host pattern ${JSON.stringify(s)}: ${err}`);
  let p = s.toLowerCase();
  if (p.endsWith(".")) p = p.slice(0, -1);
  return p.startsWith("*.") ? { kind: "wildcard", suffix: p.slice(1) } : { kind: "exact", host: p };
}

/**
 * The host part of a Host header (or URI authority) as routes compare it: lower case, without the
 * port and without one trailing dot. "[::1]:8080" → "[::1]". Returns the input itself (no
 * allocation) when it is already in that form. Does not validate (hygiene does that first).
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

/** `host` must already be normalized (normalizeHost). */
export function hostMatches(pattern: HostPattern, host: string): boolean {
  if (pattern.kind === "exact") return host === pattern.host;
  return host.length > pattern.suffix.length && host.endsWith(pattern.suffix);
}
