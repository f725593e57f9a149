// What the cache stage decided for one request (ctx.cache), read by the forward stage's header
// transform and by the cache tee in front of the relay; plus the header helpers both sides share.
import type { IncomingHttpHeaders } from "node:http";
import { flatHeaders, stripHopByHop } from "../headers.ts";
import type { CompiledCacheRule, StoredEntry } from "./types.ts";
import type { Flight } from "./flight.ts";
import type { ResponseHeaders } from "./downstream.ts";

export interface CacheExchange {
  readonly rule: CompiledCacheRule;
  readonly primary: string;
  /** host + path + normalized query. */
  readonly url: string;
  /** The variant key as looked up (vary names known at lookup time). */
  readonly key: string;
  /**
   * lead: this request's response may be stored and is shared with waiters (flight set);
   * pass: forwarded as it is, the cache only annotates it (bypass, HEAD miss, a waiter gone on its own).
   */
  readonly mode: "lead" | "pass";
  /** RFC 9211 `fwd` reason (bypass, method, uri-miss, vary-miss, stale, request) and an optional detail. */
  readonly fwd: string;
  readonly detail: string | undefined;
  readonly flight: Flight | undefined;
  /** A stored entry this request revalidates (conditional request) or may fall back to (stale-if-error). */
  readonly stale: StoredEntry | undefined;
  /** The origin failing (connect error or 5xx) serves `stale` instead. */
  readonly staleIfError: boolean;
  /** Validators sent upstream (flat), replacing the client's own conditionals. */
  readonly conditional: readonly string[];
  /** The client's If-None-Match / If-Modified-Since stay out of the upstream request: the cache answers them. */
  readonly stripConditionals: boolean;
}

/** The request side the cache tee needs (a background revalidation has no client of its own). */
export interface CacheRequest {
  readonly host: string;
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
}

const CONDITIONALS = new Set(["if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range"]);

/** The forward stage's request-header transform: the cache's validators instead of the client's. */
export function cacheRequestHeaders(x: CacheExchange | undefined, headers: string[]): void {
  if (x === undefined || (!x.stripConditionals && x.conditional.length === 0)) return;
  if (x.stripConditionals) {
    let w = 0;
    for (let i = 0; i < headers.length; i += 2) {
      if (CONDITIONALS.has(headers[i]!.toLowerCase())) continue;
      headers[w++] = headers[i]!;
      headers[w++] = headers[i + 1]!;
    }
    headers.length = w;
  }
  for (const h of x.conditional) headers.push(h);
}

/** `Warren; …` (RFC 9211). */
export function cacheStatusValue(params: readonly (string | undefined)[]): string {
  let v = "Warren";
  for (const p of params) if (p !== undefined && p !== "") v += `; ${p}`;
  return v;
}

/** Headers as stored: end-to-end only, without Set-Cookie (never stored anyway) and Age (recomputed on each hit). */
export function storedHeaders(h: ResponseHeaders): string[] {
  const flat = stripHopByHop(flatHeaders(h));
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const n = flat[i]!.toLowerCase();
    if (n === "set-cookie" || n === "age" || n === "cache-status") continue;
    out.push(n, flat[i + 1]!);
  }
  return out;
}

/** RFC 9111 §4.3.4: a 304's headers replace the stored ones, except those describing the body. */
const KEEP_ON_304 = new Set(["content-length", "content-encoding", "transfer-encoding", "content-range", "content-type"]);

export function mergeNotModified(stored: readonly string[], fresh: ResponseHeaders): string[] {
  const update = storedHeaders(fresh);
  const names = new Set<string>();
  const upd: string[] = [];
  for (let i = 0; i < update.length; i += 2) {
    if (KEEP_ON_304.has(update[i]!)) continue;
    names.add(update[i]!);
    upd.push(update[i]!, update[i + 1]!);
  }
  const out: string[] = [];
  for (let i = 0; i < stored.length; i += 2) if (!names.has(stored[i]!)) out.push(stored[i]!, stored[i + 1]!);
  return out.concat(upd);
}
