// WAF rules and templates, from their stored specs to the data plane's compiled form (part of the
// one snapshot compile: an invalid stored policy fails the write that would have made it live).
import { createHash } from "node:crypto";
import { CaptchaFallback, TemplateKind, WafAction, type CaptchaProviderSpec, type TemplateSpec, type WafRuleSpec, NoScriptFallback } from "../../proto/gen/warren/v1/policy_pb.ts";
import {
  CAPTCHA_KINDS,
  captchaPageCsp,
  compileWhen,
  ScopeMatcher,
  type BlockBody,
  type CaptchaSettings,
  type CompiledTemplate,
  type CompiledWafRule,
  type WafRuleAction,
  type NoScriptFallback as NoScriptAction,
} from "../../proxy/index.ts";
import { fieldError } from "../errors.ts";
import type { CaptchaProviderRow, TemplateRow, WafRuleRow } from "../store/policy-repo.ts";
import { waitingRoomAction } from "./compile-waiting-room.ts";
import { CAPTCHA_KIND_NAMES, compileTemplateSpec, DEFAULT_DIFFICULTY, DEFAULT_PASS_TTL_S } from "./validate-policy.ts";

export interface StoredPolicies {
  readonly wafRules: readonly { readonly row: WafRuleRow; readonly spec: WafRuleSpec }[];
  readonly templates: readonly { readonly row: TemplateRow; readonly spec: TemplateSpec }[];
  readonly captchaProviders?: readonly { readonly row: CaptchaProviderRow; readonly spec: CaptchaProviderSpec }[];
}

type Provider = { readonly row: CaptchaProviderRow; readonly spec: CaptchaProviderSpec };

/** A challenge rule's provider in the data plane's form: defaults filled in, the secret from its column. */
function captchaSettings(p: Provider, fallback: CaptchaFallback): CaptchaSettings {
  const kind = CAPTCHA_KIND_NAMES[p.spec.kind];
  if (kind === undefined) throw fieldError("spec.challenge.captcha_provider_id", `captcha provider ${p.row.id} has no kind`);
  const scriptUrl = p.spec.scriptUrl || CAPTCHA_KINDS[kind].scriptUrl;
  return Object.freeze<CaptchaSettings>({
    providerId: p.row.id,
    kind,
    siteKey: p.spec.siteKey,
    secret: p.row.secret_key,
    verifyUrl: p.spec.verifyUrl || CAPTCHA_KINDS[kind].verifyUrl,
    scriptUrl,
    fallback: fallback === CaptchaFallback.ALLOW ? "allow" : "block",
    csp: captchaPageCsp(kind, scriptUrl),
  });
}

/** An answer's body (block, rate limited): its template, the inline body, or Warren's error page. */
export function answerBody(b: { templateId: string; body: string; contentType: string }, field: string, templates: ReadonlyMap<string, CompiledTemplate>): BlockBody {
  if (b.templateId !== "") {
    const template = templates.get(b.templateId);
    if (!template) throw fieldError(`${field}.template_id`, `no template ${b.templateId}`);
    return { kind: "template", template };
  }
  if (b.body !== "") return { kind: "literal", contentType: b.contentType || "text/plain; charset=utf-8", body: Buffer.from(b.body) };
  return { kind: "error_page" };
}

/** Changes with a rule's stored spec: state kept per rule (passes, queues, counters) is keyed on it. */
export function ruleFingerprint(storedSpec: string): string {
  return createHash("sha256").update(storedSpec).digest("base64url").slice(0, 16);
}

/** Every template by id, compiled. */
export function compileTemplates(templates: StoredPolicies["templates"]): Map<string, CompiledTemplate> {
  return new Map(templates.map(({ row, spec }) => [row.id, compileTemplateSpec(spec)]));
}

function blockAction(spec: WafRuleSpec, templates: ReadonlyMap<string, CompiledTemplate>): WafRuleAction {
  const b = spec.block!;
  const headers = b.headers.flatMap((h) => [h.name, h.value]);
  return { kind: "block", status: b.status || 403, headers, body: answerBody(b, "spec.block", templates) };
}

