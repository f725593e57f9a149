// The control-plane guard for routes: a direct target that would connect to Warren's own management
// endpoint is refused, so no public listener can be made to expose the API, the tunnel endpoint or
// the UI. What counts: management's port, and an address that reaches it — the bind address itself,
// an unspecified address (0.0.0.0, ::: a connection to it lands on this host), and, when management
// binds every address, any loopback address or address of this machine's interfaces. Host names are
// resolved at write time; one that does not resolve cannot be judged (and cannot be reached either).
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { TargetKind, type RouteSpec } from "../../proto/gen/warren/v1/proxy_pb.ts";
import { fieldError } from "../errors.ts";

export interface ManagementEndpoint {
  /** The port management is bound to. */
  readonly port: number;
  /** MANAGEMENT_BIND_ADDRESS. */
  readonly bindAddress: string;
}

const UNSPECIFIED = new Set(["0.0.0.0", "::"]);
const LOOKUP_TIMEOUT_MS = 2_000;

/** Lower case, no brackets, IPv4-mapped IPv6 as IPv4. */
function plainAddress(a: string): string {
  const s = a.toLowerCase().replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (mapped) return mapped[1]!;
  // The URL parser writes ::ffff:127.0.0.1 as ::ffff:7f00:1.
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(s);
  if (hex) {
    const [hi, lo] = [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16)];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return s;
}

function isLoopback(a: string): boolean {
  return a === "::1" || /^127\./.test(a);
}

function interfaceAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.add(plainAddress(i.address));
  return out;
}

/** Whether a connection to `address` on management's port reaches management. */
export function reachesManagement(address: string, m: ManagementEndpoint): boolean {
  const a = plainAddress(address);
  const bind = plainAddress(m.bindAddress);
  if (UNSPECIFIED.has(a) || a === bind) return true;
  if (UNSPECIFIED.has(bind)) return isLoopback(a) || interfaceAddresses().has(a);
  return false;
}

async function addressesOf(host: string): Promise<string[]> {
  if (isIP(host) !== 0) return [host];
  let timer: NodeJS.Timeout | undefined;
  try {
    const found = await Promise.race([
      lookup(host, { all: true, verbatim: true }),
      new Promise<[]>((resolve) => (timer = setTimeout(() => resolve([]), LOOKUP_TIMEOUT_MS))),
    ]);
    return found.map((r) => r.address);
  } catch {
    return [];
  } finally {
    clearTimeout(timer);
  }
}

/** Throws invalid_argument naming the target when a direct target of `spec` is management itself. */
export async function refuseManagementTargets(spec: RouteSpec, m: ManagementEndpoint): Promise<void> {
  for (const [i, t] of spec.targets.entries()) {
    if (t.kind !== TargetKind.DIRECT) continue;
    const url = new URL(t.url);
    const port = Number(url.port) || (url.protocol === "https:" ? 443 : 80);
    if (port !== m.port) continue;
    const host = url.hostname.replace(/^\[|\]$/g, "");
    for (const address of await addressesOf(host)) {
      if (reachesManagement(address, m)) {
        throw fieldError(`spec.targets[${i}].url`, `is Warren's management endpoint (${host} port ${port}): a route must not expose it`);
      }
    }
  }
}
