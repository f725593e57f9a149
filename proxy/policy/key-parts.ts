// Key parts for rate limits, shapers and waiting rooms: which request attributes one bucket shares.
// The key is a fixed-length hash of a length-prefixed encoding, so ("ab","c") ≠ ("a","bc") and a
// client cannot grow the key store's memory with long header values.
import { hash } from "node:crypto";
import type { CelRequest } from "./cel-request.ts";

export const MAX_KEY_PARTS = 8;
const MAX_NAME = 256;
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

type PartReader = (req: CelRequest) => string | undefined;

/** The first invalid part and why, or undefined when every part is valid. */
export function validateKeyParts(parts: readonly string[]): { index: number; message: string } | undefined {
  if (parts.length > MAX_KEY_PARTS) return { index: MAX_KEY_PARTS, message: `at most ${MAX_KEY_PARTS} key parts are allowed` };
  const seen = new Set<string>();
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const err = partError(p);
    if (err !== undefined) return { index: i, message: err };
    const canonical = canonicalPart(p);
    if (seen.has(canonical)) return { index: i, message: `duplicate key part "${p}"` };
    seen.add(canonical);
  }
  return undefined;
}

function partError(p: string): string | undefined {
  if (p === "client_ip" || p === "host" || p === "method" || p === "path") return undefined;
  const colon = p.indexOf(":");
  const kind = colon < 0 ? p : p.slice(0, colon);
  const name = colon < 0 ? "" : p.slice(colon + 1);
  if (kind !== "header" && kind !== "cookie" && kind !== "query") {
    return `unknown key part "${p}" (client_ip, host, method, path, header:NAME, cookie:NAME, query:NAME)`;
  }
  if (name.length === 0) return `${kind}: needs a name (${kind}:NAME)`;
  if (name.length > MAX_NAME) return `${kind} name must be at most ${MAX_NAME} characters`;
  if (kind !== "query" && !TOKEN_RE.test(name)) return `"${name}" is not a valid ${kind} name`;
  return undefined;
}

/** Header names are case-insensitive; cookie and query names are not. */
function canonicalPart(p: string): string {
  return p.startsWith("header:") ? p.toLowerCase() : p;
}

function reader(p: string): PartReader {
  switch (p) {
    case "client_ip":
      return (r) => r.input.clientIp;
    case "host":
      return (r) => r.input.host;
    case "method":
      return (r) => r.input.method;
    case "path":
      return (r) => r.path;
  }
  const colon = p.indexOf(":");
  const kind = p.slice(0, colon);
  const name = p.slice(colon + 1);
  if (kind === "header") {
    const lower = name.toLowerCase();
    return (r) => r.header(lower);
  }
  if (kind === "cookie") return (r) => r.cookie(name);
  return (r) => r.queryParam(name);
}

// Hashed keys by their encoded parts, shared by every compiled key (the hash depends on nothing
// else): most requests repeat a recent key, and a SHA-256 per rule per request was most of what rate
// limits cost (bench/http, five matching rules: ~11 % of the gateway's busy time in createHash,
// digest and base64url, plus the garbage of a Hash object each). Bounded: an encoding longer than
// MEMO_MAX_CHARS is never kept, and the memo is emptied when it holds MEMO_MAX_ENTRIES (~1.5 MB at
// most), so clients sending ever-new values cost a hash each, as without it.
const MEMO_MAX_ENTRIES = 4096;
const MEMO_MAX_CHARS = 256;
const memo = new Map<string, string>();

/** base64url of the first 16 bytes of SHA-256 over `s` (UTF-8), from the memo when it is there. */
function hashKey(s: string): string {
  if (s.length > MEMO_MAX_CHARS) return hash("sha256", s, "buffer").subarray(0, 16).toString("base64url");
  let key = memo.get(s);
  if (key === undefined) {
    // One-shot crypto.hash: no Hash object per key (half the time of createHash().update().digest()).
    key = hash("sha256", s, "buffer").subarray(0, 16).toString("base64url");
    if (memo.size >= MEMO_MAX_ENTRIES) memo.clear();
    memo.set(s, key);
  }
  return key;
}

/**
 * A function from a request to its bucket key: base64url of the first 16 bytes of SHA-256 over the
 * parts, each written as its length and value ("-" for an absent header, cookie or query parameter,
 * which so differs from an empty one). Throws TypeError on parts validateKeyParts refuses.
 */
export function compileKey(parts: readonly string[]): (req: CelRequest) => string {
  const bad = validateKeyParts(parts);
  if (bad !== undefined) throw new TypeError(`key part ${bad.index}: ${bad.message}`);
  const readers = parts.map(reader);
  return (req) => {
    let s = "";
    for (const read of readers) {
      const v = read(req);
      s += v === undefined ? "-;" : `${v.length}:${v};`;
    }
    return hashKey(s);
  };
}
