// The WAF rule and template editors' form model; what every policy rule's form shares (name, priority,
// enabled, scope, `when`, and the spec copy the lists send back); the small parsers they need: scope
// text ↔ lists, "line L, column C" in a CEL error → an offset in the textarea, "at offset N" in a
// template error → line and column, priorities for moving a rule up or down. Pure: unit-tested in
// test/unit/ui/policies.test.ts.
import { clone, create, type Message } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import {
  CaptchaFallback,
  CaptchaKind,
  CaptchaProviderSpecSchema,
  WafAction,
  WafRuleSpecSchema,
  type CaptchaProvider,
  type CaptchaProviderSpec,
  type Scope,
  type WafRule,
  type WafRuleSpec, NoScriptFallback } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { FormError, parseWhole, splitList, type HeaderRow } from "./route-form.ts";
import { formToWaitingRoom, waitingRoomSummary, waitingRoomToForm, type WaitingRoomForm } from "./waiting-room-form.ts";

export { FormError, splitList };

export type BodySource = "default" | "template" | "inline";

/** A rule's own answer (a WAF block, a rate limit's limited answer): status, body and headers. */
export interface AnswerForm {
  /** Empty = the rule's default (403 for a block, 429 for a rate limit). */
  status: string;
  /** Warren's error page, a template, or inline text. */
  bodySource: BodySource;
  templateId: string;
  body: string;
  contentType: string;
  headers: HeaderRow[];
}

interface AnswerSpec {
  status: number;
  templateId: string;
  body: string;
  contentType: string;
  headers: readonly { name: string; value: string }[];
}

export function answerToForm(a: AnswerSpec | undefined): AnswerForm {
  return {
    status: a && a.status !== 0 ? String(a.status) : "",
    bodySource: a?.templateId ? "template" : a?.body ? "inline" : "default",
    templateId: a?.templateId ?? "",
    body: a?.body ?? "",
    contentType: a?.contentType ?? "",
    headers: (a?.headers ?? []).map((h) => ({ name: h.name, value: h.value })),
  };
}

/** The answer to send: only the chosen body source's fields, no blank header rows. `field` is the spec's name for it ("block", "response"), for the status's FormError. */
export function formToAnswer(f: AnswerForm, field: string) {
  return {
    status: parseWhole(f.status, `${field}.status`, { max: 999 }),
    templateId: f.bodySource === "template" ? f.templateId : "",
    body: f.bodySource === "inline" ? f.body : "",
    contentType: f.bodySource === "inline" ? f.contentType.trim() : "",
    headers: f.headers.filter((h) => h.name.trim() !== "" || h.value !== "").map((h) => ({ name: h.name.trim(), value: h.value })),
  };
}

export interface RuleForm extends RuleBasicsForm, AnswerForm {
  action: WafAction;
  /** Challenge: leading zero bits (empty = 16), pass lifetime in seconds (empty = 3600), page template (empty = built in). */
  difficulty: string;
  passTtl: string;
  challengeTemplateId: string;
  /** "Check with": empty = proof of work, else a captcha provider's id. */
  captchaProviderId: string;
  providerFallback: CaptchaFallback;
  /** What a browser without JavaScript gets, and for the captcha answer, the reCAPTCHA provider. */
  noScript: NoScriptFallback;
  noScriptProviderId: string;
  waitingRoom: WaitingRoomForm;
}

export function joinList(items: readonly string[] | undefined): string {
  return (items ?? []).join(", ");
}

/** What every policy rule's spec has (WAF, rate limit, shaper, cache rule): name, order, on/off, scope, `when`. */
export interface RuleBasicsSpec {
  name: string;
  priority: number;
  enabled?: boolean;
  scope?: Scope;
  when: string;
}

/** Those fields as the editors' form text (scope lists comma-separated). */
export interface RuleBasicsForm {
  name: string;
  priority: string;
  enabled: boolean;
  /** Comma-separated. */
  hosts: string;
  pathPrefixes: string;
  methods: string;
  when: string;
}

export function ruleBasicsToForm(spec: RuleBasicsSpec | undefined): RuleBasicsForm {
  return {
    name: spec?.name ?? "",
    priority: spec && spec.priority !== 0 ? String(spec.priority) : "",
    enabled: spec?.enabled ?? true,
    hosts: joinList(spec?.scope?.hosts),
    pathPrefixes: joinList(spec?.scope?.pathPrefixes),
    methods: joinList(spec?.scope?.methods),
    when: spec?.when ?? "",
  };
}

