// Host patterns for routes (and policy scopes): "app.example.com" (exact) or "*.example.com"
// (any name with at least one more label in front — any depth — but never the apex).
import { dnsNameError, normalizeHost } from "../../lib/host-name.ts";
import { ipVersion } from "../../lib/ip.ts";

export { normalizeHost };

export type HostPattern =
  | { readonly kind: "exact"; readonly host: string }
  /** `suffix` keeps its leading dot: "*.example.com" → ".example.com". */
  | { readonly kind: "wildcard"; readonly suffix: string };


/** An error message for an invalid host pattern, or undefined when it is valid. */
export function validateHostPattern(s: string): string | undefined {
  if (s.length === 0) return "must not be empty (use an empty host list to match any host)";
  if (/\s/.test(s)) return "must not contain spaces";
  if (s.includes("://")) return "must be a host name without a scheme";
  if (s.includes("/")) return "must be a host name without a path";
  if (s === "*" || s === "*.") return "a lone * is not allowed (use an empty host list to match any host)";
  if (s.startsWith("[")) {
    if (!s.endsWith("]")) return "an IPv6 address must be written as [address] without a port";
    return ipVersion(s.slice(1, -1)) === 6 ? undefined : "is not a valid IPv6 address";
  }
  if (s.includes(":")) return "must not contain a port";
  let name = s.toLowerCase();
  if (name.startsWith("*.")) name = name.slice(2);
  if (name.includes("*")) return "may contain * only as the whole first label (*.example.com)";
  return dnsNameError(name);
}

/** Parses a pattern that passed validateHostPattern; throws on an invalid one. */
export function parseHostPattern(s: string): HostPattern {
  const err = validateHostPattern(s);
  if (err !== undefined) throw new TypeError(`host pattern ${JSON.stringify(s)}: ${err}`);
  let p = s.toLowerCase();
  if (p.endsWith(".")) p = p.slice(0, -1);
  return p.startsWith("*.") ? { kind: "wildcard", suffix: p.slice(1) } : { kind: "exact", host: p };
}

/** `host` must already be normalized (normalizeHost). */
export function hostMatches(pattern: HostPattern, host: string): boolean {
  if (pattern.kind === "exact") return host === pattern.host;
  return host.length > pattern.suffix.length && host.endsWith(pattern.suffix);
}
