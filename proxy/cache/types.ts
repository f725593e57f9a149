// The HTTP cache (DESIGN.md §5 stage 9): the compiled rule the snapshot carries, the global settings,
// and the store contract both tiers implement (memory: lru-cache within a byte budget; disk: body
// files under $CONFIG_DIR/cache/ with metadata in SQLite written off the request path). The data
// plane reads only in-memory indexes: a lookup never queries SQLite.
import type { Readable } from "node:stream";
import type { ScopeMatcher } from "../policy/match.ts";
import type { CompiledWhen } from "../policy/cel.ts";

export type QueryMode = "full" | "ignore" | "allowlist" | "denylist";

export interface CompiledCacheRule {
  readonly id: string;
  readonly name: string;
  /** Changes with the spec. */
  readonly fingerprint: string;
  readonly scope: ScopeMatcher;
  readonly when: CompiledWhen | undefined;
  /** Only requests routed to one of these routes / targets; undefined = any. */
  readonly routeIds: ReadonlySet<string> | undefined;
  readonly targetIds: ReadonlySet<string> | undefined;
  /** origin: s-maxage > max-age > Expires, else ttlMs; fixed: always ttlMs. */
  readonly ttlMode: "origin" | "fixed";
  readonly ttlMs: number;
  /** Allow heuristic freshness (RFC 9111 §4.2.2) for responses without explicit freshness. */
  readonly heuristic: boolean;
  /** Which query parameters are part of the key (names sorted, then values, in the key). */
  readonly queryMode: QueryMode;
  readonly queryNames: ReadonlySet<string>;
  /** Lower-case header names always part of the key; merged with the origin's Vary. */
  readonly varyHeaders: readonly string[];
  readonly statuses: ReadonlySet<number>;
  readonly maxObjectBytes: number;
  /** Add `Cache-Status: Warren; …` (RFC 9211) to answers. */
  readonly cacheStatusHeader: boolean;
  /** Requests with a Cookie are cached anyway: the operator says cookies do not change this response. */
  readonly ignoreRequestCookies: boolean;
}

export interface CacheSettings {
  readonly enabled: boolean;
  readonly memoryBytes: number;
  readonly diskBytes: number;
  readonly maxEntries: number;
  /** Bodies up to this size live in the memory tier; larger ones on disk. */
  readonly hotObjectBytes: number;
}

/** What is kept about one stored response (one variant). */
export interface EntryMeta {
  /** The variant's key: primary key plus the values of the vary headers (hex). */
  readonly key: string;
  /** Host, path and normalized query (hex): every variant of one URL shares it. */
  readonly primary: string;
  /** Lower-case header names whose request values select the variant. */
  readonly vary: readonly string[];
  readonly ruleId: string;
  /** Normalized host (no port), path as received, and `host + path + normalized query` (purge by URL). */
  readonly host: string;
  readonly path: string;
  readonly url: string;
  readonly status: number;
  /** Response headers as stored (flat name/value list): hop-by-hop, Set-Cookie and Age removed. */
  readonly headers: readonly string[];
  /** http-cache-semantics CachePolicy.toObject(): freshness, validators, request/response it was made from. */
  readonly policy: Readonly<Record<string, unknown>>;
  /** Body bytes. */
  readonly size: number;
  /** Epoch ms. */
  readonly storedAt: number;
}

export interface StoredEntry {
  readonly meta: EntryMeta;
  /** The body from the start; each call a new stream. */
  open(): Readable;
  /** The whole body when it is in memory (the memory tier): a hit plays it with no stream. Never modified. */
  readonly chunks?: readonly Buffer[];
}

/** Writes one entry while it streams to the client; invisible until commit, gone on abort. */
export interface EntryWriter {
  write(chunk: Buffer): void;
  /** Makes the entry visible atomically (replacing an older one with the same key). */
  commit(): void;
  abort(): void;
}

export type PurgeFilter =
  | { readonly kind: "all" }
  | { readonly kind: "rule"; readonly ruleId: string }
  | { readonly kind: "host"; readonly host: string }
  /** Segment-aware like scopes; `host` empty = every host. */
  | { readonly kind: "path_prefix"; readonly host: string; readonly pathPrefix: string }
  | { readonly kind: "url"; readonly url: string };

export interface TierUsage {
  readonly entries: number;
  readonly bytes: number;
  readonly budgetBytes: number;
}

export interface CacheUsage {
  readonly memory: TierUsage;
  readonly disk: TierUsage;
  readonly hits: number;
  readonly misses: number;
}

export interface CacheStore {
  /** Synchronous: in-memory indexes only. Refreshes the entry's recency. */
  get(key: string): StoredEntry | undefined;
  /** The vary header names last stored for a primary key, or undefined when none is stored. */
  varyOf(primary: string): readonly string[] | undefined;
  /** undefined when the entry cannot be stored (size over the tier's limits, store closed). */
  begin(meta: Omit<EntryMeta, "size">): EntryWriter | undefined;
  /** After a 304: new headers and policy for a stored entry, body unchanged. */
  refresh(key: string, headers: readonly string[], policy: Readonly<Record<string, unknown>>): void;
  delete(key: string): void;
  /** Visible at once: a later get() misses. */
  purge(filter: PurgeFilter): { entries: number; bytes: number };
  usage(): CacheUsage;
  close(): Promise<void>;
}
