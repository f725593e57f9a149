// Which addresses the agent may dial (AGENT_ALLOW, DESIGN.md §4). Parsing and matching are pure;
// TargetPolicy adds DNS resolution so a host name is checked by the addresses it resolves to and
// the agent then dials exactly those addresses (no second lookup: no DNS rebinding window).
import { lookup as dnsLookup } from "node:dns/promises";
import { isDnsName } from "../lib/host-name.ts";
import { CidrSet } from "../lib/cidr-set.ts";
import { ipVersion, normalizeIp } from "../lib/ip.ts";

export type IpFamily = "ipv4" | "ipv6";

type HostMatcher =
  | { readonly kind: "any" }
  /** An IP address or CIDR block. */
  | { readonly kind: "net"; readonly set: CidrSet; readonly family: IpFamily }
  /** A host name glob (`*` matches any run of characters, dots included), lower case. */
  | { readonly kind: "glob"; readonly re: RegExp; readonly ipLike: boolean };

type PortMatcher = { readonly kind: "any" } | { readonly kind: "exact"; readonly port: number } | { readonly kind: "glob"; readonly re: RegExp };

export interface AllowRule {
  /** The entry as written in AGENT_ALLOW. */
  readonly text: string;
  readonly host: HostMatcher;
  readonly port: PortMatcher;
}