/** The form's basics as spec fields; throws FormError for a priority that is not a whole number. */
export function formToRuleBasics(f: RuleBasicsForm) {
  return {
    name: f.name.trim(),
    priority: parseWhole(f.priority, "priority", { signed: true, max: 1_000_000 }),
    enabled: f.enabled,
    scope: { hosts: splitList(f.hosts), pathPrefixes: splitList(f.pathPrefixes), methods: splitList(f.methods).map((m) => m.toUpperCase()) },
    when: f.when,
  };
}

/** A copy of a rule's spec with enabled or priority changed (the lists' toggle and moves send the whole spec back). */
export function ruleSpecWith<S extends Message & { enabled?: boolean; priority: number }>(schema: GenMessage<S>, rule: { spec?: S }, patch: { enabled?: boolean; priority?: number }): S {
  const spec = rule.spec ? clone(schema, rule.spec) : create(schema);
  if (patch.enabled !== undefined) spec.enabled = patch.enabled;
  if (patch.priority !== undefined) spec.priority = patch.priority;
  return spec;
}

export function ruleToForm(spec: WafRuleSpec | undefined): RuleForm {
  const b = spec?.block;
  return {
    ...ruleBasicsToForm(spec),
    action: spec?.action === WafAction.ALLOW || spec?.action === WafAction.CHALLENGE || spec?.action === WafAction.WAITING_ROOM ? spec.action : WafAction.BLOCK,
    ...answerToForm(spec?.block),
    difficulty: spec?.challenge?.difficulty ? String(spec.challenge.difficulty) : "",
    passTtl: spec?.challenge?.passTtlSeconds ? String(spec.challenge.passTtlSeconds) : "",
    challengeTemplateId: spec?.challenge?.templateId ?? "",
    captchaProviderId: spec?.challenge?.captchaProviderId ?? "",
    providerFallback: spec?.challenge?.providerFallback === CaptchaFallback.ALLOW ? CaptchaFallback.ALLOW : CaptchaFallback.BLOCK,
    noScript: spec?.challenge?.noScript ?? NoScriptFallback.ASK,
    noScriptProviderId: spec?.challenge?.noScriptCaptchaProviderId ?? "",
    waitingRoom: waitingRoomToForm(spec?.waitingRoom),
  };
}

/** The spec to send; throws FormError for what the form can tell is wrong on its own (a non-number). */
export function formToRuleSpec(f: RuleForm): WafRuleSpec {
  const spec = create(WafRuleSpecSchema, {
    ...formToRuleBasics(f),
    action: f.action,
  });
  if (f.action === WafAction.BLOCK) {
    spec.block = create(WafRuleSpecSchema, {
      block: formToAnswer(f, "block"),
    }).block;
  }
  if (f.action === WafAction.CHALLENGE) {
    spec.challenge = create(WafRuleSpecSchema, {
      challenge: {
        // The difficulty is for proof of work only; a captcha rule sends none.
        difficulty: f.captchaProviderId === "" ? parseWhole(f.difficulty, "challenge.difficulty", { max: 64 }) : 0,
        passTtlSeconds: parseWhole(f.passTtl, "challenge.pass_ttl_seconds", { max: 100_000_000 }),
        templateId: f.challengeTemplateId,
        captchaProviderId: f.captchaProviderId,
        providerFallback: f.captchaProviderId === "" ? CaptchaFallback.BLOCK : f.providerFallback,
        noScript: f.noScript,
        noScriptCaptchaProviderId: f.noScript === NoScriptFallback.CAPTCHA ? f.noScriptProviderId : "",
      },
    }).challenge;
  }
  if (f.action === WafAction.WAITING_ROOM) spec.waitingRoom = formToWaitingRoom(f.waitingRoom);
  return spec;
}

export interface ProviderForm {
  name: string;
  kind: CaptchaKind;
  siteKey: string;
  /** Write-only: always starts empty; empty on save keeps the stored secret. */
  secretKey: string;
  verifyUrl: string;
  scriptUrl: string;
}

export const CAPTCHA_KIND_LABELS: readonly (readonly [CaptchaKind, string])[] = [
  [CaptchaKind.TURNSTILE, "Cloudflare Turnstile"],
  [CaptchaKind.HCAPTCHA, "hCaptcha"],
  [CaptchaKind.RECAPTCHA_V2, "Google reCAPTCHA v2"],
];

export function captchaKindLabel(kind: CaptchaKind | undefined): string {
  return CAPTCHA_KIND_LABELS.find(([k]) => k === kind)?.[1] ?? "unknown";
}

/** The editor's form for a provider (the secret is never known to the UI). */
export function providerToForm(p: CaptchaProvider | undefined): ProviderForm {
  const s = p?.spec;
  return { name: s?.name ?? "", kind: s?.kind || CaptchaKind.TURNSTILE, siteKey: s?.siteKey ?? "", secretKey: "", verifyUrl: s?.verifyUrl ?? "", scriptUrl: s?.scriptUrl ?? "" };
}

