import { domainToASCII } from "node:url";
import { DNS_LABEL_RE, MAX_DNS_NAME } from "../../lib/host-name.ts";
import { ipVersion } from "../../lib/ip.ts";

/** A server-certificate host: a DNS name or an IP literal, in canonical form. */
export interface HostName {
  kind: "dns" | "ip";
  /** Canonical text: lower-case ASCII DNS name, dotted IPv4, or compressed lower-case IPv6. */
  value: string;
  /** Comparison key, e.g. "dns:localhost", "ip:::1". */
  key: string;
}

/**
 * Canonicalizes one host. IPv4/IPv6 literals (IPv6 optionally in brackets) become
 * IP entries; everything else must be a valid DNS name (IDN converted to
 * punycode, trailing dot dropped, a leading "*." wildcard label allowed).
 * Throws TypeError for anything else (ports, zone ids, URLs, spaces…).
 */
export function normalizeHost(raw: string): HostName {
  if (typeof raw !== "string") throw new TypeError("host must be a string");
  let v = raw.trim();
  if (v.startsWith("[") && v.endsWith("]")) v = v.slice(1, -1);
  if (ipVersion(v) === 4) {
    const value = v.split(".").map((p) => String(Number(p))).join(".");
    return { kind: "ip", value, key: `ip:${value}` };
  }
  if (v.includes(":") && (v.includes("%") || ipVersion(v) === 6)) {
    if (v.includes("%")) throw new TypeError(`IPv6 zone ids are not allowed in certificates: ${JSON.stringify(raw)}`);
    // WHATWG URL serializes IPv6 canonically (RFC 5952, lower-case, embedded IPv4 as hex).
    const value = new URL(`http://[${v}]/`).hostname.slice(1, -1);
    return { kind: "ip", value, key: `ip:${value}` };
  }
  let name = v.toLowerCase();
  if (name.endsWith(".")) name = name.slice(0, -1);
  let wildcard = false;
  if (name.startsWith("*.")) {
    wildcard = true;
    name = name.slice(2);
  }
  const ascii = /^[\x21-\x7e]*$/.test(name) ? name : domainToASCII(name);
  const labels = ascii.split(".");
  if (!ascii || ascii.length > MAX_DNS_NAME || !labels.every((l) => DNS_LABEL_RE.test(l))) {
    throw new TypeError(`not a valid DNS name or IP address: ${JSON.stringify(raw)}`);
  }
  const value = wildcard ? `*.${ascii}` : ascii;
  return { kind: "dns", value, key: `dns:${value}` };
}

/** Normalizes and de-duplicates a host list, keeping first-seen order. Throws TypeError on an empty list. */
export function normalizeHosts(hosts: readonly string[]): HostName[] {
  if (!Array.isArray(hosts)) throw new TypeError("hosts must be an array");
  const seen = new Map<string, HostName>();
  for (const h of hosts) {
    const n = normalizeHost(h);
    if (!seen.has(n.key)) seen.set(n.key, n);
  }
  if (seen.size === 0) throw new TypeError("at least one host is required");
  return [...seen.values()];
}

/** True when both lists cover exactly the same hosts (order- and case-insensitive). */
export function sameHostSet(a: readonly HostName[], b: readonly HostName[]): boolean {
  const ka = new Set(a.map((h) => h.key));
  const kb = new Set(b.map((h) => h.key));
  if (ka.size !== kb.size) return false;
  for (const k of ka) if (!kb.has(k)) return false;
  return true;
}
