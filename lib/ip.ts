// IP addresses in plain JS, for per-request work: parsing without allocation (node:net's isIP and
// BlockList cost microseconds a call), IPv4-mapped normalisation and RFC 5952 formatting. The one
// place Warren parses an IP; cidr-set.ts builds on it.

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

/** The four 32-bit words (big-endian) of the IPv6 address parseIPv6 last accepted; shared scratch, read at once. */
export function ipv6Words(): Uint32Array {
  return scratch;
}

/** The last parsed IPv6 address is IPv4-mapped (::ffff:a.b.c.d). */
export function lastIPv6IsMapped(): boolean {
  return scratch[0] === 0 && scratch[1] === 0 && scratch[2] === 0xffff;
}

/** `::ffff:1.2.3.4` (any spelling of the mapped prefix) → `1.2.3.4`; other input unchanged. */
export function canonicalIp(ip: string): string {
  if (ip.length > 7 && (ip.charCodeAt(0) === 58 || ip.charCodeAt(0) === 48) && /^(?:0{0,4}:){0,5}:?ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) {
    return ip.slice(ip.lastIndexOf(":") + 1);
  }
  return ip;
}

/** A socket's remoteAddress as Warren shows and compares it: IPv4-mapped as IPv4, "" when unknown. */
export function peerAddress(addr: string | undefined): string {
  return addr ? canonicalIp(addr) : "";
}

function dotted(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** 4 bytes → dotted quad. */
export function formatIPv4(b: Uint8Array, offset = 0): string {
  return dotted(b, offset);
}

/** 16 bytes → RFC 5952 text (longest zero run compressed, lower case); IPv4-mapped as ::ffff:a.b.c.d. */
export function formatIPv6(b: Uint8Array, offset = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[offset + i * 2]! << 8) | b[offset + i * 2 + 1]!);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${dotted(b, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    g
      .slice(from, to)
      .map((x) => x.toString(16))
      .join(":");
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/**
 * One spelling per address: IPv4 as given (dotted quads have one form), IPv6 in RFC 5952 form,
 * IPv4-mapped IPv6 as the IPv4 address. Undefined when `ip` is not an address.
 */
export function normalizeIp(ip: string): { readonly address: string; readonly version: 4 | 6 } | undefined {
  if (parseIPv4(ip) >= 0) return { address: ip, version: 4 };
  if (!parseIPv6(ip)) return undefined;
  if (lastIPv6IsMapped()) return { address: `${scratch[3]! >>> 24}.${(scratch[3]! >>> 16) & 255}.${(scratch[3]! >>> 8) & 255}.${scratch[3]! & 255}`, version: 4 };
  const b = new Uint8Array(16);
  for (let w = 0; w < 4; w++) {
    const v = scratch[w]!;
    b[w * 4] = v >>> 24;
    b[w * 4 + 1] = (v >>> 16) & 255;
    b[w * 4 + 2] = (v >>> 8) & 255;
    b[w * 4 + 3] = v & 255;
  }
  return { address: formatIPv6(b), version: 6 };
}

/**
 * The unit per-client limits count in: an IPv4 address, or an IPv6 /64 (what one subscriber gets;
 * counting each of its 2^64 addresses apart would make every limit free to dodge).
 */
export function addressBucket(ip: string): string {
  if (!parseIPv6(ip) || lastIPv6IsMapped()) return ip;
  const w = ipv6Words();
  return `${w[0]!.toString(16)}:${w[1]!.toString(16)}::/64`;
}