function challengeAction(
  spec: WafRuleSpec,
  templates: ReadonlyMap<string, CompiledTemplate>,
  builtInPage: CompiledTemplate | undefined,
  providers: ReadonlyMap<string, Provider>,
): WafRuleAction {
  const ch = spec.challenge!;
  const page = ch.templateId === "" ? builtInPage : templates.get(ch.templateId);
  if (!page) throw fieldError("spec.challenge.template_id", ch.templateId === "" ? "there is no built-in challenge page" : `no template ${ch.templateId}`);
  let captcha: CaptchaSettings | undefined;
  if (ch.captchaProviderId !== "") {
    const p = providers.get(ch.captchaProviderId);
    if (!p) throw fieldError("spec.challenge.captcha_provider_id", `no captcha provider ${ch.captchaProviderId}`);
    captcha = captchaSettings(p, ch.providerFallback);
  }
  let noScript: NoScriptAction = { kind: "ask" };
  if (ch.noScript === NoScriptFallback.BLOCK) noScript = { kind: "block" };
  else if (ch.noScript === NoScriptFallback.CAPTCHA) {
    const p = providers.get(ch.noScriptCaptchaProviderId);
    if (!p) throw fieldError("spec.challenge.no_script_captcha_provider_id", `no captcha provider ${ch.noScriptCaptchaProviderId}`);
    const settings = captchaSettings(p, ch.providerFallback);
    // reCAPTCHA v2's no-JavaScript check lives beside its script: https://www.google.com/recaptcha/api/fallback?k=…
    const fallbackUrl = `${new URL(settings.scriptUrl).origin}/recaptcha/api/fallback?k=${encodeURIComponent(settings.siteKey)}`;
    noScript = { kind: "captcha", captcha: settings, fallbackUrl };
  }
  return { kind: "challenge", difficulty: ch.difficulty || DEFAULT_DIFFICULTY, passTtlS: ch.passTtlSeconds || DEFAULT_PASS_TTL_S, page, captcha, noScript };
}

/** The enabled rules in evaluation order (the rows come sorted by priority, then id). */
export function compilePolicies(p: StoredPolicies): readonly CompiledWafRule[] {
  const templates = new Map<string, CompiledTemplate>();
  let builtInPage: CompiledTemplate | undefined;
  let builtInWaitingPage: CompiledTemplate | undefined;
  for (const { row, spec } of p.templates) {
    const t = compileTemplateSpec(spec);
    templates.set(row.id, t);
    if (row.built_in === 1 && spec.kind === TemplateKind.CHALLENGE_PAGE) builtInPage = t;
    if (row.built_in === 1 && spec.kind === TemplateKind.WAITING_ROOM_PAGE) builtInWaitingPage = t;
  }
  const providers = new Map<string, Provider>((p.captchaProviders ?? []).map((x) => [x.row.id, x]));
  const rules: CompiledWafRule[] = [];
  for (const { row, spec } of p.wafRules) {
    if (spec.enabled === false) continue;
    const s = spec.scope;
    const action: WafRuleAction =
      spec.action === WafAction.WAITING_ROOM
        ? waitingRoomAction(spec, templates, builtInWaitingPage)
        : spec.action === WafAction.ALLOW
          ? { kind: "allow" }
          : spec.action === WafAction.CHALLENGE
            ? challengeAction(spec, templates, builtInPage, providers)
            : blockAction(spec, templates);
    rules.push(
      Object.freeze<CompiledWafRule>({
        id: row.id,
        name: spec.name,
        fingerprint: ruleFingerprint(row.spec),
        scope: new ScopeMatcher({ hosts: s?.hosts ?? [], pathPrefixes: s?.pathPrefixes ?? [], methods: s?.methods ?? [] }),
        when: spec.when === "" ? undefined : compileWhen(spec.when),
        action,
      }),
    );
  }
  return Object.freeze(rules);
}
