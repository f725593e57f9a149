// IP parsing and CIDR sets in plain JS, for per-request checks. node:net's BlockList answers the
// same question but costs microseconds per call (it builds a native SocketAddress each time);
// this costs tens of nanoseconds and allocates nothing.

/** The four 32-bit words of the last IPv6 address parsed (big-endian); reused, never retained. */
const scratch = new Uint32Array(4);
const groups = new Uint16Array(8);

/** Dotted-quad IPv4 (no leading zeros, like net.isIPv4) → unsigned 32-bit value, or -1. */
export function parseIPv4(s: string, start = 0, end = s.length): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  let first = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 0) first = c;
      else if (first === 48) return -1; // leading zero
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return (value * 256 + part) >>> 0;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * IPv6 (with "::" and an optional trailing dotted IPv4; no zone id) into the shared scratch words.
 * Returns false when invalid. Callers read `ipv6Words()` immediately.
 */
export function parseIPv6(s: string, start = 0, end = s.length): boolean {
  const n = end - start;
  if (n < 2 || n > 45) return false;
  let g = 0; // groups written
  let gap = -1; // index in groups where "::" was
  let i = start;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
    if (i === end) {
      groups.fill(0);
      return finish();
    }
  }
  while (i < end) {
    if (g === 8) return false;
    // A group: 1–4 hex digits, or a dotted IPv4 tail taking two groups.
    let v = 0;
    let d = 0;
    let j = i;
    for (; j < end && d < 5; j++) {
      const h = hexDigit(s.charCodeAt(j));
      if (h < 0) break;
      v = (v << 4) | h;
      d++;
    }
    if (j < end && s.charCodeAt(j) === 46) {
      if (g > 6) return false;
      const v4 = parseIPv4(s, i, end);
      if (v4 < 0) return false;
      groups[g++] = v4 >>> 16;
      groups[g++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (d === 0 || d > 4) return false;
    groups[g++] = v;
    i = j;
    if (i === end) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i === end) return false; // a trailing single ":"
    if (s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = g;
      i++;
      if (i === end) break;
    }
  }
  if (gap < 0) {
    if (g !== 8) return false;
  } else {
    if (g > 7) return false;
    const tail = g - gap;
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[g - 1 - k]!;
    for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  }
  return finish();
}

function finish(): true {
  for (let w = 0; w < 4; w++) scratch[w] = ((groups[w * 2]! << 16) | groups[w * 2 + 1]!) >>> 0;
  return true;
}

/** 4 = IPv4, 6 = IPv6, 0 = not an IP (same answers as net.isIP, minus zone ids). */
export function ipVersion(s: string): 0 | 4 | 6 {
  if (parseIPv4(s) >= 0) return 4;
  return parseIPv6(s) ? 6 : 0;
}

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
    if (isMapped() && total >= 96) {
      // ::ffff:10.0.0.0/104 is the IPv4 block 10.0.0.0/8.
      const m = mask32(total - 96);
      this.v4.push((scratch[3]! & m) >>> 0, m);
    } else {
      const masks = [0, 1, 2, 3].map((w) => mask32(total - w * 32));
      for (let w = 0; w < 4; w++) this.v6.push((scratch[w]! & masks[w]!) >>> 0);
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
    if (isMapped()) return this.containsV4(scratch[3]!);
    const a = this.v6;
    for (let i = 0; i < a.length; i += 8) {
      if (
        ((scratch[0]! & a[i + 4]!) >>> 0) === a[i] &&
        ((scratch[1]! & a[i + 5]!) >>> 0) === a[i + 1] &&
        ((scratch[2]! & a[i + 6]!) >>> 0) === a[i + 2] &&
        ((scratch[3]! & a[i + 7]!) >>> 0) === a[i + 3]
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

function isMapped(): boolean {
  return scratch[0] === 0 && scratch[1] === 0 && scratch[2] === 0xffff;
}