export function formToProviderSpec(f: ProviderForm): CaptchaProviderSpec {
  return create(CaptchaProviderSpecSchema, { name: f.name.trim(), kind: f.kind, siteKey: f.siteKey.trim(), secretKey: f.secretKey.trim(), verifyUrl: f.verifyUrl.trim(), scriptUrl: f.scriptUrl.trim() });
}

/** "hosts app.test · prefixes /admin · methods POST", or "every request". */
export function scopeSummary(scope: Scope | undefined): string {
  const parts: string[] = [];
  if (scope?.hosts.length) parts.push(`hosts ${scope.hosts.join(", ")}`);
  if (scope?.pathPrefixes.length) parts.push(`prefixes ${scope.pathPrefixes.join(", ")}`);
  if (scope?.methods.length) parts.push(`methods ${scope.methods.join(", ")}`);
  return parts.length === 0 ? "every request" : parts.join(" · ");
}

export function actionSummary(spec: WafRuleSpec | undefined): string {
  if (spec?.action === WafAction.ALLOW) return "allow";
  if (spec?.action === WafAction.WAITING_ROOM) return waitingRoomSummary(spec.waitingRoom);
  if (spec?.action === WafAction.CHALLENGE) return spec.challenge?.captchaProviderId ? "challenge (captcha)" : `challenge (${spec.challenge?.difficulty || 16} bits)`;
  return `block ${spec?.block?.status || 403}`;
}

/** Line and column (1-based) named by a CEL error message ("line 2, column 5: …"), if any. */
export function parseLineColumn(message: string): { line: number; column: number } | undefined {
  const m = /\bline (\d+), column (\d+)\b/.exec(message);
  if (!m) return undefined;
  return { line: Number(m[1]), column: Number(m[2]) };
}

/** The string offset of a 1-based line and column in `source`, clamped to the line and to the source. */
export function offsetOf(source: string, line: number, column: number): number {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = source.indexOf("\n", start);
    if (nl < 0) return source.length;
    start = nl + 1;
  }
  let end = source.indexOf("\n", start);
  if (end < 0) end = source.length;
  return Math.min(start + Math.max(column - 1, 0), end);
}

/**
 * Where a save-time CEL error points in the textarea's text. The server trims the expression before
 * checking it, so its line and column count from the first non-blank character.
 */
export function whenErrorOffset(source: string, message: string): number | undefined {
  const at = parseLineColumn(message);
  if (!at) return undefined;
  const lead = source.length - source.trimStart().length;
  return lead + offsetOf(source.slice(lead), at.line, at.column);
}

/** 1-based line and column of a string offset. */
export function lineColumnOf(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: Math.min(offset, source.length) - start + 1 };
}

/** The offset a template error names ("unknown placeholder {{x}} at offset 12 …"), if any. */
export function parseOffset(message: string): number | undefined {
  const m = /\bat offset (\d+)\b/.exec(message);
  return m ? Number(m[1]) : undefined;
}

/**
 * The priority changes that move rule `index` of `rules` (in evaluation order) one place up (-1) or
 * down (+1): swap priorities with the neighbour, or, when they are equal (id order decides), put
 * the moved rule one before or after it. Empty at either end.
 */
export function movePriorities(rules: readonly { id: string; spec?: { priority: number } | undefined }[], index: number, dir: -1 | 1): { id: string; priority: number }[] {
  const r = rules[index];
  const n = rules[index + dir];
  if (!r || !n) return [];
  const rp = r.spec?.priority ?? 0;
  const np = n.spec?.priority ?? 0;
  if (rp === np) return [{ id: r.id, priority: np + dir }];
  return [
    { id: r.id, priority: np },
    { id: n.id, priority: rp },
  ];
}

/** Rendered HTML the management CSP would refuse parts of in a srcdoc frame (inline styles, scripts, handlers). */
export function hasInlineActiveContent(html: string): boolean {
  return /<style[\s>]|<script[\s>]|\sstyle\s*=|\son[a-z]+\s*=|javascript:/i.test(html);
}

export function isHtml(contentType: string): boolean {
  const t = contentType.trim() === "" ? "text/html" : contentType.trim();
  return /^(text\/html|application\/xhtml\+xml)\b/i.test(t);
}

/** A copy of a rule's spec with some fields changed (the list's toggle and moves send the whole spec back). */
export function specWith(rule: WafRule, patch: Partial<Pick<WafRuleSpec, "enabled" | "priority">>): WafRuleSpec {
  return ruleSpecWith(WafRuleSpecSchema, rule, patch);
}
