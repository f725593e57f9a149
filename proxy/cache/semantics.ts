// RFC 9111 through http-cache-semantics, plus Warren's own refusals: the library calls Set-Cookie,
// Vary: * and private-ish responses storable and applies a 10 % heuristic freshness, so the rule and
// this file decide what is stored and for how long; the library keeps validators, ages and the
// merge of a 304's headers.
import CachePolicy from "http-cache-semantics";
import type { IncomingHttpHeaders } from "node:http";
import type { CompiledCacheRule } from "./types.ts";
import { parseVary } from "./key.ts";

export type Policy = CachePolicy;
export type PolicyClass = typeof CachePolicy;

/** A CachePolicy whose clock is `now` (tests move it; production passes Date.now). */
export function policyClass(now: () => number): PolicyClass {
  if (now === Date.now) return CachePolicy;
  return class ClockedPolicy extends CachePolicy {
    now(): number {
      return now();
    }
  };
}

/** Why a request does not use the cache at all (forwarded untouched), or undefined. */
export function requestBypass(
  method: string,
  headers: IncomingHttpHeaders,
  o: { hasBody: boolean; upgrade: boolean; rule: CompiledCacheRule },
): "method" | "authorization" | "cookie" | "range" | "body" | "upgrade" | "no-store" | undefined {
  if (method !== "GET" && method !== "HEAD") return "method";
  if (o.upgrade) return "upgrade";
  if (headers.authorization !== undefined) return "authorization";
  if (headers.cookie !== undefined && !o.rule.ignoreRequestCookies) return "cookie";
  if (headers.range !== undefined) return "range";
  if (o.hasBody) return "body";
  if (/(^|,)\s*no-store\b/i.test(String(headers["cache-control"] ?? ""))) return "no-store";
  return undefined;
}

function cacheControl(h: IncomingHttpHeaders | Record<string, string | string[] | undefined>): string {
  const v = h["cache-control"];
  return (Array.isArray(v) ? v.join(",") : (v ?? "")).toLowerCase();
}

/** `private`, `private="x"`, `no-store`: a directive name at a list position. */
function hasDirective(cc: string, name: string): boolean {
  return new RegExp(`(^|,)\\s*${name}\\s*(=|,|$)`).test(cc);
}

/** Why a response is not stored, or undefined when it may be. */
export function responseRefusal(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  rule: CompiledCacheRule,
  policy: Policy,
): "status" | "set-cookie" | "vary-star" | "private" | "no-store" | "event-stream" | "too-big" | "not-storable" | undefined {
  if (!rule.statuses.has(status)) return "status";
  if (headers["set-cookie"] !== undefined) return "set-cookie";
  if (parseVary(headers.vary).includes("*")) return "vary-star";
  const cc = cacheControl(headers);
  if (hasDirective(cc, "private")) return "private";
  if (hasDirective(cc, "no-store")) return "no-store";
  const ct = String(headers["content-type"] ?? "").toLowerCase();
  if (ct.startsWith("text/event-stream")) return "event-stream";
  const len = Number(headers["content-length"] ?? NaN);
  if (Number.isFinite(len) && len > rule.maxObjectBytes) return "too-big";
  if (!policy.storable()) return "not-storable";
  return undefined;
}

/** How fresh a stored response is, all in milliseconds, under the rule that serves it. */
export interface Freshness {
  readonly lifetimeMs: number;
  readonly ageMs: number;
  /** Stale responses may be served while revalidating / on origin errors this long past the lifetime. */
  readonly staleWhileRevalidateMs: number;
  readonly staleIfErrorMs: number;
}

function seconds(v: unknown): number {
  const n = typeof v === "string" ? parseInt(v, 10) : 0;
  return Number.isFinite(n) && n > 0 ? n * 1000 : 0;
}

/**
 * ttlMode fixed: the rule's TTL. origin: s-maxage > max-age > Expires (the library's order for a
 * shared cache), else a heuristic from Last-Modified when the rule allows it, else the rule's TTL.
 * `no-cache` (or Pragma: no-cache) means every use is revalidated; must-revalidate and
 * proxy-revalidate forbid serving stale.
 */
export function freshness(policy: Policy, rule: CompiledCacheRule): Freshness {
  const o = policy.toObject();
  const cc = o.rescc as Record<string, string | boolean>;
  const resh = o.resh as Record<string, string | undefined>;
  const ageMs = policy.age() * 1000;
  let lifetimeMs: number;
  if (cc["no-cache"] !== undefined) lifetimeMs = 0;
  else if (rule.ttlMode === "fixed") lifetimeMs = rule.ttlMs;
  else if (cc["s-maxage"] !== undefined || cc["max-age"] !== undefined || resh.expires !== undefined) lifetimeMs = policy.maxAge() * 1000;
  else if (rule.heuristic && resh["last-modified"] !== undefined) lifetimeMs = policy.maxAge() * 1000;
  else lifetimeMs = rule.ttlMs;
  const noStale = cc["must-revalidate"] !== undefined || cc["proxy-revalidate"] !== undefined;
  return {
    lifetimeMs,
    ageMs,
    staleWhileRevalidateMs: noStale ? 0 : seconds(cc["stale-while-revalidate"]),
    staleIfErrorMs: noStale ? 0 : seconds(cc["stale-if-error"]),
  };
}

/** A client request that asks the cache not to answer from storage without checking (no-cache, max-age=0). */
export function requestWantsRevalidation(headers: IncomingHttpHeaders): boolean {
  const cc = cacheControl(headers);
  if (cc === "") return /no-cache/i.test(String(headers.pragma ?? ""));
  return hasDirective(cc, "no-cache") || /(^|,)\s*max-age\s*=\s*0*\s*(,|$)/.test(cc);
}

function etagList(v: string): string[] {
  return v.split(",").map((t) => t.trim().replace(/^W\//, ""));
}

/**
 * True when the client's own validators match the stored response (RFC 9110 §13.1.2/§13.1.3):
 * If-None-Match (weak comparison) wins over If-Modified-Since.
 */
export function notModified(req: IncomingHttpHeaders, etag: string | undefined, lastModified: string | undefined): boolean {
  const inm = req["if-none-match"];
  if (inm !== undefined) {
    if (etag === undefined) return false;
    const tags = etagList(inm);
    return tags.includes("*") || tags.includes(etag.trim().replace(/^W\//, ""));
  }
  const ims = req["if-modified-since"];
  if (ims === undefined || lastModified === undefined) return false;
  const since = Date.parse(ims);
  const lm = Date.parse(lastModified);
  return Number.isFinite(since) && Number.isFinite(lm) && lm <= since;
}

/** The stored headers a 304 carries (RFC 9110 §15.4.5), plus Last-Modified. */
const NOT_MODIFIED_HEADERS = new Set(["cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified"]);

export function notModifiedHeaders(stored: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < stored.length; i += 2) if (NOT_MODIFIED_HEADERS.has(stored[i]!.toLowerCase())) out.push(stored[i]!, stored[i + 1]!);
  return out;
}