export class AllowlistError extends Error {
  override name = "AllowlistError";
  constructor(
    readonly entry: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_PORT = 65535;
const NAME_GLOB_RE = /^[a-z0-9*_-]+(\.[a-z0-9*_-]+)*\.?$/i;

function globRe(pattern: string): RegExp {
  const body = pattern
    .split("*")
    .map((s) => s.replace(/[.+?^${}()|[\]\\-]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${body}$`, "i");
}

function familyOf(ip: string): IpFamily | undefined {
  const v = ipVersion(ip);
  return v === 4 ? "ipv4" : v === 6 ? "ipv6" : undefined;
}

/** `::ffff:10.0.0.1` is dialled as (and checked as) 10.0.0.1; IPv6 in one spelling, so globs and logs agree. */
export function canonicalIp(ip: string): { address: string; family: IpFamily } | undefined {
  const n = normalizeIp(ip);
  return n === undefined ? undefined : { address: n.address, family: n.version === 4 ? "ipv4" : "ipv6" };
}

function parseNet(entry: string, text: string): HostMatcher | undefined {
  const slash = text.indexOf("/");
  const ipText = slash < 0 ? text : text.slice(0, slash);
  const ip = canonicalIp(ipText);
  if (ip === undefined) return undefined;
  const set = new CidrSet();
  if (slash < 0) {
    set.add(ip.address);
  } else {
    const prefixText = text.slice(slash + 1);
    const max = ip.family === "ipv4" ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
      throw new AllowlistError(entry, `"${entry}": prefix length must be 0–${max}`);
    }
    // A v4-mapped base address with a v6 prefix length would be confusing: ask for the v4 form.
    if (ip.family === "ipv4" && familyOf(ipText) === "ipv6") {
      throw new AllowlistError(entry, `"${entry}": write IPv4 blocks as a.b.c.d/n`);
    }
    set.add(`${ip.address}/${prefixText}`);
  }
  return { kind: "net", set, family: ip.family };
}

function parseHost(entry: string, text: string): HostMatcher {
  if (text === "*") return { kind: "any" };
  const n = parseNet(entry, text);
  if (n !== undefined) return n;
  if (text.includes("/")) throw new AllowlistError(entry, `"${entry}": "${text}" is not a valid CIDR block`);
  if (!NAME_GLOB_RE.test(text)) throw new AllowlistError(entry, `"${entry}": "${text}" is not a host name, IP address, CIDR block or glob`);
  const lower = text.toLowerCase().replace(/\.$/, "");
  return { kind: "glob", re: globRe(lower), ipLike: /^[0-9.*]+$/.test(lower) };
}

function parsePort(entry: string, text: string): PortMatcher {
  if (text === "*") return { kind: "any" };
  if (/^\d{1,5}$/.test(text)) {
    const port = Number(text);
    if (port < 1 || port > MAX_PORT) throw new AllowlistError(entry, `"${entry}": port must be 1–${MAX_PORT} or a glob such as 80*`);
    return { kind: "exact", port };
  }
  if (/^[0-9*]+$/.test(text)) return { kind: "glob", re: globRe(text) };
  throw new AllowlistError(entry, `"${entry}": port must be 1–${MAX_PORT} or a glob such as 80*`);
}

/**
 * One AGENT_ALLOW entry: a CIDR block or bare IP (any port), `host:port` where host is an IP, a CIDR
 * block, a host name or a glob (`*.internal`) and port is a number or a glob (`*`, `80*`); IPv6 hosts in
 * brackets (`[::1]:8080`, `[fd00::/8]:443`). `*` alone allows everything.
 */
export function parseAllowEntry(entry: string): AllowRule {
  const text = entry.trim();
  if (text === "") throw new AllowlistError(entry, "empty entry");
  if (text === "*") return { text, host: { kind: "any" }, port: { kind: "any" } };
  if (text.startsWith("[")) {
    const m = /^\[([^\]]+)\](?::([^:]+))?$/.exec(text);
    if (!m) throw new AllowlistError(entry, `"${text}": expected [IPv6]:port or [IPv6/prefix]:port`);
    const host = parseNet(text, m[1]!);
    if (host === undefined || host.kind !== "net" || host.family !== "ipv6") {
      throw new AllowlistError(entry, `"${text}": only IPv6 addresses go in brackets`);
    }
    return { text, host, port: m[2] === undefined ? { kind: "any" } : parsePort(text, m[2]) };
  }
  // Bare IP or CIDR, any port (a bare IPv6 address has colons, so this comes before host:port).
  const bare = /^[0-9a-f:.]+(\/\d+)?$/i.test(text) ? parseNet(text, text) : undefined;
  if (bare !== undefined) return { text, host: bare, port: { kind: "any" } };
  const colon = text.lastIndexOf(":");
  if (colon < 0) {
    if (text.includes("/")) throw new AllowlistError(entry, `"${text}" is not a valid CIDR block`);
    throw new AllowlistError(entry, `"${text}": expected a CIDR block, an IP address, or host:port (use ${text}:* for any port)`);
  }
  const hostText = text.slice(0, colon);
  if (hostText.includes(":")) throw new AllowlistError(entry, `"${text}": write IPv6 addresses in brackets, e.g. [::1]:8080`);
  if (hostText === "") throw new AllowlistError(entry, `"${text}": missing host before ":"`);
  return { text, host: parseHost(text, hostText), port: parsePort(text, text.slice(colon + 1)) };
}

/** Comma-separated AGENT_ALLOW. Throws AllowlistError naming the bad entry. */
export function parseAllowlist(spec: string): AllowRule[] {
  const entries = spec
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (entries.length === 0) throw new AllowlistError(spec, "no entries");
  return entries.map(parseAllowEntry);
}

// ---- targets -------------------------------------------------------------------------------------

export type Target =
  | { readonly kind: "ip"; readonly host: string; readonly family: IpFamily; readonly port: number }
  /** A host name, lower case, without a trailing dot. */
  | { readonly kind: "name"; readonly host: string; readonly port: number };

/** `host:port` or `[v6]:port` from an OpenStream, or undefined if malformed. */
export function parseTarget(address: string): Target | undefined {
  let hostText: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address);
  if (v6) {
    hostText = v6[1]!;
    portText = v6[2]!;
    if (familyOf(hostText) !== "ipv6") return undefined;
  } else {
    const colon = address.lastIndexOf(":");
    if (colon <= 0) return undefined;
    hostText = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (hostText.includes(":") || !/^\d{1,5}$/.test(portText)) return undefined;
  }
  const port = Number(portText);
  if (port < 1 || port > MAX_PORT) return undefined;
  const ip = canonicalIp(hostText);
  if (ip !== undefined) return { kind: "ip", host: ip.address, family: ip.family, port };
  if (!isDnsName(hostText)) return undefined;
  return { kind: "name", host: hostText.toLowerCase().replace(/\.$/, ""), port };
}

function portMatches(m: PortMatcher, port: number): boolean {
  switch (m.kind) {
    case "any":
      return true;
    case "exact":
      return m.port === port;
    case "glob":
      return m.re.test(String(port));
  }
}

/** Does a rule allow dialling this IP address on this port? */
export function ruleAllowsIp(rule: AllowRule, ip: { address: string; family: IpFamily }, port: number): boolean {
  if (!portMatches(rule.port, port)) return false;
  switch (rule.host.kind) {
    case "any":
      return true;
    case "net":
      return rule.host.family === ip.family && rule.host.set.contains(ip.address);
    case "glob":
      // "10.0.*:80" style globs apply to IPv4 text; name globs never match an address.
      return rule.host.ipLike && ip.family === "ipv4" && rule.host.re.test(ip.address);
  }
}

/** Does a rule allow this host name (whatever it resolves to) on this port? */
export function ruleAllowsName(rule: AllowRule, name: string, port: number): boolean {
  if (!portMatches(rule.port, port)) return false;
  switch (rule.host.kind) {
    case "any":
      return true;
    case "net":
      return false;
    case "glob":
      return !rule.host.ipLike && rule.host.re.test(name);
  }
}

/** An endpoint the agent must never dial in default mode: its own management server. */
export interface DeniedEndpoint {
  /** Host names (lower case) and IP addresses that mean this endpoint. */
  readonly names: readonly string[];
  readonly ips: readonly string[];
  readonly port: number;
}

export type Decision =
  | { readonly allowed: true; readonly addresses: ReadonlyArray<{ address: string; family: IpFamily }> }
  | { readonly allowed: false; readonly reason: string };

/**
 * The allowlist decision for a parsed target and (for names) the addresses it resolved to:
 * - an IP target is allowed if a rule allows that IP and port;
 * - a name is allowed if a rule allows the name (glob) and port, or if every resolved address is
 *   allowed on that port;
 * - anything that is, or resolves to, a denied endpoint is refused.
 * `rules === "all"` is the default (AGENT_ALLOW unset): everything except the denied endpoints.
 */
export function decide(
  rules: readonly AllowRule[] | "all",
  target: Target,
  resolved: ReadonlyArray<{ address: string; family: IpFamily }>,
  denied: readonly DeniedEndpoint[] = [],
): Decision {
  const addresses = target.kind === "ip" ? [{ address: target.host, family: target.family }] : resolved;
  if (addresses.length === 0) return { allowed: false, reason: `${target.host} resolved to no addresses` };
  for (const d of denied) {
    if (d.port !== target.port) continue;
    if (target.kind === "name" && d.names.includes(target.host)) return { allowed: false, reason: "the agent does not dial its own management server" };
    if (addresses.some((a) => d.ips.includes(a.address))) return { allowed: false, reason: "the agent does not dial its own management server" };
  }
  if (rules === "all") return { allowed: true, addresses };
  if (target.kind === "name" && rules.some((r) => ruleAllowsName(r, target.host, target.port))) return { allowed: true, addresses };
  const refused = addresses.find((a) => !rules.some((r) => ruleAllowsIp(r, a, target.port)));
  if (refused === undefined) return { allowed: true, addresses };
  const via = target.kind === "name" ? ` (${target.host} resolves to ${refused.address})` : "";
  return { allowed: false, reason: `not in AGENT_ALLOW${via}` };
}

/** Could any rule allow some address on this port? If not, a name need not even be resolved. */
function anyIpRuleFor(rules: readonly AllowRule[] | "all", port: number): boolean {
  return rules === "all" || rules.some((r) => portMatches(r.port, port) && (r.host.kind !== "glob" || r.host.ipLike));
}

export type LookupFn = (host: string) => Promise<Array<{ address: string; family: number }>>;

const defaultLookup: LookupFn = (host) => dnsLookup(host, { all: true, verbatim: true });

export type PolicyResult =
  | { readonly ok: true; readonly target: Target; readonly addresses: ReadonlyArray<{ address: string; family: IpFamily }> }
  | { readonly ok: false; readonly kind: "agent_denied" | "agent_dial_failed"; readonly message: string };

const MANAGEMENT_IPS_TTL_MS = 30_000;

/** AGENT_ALLOW plus DNS: answers "may I dial this address, and which IPs exactly?". */
export class TargetPolicy {
  private readonly lookup: LookupFn;
  private managementIps: { ips: string[]; at: number } | undefined;

  constructor(
    readonly rules: readonly AllowRule[] | "all",
    private readonly management: { host: string; port: number } | undefined,
    opts: { lookup?: LookupFn } = {},
  ) {
    this.lookup = opts.lookup ?? defaultLookup;
  }

  /** Describes the policy for the start-up log line. */
  describe(): string {
    const rules = this.rules === "all" ? "everything" : this.rules.map((r) => r.text).join(", ");
    return this.rules === "all" && this.management ? `${rules} except management (${this.management.host}:${this.management.port})` : rules;
  }

  async check(address: string): Promise<PolicyResult> {
    const target = parseTarget(address);
    if (target === undefined) return { ok: false, kind: "agent_denied", message: `invalid address "${address.slice(0, 300)}": expected host:port or [v6]:port` };
    const denied = await this.deniedEndpoints();
    let resolved: Array<{ address: string; family: IpFamily }> = [];
    if (target.kind === "name") {
      const byName = this.rules !== "all" && this.rules.some((r) => ruleAllowsName(r, target.host, target.port));
      if (!byName && !anyIpRuleFor(this.rules, target.port)) return { ok: false, kind: "agent_denied", message: `${address}: not in AGENT_ALLOW` };
      try {
        resolved = (await this.lookup(target.host)).flatMap((a) => canonicalIp(a.address) ?? []);
      } catch (e) {
        return { ok: false, kind: "agent_dial_failed", message: `cannot resolve ${target.host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
      }
      // One spelling per address, order kept (the resolver's preference).
      resolved = resolved.filter((a, i) => resolved.findIndex((b) => b.address === a.address) === i);
    }
    const d = decide(this.rules, target, resolved, denied);
    if (!d.allowed) return { ok: false, kind: "agent_denied", message: `${address}: ${d.reason}` };
    return { ok: true, target, addresses: d.addresses };
  }

  private async deniedEndpoints(): Promise<DeniedEndpoint[]> {
    if (this.rules !== "all" || this.management === undefined) return [];
    const { host, port } = this.management;
    const ip = canonicalIp(host);
    if (ip !== undefined) return [{ names: [], ips: [ip.address], port }];
    const now = Date.now();
    if (this.managementIps === undefined || now - this.managementIps.at > MANAGEMENT_IPS_TTL_MS) {
      let ips: string[] = [];
      try {
        ips = (await this.lookup(host)).flatMap((a) => canonicalIp(a.address)?.address ?? []);
      } catch {
        // Keep the last known addresses if the lookup fails; the name itself stays denied either way.
        ips = this.managementIps?.ips ?? [];
      }
      this.managementIps = { ips, at: now };
    }
    return [{ names: [host.toLowerCase().replace(/\.$/, "")], ips: this.managementIps.ips, port }];
  }
}
