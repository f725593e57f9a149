// The built-in proof-of-work challenge (DESIGN.md §5 stage 4): stateless and cheap for the gateway.
// Issuing one is an HMAC over (rule, rule fingerprint, host, client network, difficulty, expiry,
// and the kind of check: proof of work or a hosted captcha, so one is never accepted as the other);
// checking a solution is that HMAC and one SHA-256. A solved challenge earns a pass cookie, an HMAC
// over (rule, fingerprint, host, expiry): editing the rule changes its fingerprint and so voids
// every pass, and a pass for one host is worth nothing on another.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { parseIPv4, parseIPv6, ipv6Words } from "../../lib/ip.ts";

/** How long a page's challenge stays solvable. */
export const CHALLENGE_TTL_S = 300;
export const PASS_COOKIE_PREFIX = "warren_pass_";

export interface ChallengeClaims {
  readonly ruleId: string;
  readonly fingerprint: string;
  readonly host: string;
  /** The client's network (IPv4 /24, IPv6 /64): a token solved elsewhere is refused. */
  readonly network: string;
  /** 0 for a captcha challenge. */
  readonly difficulty: number;
  /** Unix seconds. */
  readonly expiresAt: number;
  /** Which check the token is for. */
  readonly check: ChallengeCheck;
}

export type ChallengeCheck = "pow" | "captcha" | "noscript";

const b64 = (b: Buffer) => b.toString("base64url");

function mac(key: Buffer, purpose: string, data: string): Buffer {
  return createHmac("sha256", key).update(purpose).update("\0").update(data).digest();
}

function sameMac(a: Buffer, b64mac: string): boolean {
  const b = Buffer.from(b64mac, "base64url");
  // Only the canonical spelling: base64url decoding ignores the last character's unused bits (and
  // stray characters), so one MAC had several spellings — not a forgery, but a token is one string.
  // The re-encoding involves no secret, so comparing it is not a timing leak.
  return b.length === a.length && b.toString("base64url") === b64mac && timingSafeEqual(a, b);
}

/** The network a challenge is bound to: "v4:a.b.c" (/24) or "v6:xxxx:xxxx:xxxx:xxxx" (/64). */
export function clientNetwork(ip: string): string {
  const v4 = parseIPv4(ip);
  if (v4 >= 0) return `v4:${v4 >>> 8}`;
  if (parseIPv6(ip)) {
    const w = ipv6Words();
    // An IPv4-mapped address is its IPv4 network.
    if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return `v4:${w[3]! >>> 8}`;
    return `v6:${w[0]!.toString(16)}:${w[1]!.toString(16)}`;
  }
  return `other:${ip}`;
}

/** A signed challenge token for the page (opaque to the client, who hashes it with its nonce). */
export function issueChallenge(key: Buffer, c: ChallengeClaims): string {
  const payload = [c.ruleId, c.fingerprint, c.host, c.network, c.difficulty, c.expiresAt, c.check, b64(randomBytes(9))].join("|");
  return `${b64(Buffer.from(payload))}.${b64(mac(key, "challenge", payload))}`;
}

/** The claims of a token this key signed that has not expired; undefined otherwise. */
export function readChallenge(key: Buffer, token: string, nowS: number): ChallengeClaims | undefined {
  const dot = token.indexOf(".");
  if (dot <= 0 || token.length > 1024) return undefined;
  const payload = Buffer.from(token.slice(0, dot), "base64url").toString();
  if (!sameMac(mac(key, "challenge", payload), token.slice(dot + 1))) return undefined;
  const [ruleId, fingerprint, host, network, difficulty, expiresAt, check] = payload.split("|");
  const exp = Number(expiresAt);
  if (!(exp > nowS)) return undefined;
  if (check !== "pow" && check !== "captcha" && check !== "noscript") return undefined;
  return { ruleId: ruleId!, fingerprint: fingerprint!, host: host!, network: network!, difficulty: Number(difficulty), expiresAt: exp, check };
}

/** Leading zero bits of a digest. */
export function leadingZeroBits(d: Buffer): number {
  let n = 0;
  for (const byte of d) {
    if (byte === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(byte) - 24;
  }
  return n;
}

/** Whether SHA-256("<token>:<nonce>") starts with `difficulty` zero bits. */
export function solves(token: string, nonce: string, difficulty: number): boolean {
  if (!/^[0-9]{1,16}$/.test(nonce)) return false;
  return leadingZeroBits(createHash("sha256").update(`${token}:${nonce}`).digest()) >= difficulty;
}

export function passCookieName(ruleId: string): string {
  return `${PASS_COOKIE_PREFIX}${ruleId}`;
}

/** A pass cookie's value: "<expiry>.<mac>". */
export function issuePass(key: Buffer, ruleId: string, fingerprint: string, host: string, expiresAt: number): string {
  return `${expiresAt}.${b64(mac(key, "pass", `${ruleId}|${fingerprint}|${host}|${expiresAt}`))}`;
}

export function checkPass(key: Buffer, value: string | undefined, ruleId: string, fingerprint: string, host: string, nowS: number): boolean {
  if (value === undefined || value.length > 128) return false;
  const dot = value.indexOf(".");
  const exp = Number(value.slice(0, dot));
  if (dot <= 0 || !Number.isInteger(exp) || exp <= nowS) return false;
  return sameMac(mac(key, "pass", `${ruleId}|${fingerprint}|${host}|${exp}`), value.slice(dot + 1));
}

/** Where to go after the check: a path on this host only (never another origin). */
export function safeReturnPath(s: string | undefined): string {
  if (s === undefined || s.length > 2048 || !s.startsWith("/") || s.startsWith("//") || s.startsWith("/\\")) return "/";
  // Control characters and backslashes could turn the Location into something else.
  return /[\u0000-\u001f\u007f\\]/.test(s) ? "/" : s;
}
