// Who the client is (DESIGN.md §5 stage 2): the TCP peer, unless the peer is a trusted proxy
// (TRUSTED_PROXIES), in which case X-Forwarded-For is believed back to the first untrusted hop.
// On listeners that accept the PROXY protocol, the listener passes the PROXY header's source as
// `peer` (the L4 balancer in front is trusted by configuration, not by TRUSTED_PROXIES).
import { CidrSet } from "../lib/cidr-set.ts";
import { canonicalIp, ipVersion, parseIPv6 } from "../lib/ip.ts";

export { canonicalIp };

export class TrustedProxiesError extends Error {
  override name = "TrustedProxiesError";
  constructor(
    /** The entry as written. */
    readonly entry: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TrustedProxies {
  /** No entries: nobody is trusted and clientIp() is always the peer. */
  readonly isEmpty: boolean;
  /** The entries as given, for logs and the UI. */
  readonly entries: readonly string[];
  /** `ip` in any textual form (IPv4-mapped IPv6 counts as IPv4); false for anything not an IP. */
  contains(ip: string): boolean;
}

class CidrTrust implements TrustedProxies {
  constructor(
    private readonly set: CidrSet,
    readonly entries: readonly string[],
  ) {}
  get isEmpty(): boolean {
    return this.entries.length === 0;
  }
  contains(ip: string): boolean {
    return this.set.contains(ip);
  }
}

/**
 * Parses TRUSTED_PROXIES: comma-separated IPs and CIDRs ("10.0.0.0/8, 192.168.1.7, fd00::/8").
 * Blank entries are ignored; an empty string trusts nobody. Throws TrustedProxiesError naming the
 * first bad entry.
 */
export function parseTrustedProxies(value: string | readonly string[]): TrustedProxies {
  const parts = typeof value === "string" ? value.split(",") : value;
  const set = new CidrSet();
  const entries: string[] = [];
  for (const raw of parts) {
    const entry = raw.trim();
    if (entry === "") continue;
    const err = set.add(entry);
    if (err !== undefined) throw new TrustedProxiesError(entry, `"${entry}": ${err}`);
    entries.push(entry);
  }
  return new CidrTrust(set, entries);
}

export const TRUST_NOBODY: TrustedProxies = parseTrustedProxies("");

/**
 * One X-Forwarded-For entry as an IP, or undefined when malformed. Accepts what proxies write in
 * practice: "1.2.3.4", "1.2.3.4:5678", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:443".
 */
export function parseForwardedEntry(entry: string): string | undefined {
  let s = entry.trim();
  if (s.length === 0 || s.length > 64) return undefined;
  if (s.charCodeAt(0) === 91 /* [ */) {
    const close = s.indexOf("]");
    if (close < 0) return undefined;
    const rest = s.slice(close + 1);
    if (rest !== "" && !isPortSuffix(rest)) return undefined;
    s = s.slice(1, close);
    return parseIPv6(s) ? canonicalIp(s) : undefined;
  }
  if (ipVersion(s) !== 0) return canonicalIp(s);
  const colon = s.indexOf(":");
  if (colon > 0 && s.indexOf(":", colon + 1) < 0 && isPortSuffix(s.slice(colon))) {
    const host = s.slice(0, colon);
    if (ipVersion(host) === 4) return host;
  }
  return undefined;
}

function isPortSuffix(s: string): boolean {
  return /^:[0-9]{1,5}$/.test(s) && Number(s.slice(1)) <= 65535;
}

/**
 * The client's IP.
 * - Peer not trusted (or nothing trusted): the peer.
 * - Peer trusted: walk X-Forwarded-For from the right (the last header line's last entry is the
 *   nearest hop), skipping trusted addresses; the first untrusted one is the client. If every entry
 *   is trusted, the left-most entry. With no X-Forwarded-For, the peer.
 * - A malformed entry (not an IP, IP:port or [IPv6]:port; an empty one too) stops the walk: it
 *   was written by the trusted hop to its right, so nothing left of it can be vouched for. The
 *   answer is then the nearest address that could be (the trusted hop right of it, or the peer).
 *   Skipping it instead would let a client choose its IP. Never throws.
 * `xff` is req.headers["x-forwarded-for"] (node:http joins repeats with ", ") or the raw values.
 * IPv4-mapped IPv6 addresses come back as IPv4.
 */
export function clientIp(peer: string, xff: string | readonly string[] | undefined, trusted: TrustedProxies): string {
  const p = canonicalIp(peer);
  if (xff === undefined || trusted.isEmpty || !trusted.contains(p)) return p;
  let nearest = p;
  const lines = typeof xff === "string" ? 1 : xff.length;
  for (let h = lines - 1; h >= 0; h--) {
    const value = typeof xff === "string" ? xff : xff[h]!;
    if (value.trim() === "") continue;
    let end = value.length;
    while (end >= 0) {
      const comma = end === 0 ? -1 : value.lastIndexOf(",", end - 1);
      const ip = parseForwardedEntry(value.slice(comma + 1, end));
      if (ip === undefined) return nearest;
      if (!trusted.contains(ip)) return ip;
      nearest = ip;
      if (comma < 0) break;
      end = comma;
    }
  }
  return nearest;
}

/**
 * The X-Forwarded-For to send upstream: the incoming chain plus the peer when the peer is trusted,
 * otherwise only the peer (a spoofed chain from an untrusted client is dropped, not extended).
 */
export function forwardedFor(peer: string, xff: string | readonly string[] | undefined, peerTrusted: boolean): string {
  const p = canonicalIp(peer);
  if (!peerTrusted || xff === undefined) return p;
  const chain = typeof xff === "string" ? xff.trim() : xff.map((v) => v.trim()).filter((v) => v !== "").join(", ");
  return chain === "" ? p : `${chain}, ${p}`;
}
