// Which stored entries a purge removes: one predicate both tiers (and anything listing entries) use,
// so memory and disk never disagree on what "/a" or "host" means.
import { normalizeHost } from "../../lib/host-name.ts";
import { matchPathPrefix, normalizePath } from "../routing/path-prefix.ts";
import type { EntryMeta, PurgeFilter } from "./types.ts";

type Target = Pick<EntryMeta, "ruleId" | "host" | "path" | "url">;

/**
 * The predicate for `filter`. Hosts compare in Warren's host form (lower case, no port); path
 * prefixes are segment-aware on normalized paths ("/a" matches "/a" and "/a/x", not "/ab").
 */
export function purgeMatcher(filter: PurgeFilter): (meta: Target) => boolean {
  switch (filter.kind) {
    case "all":
      return () => true;
    case "rule":
      return (m) => m.ruleId === filter.ruleId;
    case "host": {
      const host = normalizeHost(filter.host);
      return (m) => m.host === host;
    }
    case "path_prefix": {
      const host = filter.host === "" ? "" : normalizeHost(filter.host);
      const prefix = normalizePath(filter.pathPrefix === "" ? "/" : filter.pathPrefix);
      return (m) => (host === "" || m.host === host) && matchPathPrefix(prefix, normalizePath(m.path));
    }
    case "url":
      return (m) => m.url === filter.url;
  }
}
