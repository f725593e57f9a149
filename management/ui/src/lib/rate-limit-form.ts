// The rate-limit editor's form model: RateLimitRuleSpec ↔ form text, the key-part list (client_ip,
// header:NAME, …) as rows of a kind and a name, the window as a number and a unit (exact ms), what
// the list shows ("100 / 1 min", the store's status). Pure: unit-tested in
// test/unit/ui/rate-limit-form.test.ts. Real validation is the server's; its errors name the spec's
// fields (`key_parts[2]`, `window_ms`, `response.headers[0].name`) and the editor shows them there.
import { create } from "@bufbuild/protobuf";
import { RateLimitAlgorithm, RateLimitRuleSpecSchema, StoreFailMode, type RateLimitRule, type RateLimitRuleSpec } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import type { GetRateLimitStoreStatusResponse } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import type { ApiProblem } from "./errors.ts";
import { FormError, parseWhole } from "./route-form.ts";
import { answerToForm, formToAnswer, formToRuleBasics, ruleBasicsToForm, ruleSpecWith, type AnswerForm, type RuleBasicsForm } from "./policy-form.ts";

export { FormError };

/** The server's limit on key parts (proxy/policy/key-parts.ts). */
export const MAX_KEY_PARTS = 8;

export type KeyPartKind = "client_ip" | "host" | "method" | "path" | "header" | "cookie" | "query";

export const KEY_PART_KINDS: readonly (readonly [KeyPartKind, string])[] = [
  ["client_ip", "Client address"],
  ["host", "Host"],
  ["method", "Method"],
  ["path", "Path"],
  ["header", "Request header…"],
  ["cookie", "Cookie…"],
  ["query", "Query parameter…"],
];

/** Kinds that take a name (`header:x-api-key`). */
export function kindNeedsName(kind: KeyPartKind): boolean {
  return kind === "header" || kind === "cookie" || kind === "query";
}

export interface KeyPartRow {
  kind: KeyPartKind;
  /** For header, cookie and query. */
  name: string;
}

/** "header:X-Api-Key" → {header, X-Api-Key}; a part the UI has no kind for is undefined. */
export function parseKeyPart(part: string): KeyPartRow | undefined {
  const p = part.trim();
  if (p === "client_ip" || p === "host" || p === "method" || p === "path") return { kind: p, name: "" };
  const colon = p.indexOf(":");
  if (colon < 0) return undefined;
  const kind = p.slice(0, colon);
  if (kind === "header" || kind === "cookie" || kind === "query") return { kind, name: p.slice(colon + 1) };
  return undefined;
}

export function formatKeyPart(row: KeyPartRow): string {
  return kindNeedsName(row.kind) ? `${row.kind}:${row.name.trim()}` : row.kind;
}

/** Stored key parts as rows; none = the server's default, one client_ip row. */
export function keyPartsToRows(parts: readonly string[] | undefined): KeyPartRow[] {
  if (!parts || parts.length === 0) return [{ kind: "client_ip", name: "" }];
  // A part the UI cannot show as a kind (never stored: the server refuses them) is kept as a header name, visibly.
  return parts.map((p) => parseKeyPart(p) ?? { kind: "header", name: p });
}

export function rowsToKeyParts(rows: readonly KeyPartRow[]): string[] {
  return rows.map(formatKeyPart);
}

/** "client_ip", "client_ip + header:x-api-key". */
export function keyPartsSummary(parts: readonly string[] | undefined): string {
  return parts && parts.length > 0 ? parts.join(" + ") : "client_ip";
}

/**
 * The key-part error the list as a whole shows: one that names the list itself, or an index with no
 * row (the server's "at most 8" names index 8). A row's own error shows under that row.
 */
export function keyPartsListMessage(problem: ApiProblem | undefined, rows: number, field = "key_parts"): string | undefined {
  const f = problem?.field;
  if (!f) return undefined;
  if (f === field) return problem.message;
  const m = new RegExp(`^${field}\\[(\\d+)\\]`).exec(f);
  return m && Number(m[1]) >= rows ? problem.message : undefined;
}

export type WindowUnit = "ms" | "s" | "min" | "h";

export const WINDOW_UNITS: readonly (readonly [WindowUnit, string, number])[] = [
  ["ms", "milliseconds", 1],
  ["s", "seconds", 1000],
  ["min", "minutes", 60_000],
  ["h", "hours", 3_600_000],
];

export const DEFAULT_WINDOW_MS = 60_000;

/** A window in ms as the largest unit it is a whole number of (0 = empty: the server's one minute). */
export function windowToForm(ms: number): { value: string; unit: WindowUnit } {
  if (ms === 0) return { value: "", unit: "min" };
  for (let i = WINDOW_UNITS.length - 1; i >= 0; i--) {
    const [unit, , size] = WINDOW_UNITS[i]!;
    if (ms % size === 0) return { value: String(ms / size), unit };
  }
  return { value: String(ms), unit: "ms" };
}

/** The window in ms: a whole number of the unit (empty = 0, the server's default). */
export function windowToMs(value: string, unit: WindowUnit): number {
  const n = parseWhole(value, "window_ms");
  const size = WINDOW_UNITS.find(([u]) => u === unit)?.[2] ?? 1;
  const ms = n * size;
  if (ms > 4_294_967_295) throw new FormError("window_ms", "is too long (at most one day)");
  return ms;
}

