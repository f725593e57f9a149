// CIDR sets for per-request checks: tens of nanoseconds a lookup, no allocation (node:net's BlockList
// builds a native SocketAddress per call, ~1.8 µs). IPv4-mapped IPv6 addresses match IPv4 blocks.
import { ipv6Words, lastIPv6IsMapped, parseIPv4, parseIPv6 } from "./ip.ts";

const w = ipv6Words();

function mask32(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/** A set of IPv4 and IPv6 CIDR blocks; IPv4-mapped IPv6 addresses match the IPv4 blocks. */
export class CidrSet {
  private readonly v4: number[] = []; // net, mask pairs
  private readonly v6: number[] = []; // 4 net words, 4 mask words
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds "10.0.0.0/8", "fd00::/8" or a bare address. Returns an error message or undefined. */
  add(cidr: string): string | undefined {
    const slash = cidr.indexOf("/");
    const addrEnd = slash < 0 ? cidr.length : slash;
    let bits = -1;
    if (slash >= 0) {
      const b = cidr.slice(slash + 1);
      if (!/^[0-9]{1,3}$/.test(b)) return "invalid prefix length";
      bits = Number(b);
    }
    const v4 = parseIPv4(cidr, 0, addrEnd);
    if (v4 >= 0) {
      if (bits > 32) return "prefix length must be 0–32";
      const m = mask32(bits < 0 ? 32 : bits);
      this.v4.push((v4 & m) >>> 0, m);
      this.count++;
      return undefined;
    }
    if (!parseIPv6(cidr, 0, addrEnd)) return "not an IP address or CIDR";
    if (bits > 128) return "prefix length must be 0–128";
    const total = bits < 0 ? 128 : bits;
    if (lastIPv6IsMapped() && total >= 96) {
      // ::ffff:10.0.0.0/104 is the IPv4 block 10.0.0.0/8.
      const m = mask32(total - 96);
      this.v4.push((w[3]! & m) >>> 0, m);
    } else {
      const masks = [0, 1, 2, 3].map((k) => mask32(total - k * 32));
      for (let k = 0; k < 4; k++) this.v6.push((w[k]! & masks[k]!) >>> 0);
      this.v6.push(...masks);
    }
    this.count++;
    return undefined;
  }

  /** False for anything that is not an IP address. */
  contains(ip: string): boolean {
    const v4 = parseIPv4(ip);
    if (v4 >= 0) return this.containsV4(v4);
    if (!parseIPv6(ip)) return false;
    if (lastIPv6IsMapped()) return this.containsV4(w[3]!);
    const a = this.v6;
    for (let i = 0; i < a.length; i += 8) {
      if (
        ((w[0]! & a[i + 4]!) >>> 0) === a[i] &&
        ((w[1]! & a[i + 5]!) >>> 0) === a[i + 1] &&
        ((w[2]! & a[i + 6]!) >>> 0) === a[i + 2] &&
        ((w[3]! & a[i + 7]!) >>> 0) === a[i + 3]
      ) {
        return true;
      }
    }
    return false;
  }

  private containsV4(ip: number): boolean {
    const a = this.v4;
    for (let i = 0; i < a.length; i += 2) if (((ip & a[i + 1]!) >>> 0) === a[i]) return true;
    return false;
  }
}

