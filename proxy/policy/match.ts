// The scope every policy rule has (DESIGN.md §5): hosts, path prefixes and methods, compiled once
// into the same matchers routes use. Empty lists match anything; within a list any entry matches;
// all three must match. The rule's CEL `when` (proxy/policy/cel.ts) runs only after the scope matched.
import { hostMatches, parseHostPattern, validateHostPattern, type HostPattern } from "../routing/host-pattern.ts";
import { matchPathPrefix, parsePathPrefix, validatePathPrefix } from "../routing/path-prefix.ts";
import { validateMethod } from "../routing/router.ts";

export interface ScopeSpec {
  readonly hosts: readonly string[];
  readonly pathPrefixes: readonly string[];
  readonly methods: readonly string[];
}

export interface ScopeProblem {
  /** The proto field: hosts, path_prefixes or methods. */
  readonly field: "hosts" | "path_prefixes" | "methods";
  readonly index: number;
  readonly message: string;
}

const MAX_ENTRIES = 64;

/** The first problem of a scope, or undefined when every entry is valid. */
export function validateScope(s: ScopeSpec): ScopeProblem | undefined {
  const lists = [
    ["hosts", s.hosts, validateHostPattern],
    ["path_prefixes", s.pathPrefixes, validatePathPrefix],
    ["methods", s.methods, validateMethod],
  ] as const;
  for (const [field, list, check] of lists) {
    if (list.length > MAX_ENTRIES) return { field, index: MAX_ENTRIES, message: `at most ${MAX_ENTRIES} entries` };
    for (let i = 0; i < list.length; i++) {
      const err = check(list[i]!);
      if (err !== undefined) return { field, index: i, message: err };
    }
  }
  return undefined;
}

export class ScopeMatcher {
  private readonly hosts: readonly HostPattern[];
  private readonly prefixes: readonly string[];
  private readonly methods: ReadonlySet<string> | undefined;
  /** True when the scope matches every request (all lists empty). */
  readonly any: boolean;

  /** `s` must have passed validateScope. */
  constructor(s: ScopeSpec) {
    this.hosts = s.hosts.map(parseHostPattern);
    this.prefixes = s.pathPrefixes.map(parsePathPrefix);
    let methods: Set<string> | undefined;
    if (s.methods.length > 0) {
      methods = new Set(s.methods);
      // As in routes: a scope on GET covers HEAD, which is a GET without the body.
      if (methods.has("GET")) methods.add("HEAD");
    }
    this.methods = methods;
    this.any = this.hosts.length === 0 && this.prefixes.length === 0 && methods === undefined;
  }

  /** `host` normalized (lower case, no port), `path` in routing form (normalizePath), `method` as received. */
  matches(host: string, path: string, method: string): boolean {
    if (this.any) return true;
    if (this.methods !== undefined && !this.methods.has(method)) return false;
    if (this.hosts.length > 0 && !this.hosts.some((p) => hostMatches(p, host))) return false;
    if (this.prefixes.length > 0 && !this.prefixes.some((p) => matchPathPrefix(p, path))) return false;
    return true;
  }
}