/** "1 min", "90 s", "1500 ms", "2 h": exact. */
export function windowText(ms: number): string {
  const { value, unit } = windowToForm(ms || DEFAULT_WINDOW_MS);
  return `${value} ${unit}`;
}

/** What the list shows: "100 / 1 min", "10 / 1 s, burst 50". */
export function limitSummary(spec: RateLimitRuleSpec | undefined): string {
  if (!spec) return "—";
  const base = `${spec.limit} / ${windowText(spec.windowMs)}`;
  if (spec.algorithm === RateLimitAlgorithm.TOKEN_BUCKET) return `${base}, burst ${spec.burst || spec.limit}`;
  return base;
}

export const ALGORITHMS: readonly (readonly [RateLimitAlgorithm, string, string])[] = [
  [RateLimitAlgorithm.FIXED_WINDOW, "fixed window", "Fixed window: the limit per window; windows start on the clock (a burst can straddle two)."],
  [RateLimitAlgorithm.SLIDING_WINDOW, "sliding window", "Sliding window: the last window's requests, estimated from two fixed windows; smooths edge bursts."],
  [RateLimitAlgorithm.TOKEN_BUCKET, "token bucket", "Token bucket: a bucket of `burst` requests refilled at the limit per window (GCRA)."],
];

export function algorithmName(a: RateLimitAlgorithm | undefined): string {
  return ALGORITHMS.find(([x]) => x === (a || RateLimitAlgorithm.FIXED_WINDOW))?.[1] ?? "unknown";
}

export function failModeName(m: StoreFailMode | undefined): string {
  return m === StoreFailMode.CLOSED ? "fail closed" : "fail open";
}

export interface RateLimitForm extends RuleBasicsForm, AnswerForm {
  keyParts: KeyPartRow[];
  algorithm: RateLimitAlgorithm;
  limit: string;
  windowValue: string;
  windowUnit: WindowUnit;
  /** Token bucket only; empty = the limit. */
  burst: string;
  failMode: StoreFailMode;
  headersOnAllowed: boolean;
}

const num = (n: number | undefined): string => (n ? String(n) : "");

export function rateLimitToForm(spec: RateLimitRuleSpec | undefined): RateLimitForm {
  const w = windowToForm(spec?.windowMs ?? 0);
  return {
    ...ruleBasicsToForm(spec),
    keyParts: keyPartsToRows(spec?.keyParts),
    algorithm: spec?.algorithm || RateLimitAlgorithm.FIXED_WINDOW,
    limit: num(spec?.limit),
    windowValue: w.value,
    windowUnit: w.unit,
    burst: num(spec?.burst),
    failMode: spec?.failMode === StoreFailMode.CLOSED ? StoreFailMode.CLOSED : StoreFailMode.OPEN,
    headersOnAllowed: spec?.headersOnAllowed ?? false,
    ...answerToForm(spec?.response),
  };
}

/** The spec to send; throws FormError for what the form can tell on its own (a non-number). */
export function formToRateLimitSpec(f: RateLimitForm): RateLimitRuleSpec {
  const tokenBucket = f.algorithm === RateLimitAlgorithm.TOKEN_BUCKET;
  return create(RateLimitRuleSpecSchema, {
    ...formToRuleBasics(f),
    keyParts: rowsToKeyParts(f.keyParts),
    algorithm: f.algorithm,
    limit: parseWhole(f.limit, "limit"),
    windowMs: windowToMs(f.windowValue, f.windowUnit),
    // Only the token bucket has a burst: the other algorithms send none (the server refuses one).
    burst: tokenBucket ? parseWhole(f.burst, "burst") : 0,
    failMode: f.failMode,
    headersOnAllowed: f.headersOnAllowed,
    response: formToAnswer(f, "response"),
  });
}

/** A copy of a rule's spec with enabled or priority changed (the list's toggle and moves send the whole spec). */
export function rateLimitSpecWith(rule: RateLimitRule, patch: { enabled?: boolean; priority?: number }): RateLimitRuleSpec {
  return ruleSpecWith(RateLimitRuleSpecSchema, rule, patch);
}

export interface StoreStatusView {
  tone: "ok" | "bad";
  /** "Counters in memory (this gateway only)", "Redis at redis://h:6379 — healthy". */
  headline: string;
  /** What it means now (empty when all is well). */
  warning: string;
  /** "3 decisions made without it" (Redis only). */
  fallback: string;
}

export function storeStatusView(s: GetRateLimitStoreStatusResponse, failClosedRules = 0): StoreStatusView {
  if (s.kind !== "redis") return { tone: "ok", headline: "Counters in memory (this gateway only)", warning: "", fallback: "" };
  const n = s.fallbackDecisions;
  const fallback = `${n} ${n === 1n ? "decision" : "decisions"} made without it`;
  if (s.healthy) return { tone: "ok", headline: `Redis at ${s.target} — healthy`, warning: "", fallback };
  const closed = failClosedRules > 0 ? ` ${failClosedRules} fail-closed ${failClosedRules === 1 ? "rule refuses" : "rules refuse"} requests (503) until it answers.` : " Fail-closed rules refuse requests (503) until it answers.";
  return {
    tone: "bad",
    headline: `Redis at ${s.target} — unreachable${s.lastError ? `: ${s.lastError}` : ""}`,
    warning: `Fail-open rules are falling back to memory (counters per gateway, not shared).${closed}`,
    fallback,
  };
}
