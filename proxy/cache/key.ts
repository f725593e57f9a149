// Cache keys (DESIGN.md §5 stage 9): the primary key names a URL (host, path, the query as the rule
// normalizes it); the variant key adds the request's values of the vary headers (the rule's list
// merged with the origin's Vary names), so gzip and identity bodies of one URL are two entries.
import { hash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { QueryMode } from "./types.ts";

function decodeName(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}

/**
 * The query part of the key, without "?": parameters as received (encoding kept), filtered by the
 * rule's mode (names compared decoded), sorted by name then value so order does not matter.
 */
export function normalizeQuery(query: string, mode: QueryMode, names: ReadonlySet<string>): string {
  if (mode === "ignore") return "";
  const raw = query.startsWith("?") ? query.slice(1) : query;
  if (raw === "") return "";
  const params: [string, string, string][] = [];
  for (const part of raw.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = eq < 0 ? part : part.slice(0, eq);
    const decoded = decodeName(name);
    if (mode === "allowlist" && !names.has(decoded)) continue;
    if (mode === "denylist" && names.has(decoded)) continue;
    params.push([decoded, part, name]);
  }
  params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return params.map((p) => p[1]).join("&");
}

export interface PrimaryKey {
  /** sha256 hex. */
  readonly primary: string;
  /** host + path + ("?" + normalized query, when any): what purge by URL names. */
  readonly url: string;
}

export function primaryKey(host: string, path: string, normalizedQuery: string): PrimaryKey {
  // One-shot crypto.hash of the joined string: the digest the incremental createHash() updates gave
  // (every part is joined by an ASCII separator, so UTF-8 encodes it the same), without a Hash object.
  const primary = hash("sha256", `${host}\0${path}\0${normalizedQuery}`, "hex");
  return { primary, url: normalizedQuery === "" ? `${host}${path}` : `${host}${path}?${normalizedQuery}` };
}

/** Lower-case field names of a Vary value; "*" stays "*". */
export function parseVary(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const v of Array.isArray(value) ? value : [value]) {
    for (const t of v.split(",")) {
      const n = t.trim().toLowerCase();
      if (n !== "") out.push(n);
    }
  }
  return out;
}

/** The union of both lists, lower case, sorted, without repeats. */
export function mergeVary(a: readonly string[], b: readonly string[]): string[] {
  const s = new Set<string>();
  for (const x of a) s.add(x.toLowerCase());
  for (const x of b) s.add(x.toLowerCase());
  return [...s].sort();
}

/** The variant key: primary plus each vary header's name and request value (absent ≠ empty). */
export function variantKey(primary: string, vary: readonly string[], headers: IncomingHttpHeaders): string {
  let s = primary;
  for (const name of vary) {
    const v = headers[name];
    s += `\0${name}`;
    s += v === undefined ? "\u0001" : `=${Array.isArray(v) ? v.join(", ") : v}`;
  }
  return hash("sha256", s, "hex");
}
