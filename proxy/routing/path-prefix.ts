// Segment-aware path prefixes and the one normal form that routes and policies compare paths in.

const MAX_PREFIX = 1024;
// RFC 3986 pchar plus "/" (unreserved, sub-delims, ":", "@", and "%" of pct-encoded).
const PREFIX_CHARS_RE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function isUnreserved(b: number): boolean {
  return (
    (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b === 45 /* - */ || b === 46 /* . */ || b === 95 /* _ */ || b === 126 /* ~ */
  );
}

const HEX = "0123456789ABCDEF";

/**
 * The routing form of a path (never what is forwarded: upstreams get the raw target).
 * - percent-encoded unreserved characters are decoded (`/%61pi` → `/api`),
 * - every other percent-encoding gets upper-case hex (`%2f` → `%2F`; it stays encoded, so an
 *   encoded slash is never a segment boundary),
 * - runs of `/` are merged into one (`//admin` → `/admin`), as nginx's merge_slashes does, so a
 *   policy scoped to `/admin` cannot be sidestepped by an upstream that merges slashes itself.
 * Nothing else changes: no case folding, no dot-segment removal (hygiene rejects dot segments).
 * Precondition: `path` passed hygiene (valid percent-encoding). Returns the input when unchanged.
 */
export function normalizePath(path: string): string {
  const n = path.length;
  let i = 0;
  for (; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c === 37 /* % */ || (c === 47 && i + 1 < n && path.charCodeAt(i + 1) === 47)) break;
  }
  if (i === n) return path;
  let out = path.slice(0, i);
  for (; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c === 47) {
      if (out.length > 0 && out.charCodeAt(out.length - 1) === 47) continue;
      out += "/";
    } else if (c === 37 && i + 2 < n) {
      const h = hexVal(path.charCodeAt(i + 1));
      const l = hexVal(path.charCodeAt(i + 2));
      if (h < 0 || l < 0) {
        out += "%";
        continue;
      }
      const b = (h << 4) | l;
      out += isUnreserved(b) ? String.fromCharCode(b) : "%" + HEX[h]! + HEX[l]!;
      i += 2;
    } else {
      out += path[i];
    }
  }
  return out;
}

/** An error message for an invalid path prefix, or undefined when it is valid. */
export function validatePathPrefix(s: string): string | undefined {
  if (!s.startsWith("/")) return 'must start with "/"';
  if (s.length > MAX_PREFIX) return `must be at most ${MAX_PREFIX} characters`;
  if (s.includes("?") || s.includes("#")) return "must be a path only, without a query or fragment";
  if (!PREFIX_CHARS_RE.test(s)) return "may contain only URL path characters (percent-encode anything else)";
  for (let i = s.indexOf("%"); i >= 0; i = s.indexOf("%", i + 1)) {
    if (i + 2 >= s.length || hexVal(s.charCodeAt(i + 1)) < 0 || hexVal(s.charCodeAt(i + 2)) < 0) {
      return "contains invalid percent-encoding";
    }
  }
  for (const seg of normalizePath(s).split("/")) {
    if (seg === "." || seg === "..") return "must not contain . or .. segments";
  }
  return undefined;
}

/** The normalized form of a valid prefix; throws on an invalid one. */
export function parsePathPrefix(s: string): string {
  const err = validatePathPrefix(s);
  if (err !== undefined) throw new TypeError(`path prefix ${JSON.stringify(s)}: ${err}`);
  return normalizePath(s);
}

/**
 * Segment-aware prefix match on normalized paths: "/api" matches "/api", "/api/" and "/api/x" but
 * not "/apix"; a prefix ending in "/" ("/api/") matches only what is under it; "/" matches all.
 */
export function matchPathPrefix(prefix: string, path: string): boolean {
  const pl = prefix.length;
  if (pl === 1) return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === pl || prefix.charCodeAt(pl - 1) === 47 || path.charCodeAt(pl) === 47;
}
