// Save-time validation of WAF rules and templates: every problem is invalid_argument naming the
// field (and, for CEL, the line and column), so an invalid policy never reaches the data plane.
import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import {
  CaptchaFallback,
  CaptchaKind,
  CaptchaProviderSpecSchema,
  TemplateKind,
  TemplateSpecSchema,
  WafAction,
  WafRuleSpecSchema,
  type CaptchaProviderSpec,
  type TemplateSpec,
  type WafRuleSpec,
  NoScriptFallback,
} from "../../proto/gen/warren/v1/policy_pb.ts";
import { ApiError, fieldError } from "../errors.ts";
import { CelCheckError, CompiledTemplate, TemplateError, compileWhen, providerUrlProblem, validateKeyParts, validateScope, SAMPLE_VALUES, type CaptchaKindName, type TemplateKindName } from "../../proxy/index.ts";
import { checkHeaders } from "./validate-route.ts";
import { validateWaitingRoom } from "./validate-waiting-room.ts";

const MAX_NAME = 64;
export const DEFAULT_DIFFICULTY = 16;
export const DEFAULT_PASS_TTL_S = 3600;
const MAX_INLINE_BODY = 64 * 1024;
const CONTENT_TYPE_RE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(\s*;\s*[a-z0-9!#$&^_.+-]+=("[^"\r\n]*"|[a-z0-9!#$&^_.+-]+))*$/i;

function checkName(name: string, field: string): string {
  const n = name.trim();
  if (n === "") throw fieldError(field, "is required");
  if (n.length > MAX_NAME) throw fieldError(field, `must be at most ${MAX_NAME} characters`);
  if (/[\u0000-\u001f\u007f]/.test(n)) throw fieldError(field, "must not contain control characters");
  return n;
}

export const TEMPLATE_KINDS: Readonly<Record<number, TemplateKindName>> = {
  [TemplateKind.GENERIC_BODY]: "generic_body",
  [TemplateKind.CHALLENGE_PAGE]: "challenge_page",
  [TemplateKind.WAITING_ROOM_PAGE]: "waiting_room_page",
};

/** Compiles a template spec (the data plane's form) or throws the field-named error. */
export function compileTemplateSpec(spec: TemplateSpec, field = "spec"): CompiledTemplate {
  const kind = TEMPLATE_KINDS[spec.kind];
  if (kind === undefined) throw fieldError(`${field}.kind`, "must be TEMPLATE_KIND_GENERIC_BODY, TEMPLATE_KIND_CHALLENGE_PAGE or TEMPLATE_KIND_WAITING_ROOM_PAGE");
  if (spec.contentType !== "" && !CONTENT_TYPE_RE.test(spec.contentType)) throw fieldError(`${field}.content_type`, "is not a valid media type (e.g. text/html; charset=utf-8)");
  try {
    return CompiledTemplate.compile(kind, spec.contentType, spec.body);
  } catch (e) {
    if (e instanceof TemplateError) throw fieldError(`${field}.body`, e.message);
    throw e;
  }
}

/** Validates (and normalizes) a template spec: it compiles and renders with sample values. */
export function validateTemplate(spec: TemplateSpec | undefined): TemplateSpec {
  if (!spec) throw fieldError("spec", "is required");
  spec.name = checkName(spec.name, "spec.name");
  spec.contentType = spec.contentType.trim();
  compileTemplateSpec(spec).render(SAMPLE_VALUES);
  return spec;
}

export const CAPTCHA_KIND_NAMES: Readonly<Record<number, CaptchaKindName>> = {
  [CaptchaKind.TURNSTILE]: "turnstile",
  [CaptchaKind.HCAPTCHA]: "hcaptcha",
  [CaptchaKind.RECAPTCHA_V2]: "recaptcha_v2",
};

const KEY_RE = /^[\x21-\x7e]+$/;

/**
 * Validates (and normalizes) a captcha provider spec. The secret key is required when `creating`;
 * on update an empty one means "keep the stored secret".
 */
export function validateCaptchaProvider(spec: CaptchaProviderSpec | undefined, creating: boolean): CaptchaProviderSpec {
  if (!spec) throw fieldError("spec", "is required");
  spec.name = checkName(spec.name, "spec.name");
  if (CAPTCHA_KIND_NAMES[spec.kind] === undefined) throw fieldError("spec.kind", "must be CAPTCHA_KIND_TURNSTILE, CAPTCHA_KIND_HCAPTCHA or CAPTCHA_KIND_RECAPTCHA_V2");
  spec.siteKey = spec.siteKey.trim();
  if (spec.siteKey === "") throw fieldError("spec.site_key", "is required");
  if (spec.siteKey.length > 256 || !KEY_RE.test(spec.siteKey)) throw fieldError("spec.site_key", "must be at most 256 printable ASCII characters without spaces");
  spec.secretKey = spec.secretKey.trim();
  if (spec.secretKey === "" && creating) throw fieldError("spec.secret_key", "is required");
  if (spec.secretKey !== "" && (spec.secretKey.length > 512 || !KEY_RE.test(spec.secretKey))) throw fieldError("spec.secret_key", "must be at most 512 printable ASCII characters without spaces");
  for (const [f, field] of [
    ["verifyUrl", "spec.verify_url"],
    ["scriptUrl", "spec.script_url"],
  ] as const) {
    spec[f] = spec[f].trim();
    if (spec[f] === "") continue;
    if (spec[f].length > 2048) throw fieldError(field, "must be at most 2048 characters");
    const problem = providerUrlProblem(spec[f]);
    if (problem) throw fieldError(field, problem);
  }
  return spec;
}

/** The stored form of a provider spec: everything but the secret (kept in its own column). */
export function captchaProviderSpecToJson(spec: CaptchaProviderSpec): string {
  return JSON.stringify(toJson(CaptchaProviderSpecSchema, create(CaptchaProviderSpecSchema, { ...spec, secretKey: "" })));
}

export function captchaProviderSpecFromJson(json: string): CaptchaProviderSpec {
  try {
    return fromJson(CaptchaProviderSpecSchema, JSON.parse(json) as JsonValue);
  } catch (e) {
    throw new ApiError("internal_error", "a stored captcha provider is unreadable", { cause: e });
  }
}

/**
 * Validates (and normalizes) a WAF rule spec. `templateKind` looks a template up by id (undefined
 * when there is none); `providerExists` a captcha provider.
 */
export function validateWafRule(
  spec: WafRuleSpec | undefined,
  templateKind: (id: string) => TemplateKind | undefined,
  /** The kind name ("turnstile", "hcaptcha", "recaptcha_v2") of a captcha provider, undefined when there is none. */
  providerKind: (id: string) => string | undefined = () => undefined,
): WafRuleSpec {
  if (!spec) throw fieldError("spec", "is required");
  const scope = checkRuleCommon(spec);
  if (spec.waitingRoom && spec.action !== WafAction.WAITING_ROOM) throw fieldError("spec.waiting_room", "only waiting room rules take waiting room settings");
  switch (spec.action) {
    case WafAction.WAITING_ROOM:
      if (spec.block) throw fieldError("spec.block", "only block rules take block settings");
      if (spec.challenge) throw fieldError("spec.challenge", "only challenge rules take challenge settings");
      spec.waitingRoom = validateWaitingRoom(spec.waitingRoom, templateKind);
      break;
    case WafAction.ALLOW:
      if (spec.block) throw fieldError("spec.block", "only block rules take block settings");
      if (spec.challenge) throw fieldError("spec.challenge", "only challenge rules take challenge settings");
      break;
    case WafAction.CHALLENGE: {
      if (spec.block) throw fieldError("spec.block", "only block rules take block settings");
      const ch = create(WafRuleSpecSchema, { challenge: spec.challenge ?? {} }).challenge!;
      if (ch.difficulty === 0) ch.difficulty = DEFAULT_DIFFICULTY;
      if (ch.difficulty < 8 || ch.difficulty > 26) throw fieldError("spec.challenge.difficulty", "must be 8–26 (leading zero bits; each one doubles the work)");
      if (ch.passTtlSeconds === 0) ch.passTtlSeconds = DEFAULT_PASS_TTL_S;
      if (ch.passTtlSeconds < 60 || ch.passTtlSeconds > 2_592_000) throw fieldError("spec.challenge.pass_ttl_seconds", "must be 60–2592000 (30 days)");
      if (ch.templateId !== "") {
        const kind = templateKind(ch.templateId);
        if (kind === undefined) throw fieldError("spec.challenge.template_id", `no template ${ch.templateId}`);
        if (kind !== TemplateKind.CHALLENGE_PAGE) throw fieldError("spec.challenge.template_id", "must name a CHALLENGE_PAGE template");
      }
      ch.captchaProviderId = ch.captchaProviderId.trim();
      if (ch.captchaProviderId !== "" && providerKind(ch.captchaProviderId) === undefined) throw fieldError("spec.challenge.captcha_provider_id", `no captcha provider ${ch.captchaProviderId}`);
      if (ch.providerFallback !== CaptchaFallback.BLOCK && ch.providerFallback !== CaptchaFallback.ALLOW)
        throw fieldError("spec.challenge.provider_fallback", "must be CAPTCHA_FALLBACK_BLOCK or CAPTCHA_FALLBACK_ALLOW");
      ch.noScriptCaptchaProviderId = ch.noScriptCaptchaProviderId.trim();
      if (ch.noScript === NoScriptFallback.CAPTCHA) {
        const f = "spec.challenge.no_script_captcha_provider_id";
        if (ch.noScriptCaptchaProviderId === "") throw fieldError(f, "is required for NO_SCRIPT_FALLBACK_CAPTCHA");
        const kind = providerKind(ch.noScriptCaptchaProviderId);
        if (kind === undefined) throw fieldError(f, `no captcha provider ${ch.noScriptCaptchaProviderId}`);
        if (kind !== "recaptcha_v2") throw fieldError(f, "must be a RECAPTCHA_V2 provider: of the supported captchas only its check works without JavaScript");
      } else if (ch.noScript === NoScriptFallback.ASK || ch.noScript === NoScriptFallback.BLOCK) {
        if (ch.noScriptCaptchaProviderId !== "") throw fieldError("spec.challenge.no_script_captcha_provider_id", "only with NO_SCRIPT_FALLBACK_CAPTCHA");
      } else {
        throw fieldError("spec.challenge.no_script", "must be NO_SCRIPT_FALLBACK_ASK, NO_SCRIPT_FALLBACK_BLOCK or NO_SCRIPT_FALLBACK_CAPTCHA");
      }
      spec.challenge = ch;
      break;
    }
    case WafAction.BLOCK: {
      if (spec.challenge) throw fieldError("spec.challenge", "only challenge rules take challenge settings");
      const b = spec.block ?? { status: 0, templateId: "", body: "", contentType: "", headers: [] };
      if (b.status === 0) b.status = 403;
      if (b.status < 400 || b.status > 599) throw fieldError("spec.block.status", "must be 400–599");
      checkAnswerBody(b, "spec.block", templateKind);
      checkHeaders(b.headers, "spec.block.headers");
      spec.block = create(WafRuleSpecSchema, { block: b }).block;
      break;
    }
    default:
      throw fieldError("spec.action", "must be WAF_ACTION_BLOCK, WAF_ACTION_ALLOW, WAF_ACTION_CHALLENGE or WAF_ACTION_WAITING_ROOM");
  }
  spec.scope = create(WafRuleSpecSchema, { scope }).scope;
  return spec;
}

type ScopeFields = { hosts: string[]; pathPrefixes: string[]; methods: string[] };

/**
 * What every policy rule kind shares, checked and normalized in place: name, priority, enabled
 * (unset = true), scope and `when`. Returns the normalized scope for the caller to store.
 */
export function checkRuleCommon(spec: { name: string; priority: number; enabled?: boolean; scope?: ScopeFields; when: string }): ScopeFields {
  spec.name = checkName(spec.name, "spec.name");
  if (spec.priority < -1_000_000 || spec.priority > 1_000_000) throw fieldError("spec.priority", "must be between -1000000 and 1000000");
  spec.enabled ??= true;
  const scope = spec.scope ?? { hosts: [], pathPrefixes: [], methods: [] };
  scope.hosts = scope.hosts.map((h) => h.trim().toLowerCase());
  scope.pathPrefixes = scope.pathPrefixes.map((p) => p.trim());
  scope.methods = scope.methods.map((m) => m.trim().toUpperCase());
  const sp = validateScope(scope);
  if (sp) throw fieldError(`spec.scope.${sp.field}[${sp.index}]`, sp.message);
  spec.when = spec.when.trim();
  if (spec.when !== "") {
    try {
      compileWhen(spec.when);
    } catch (e) {
      if (e instanceof CelCheckError) throw fieldError("spec.when", e.message);
      throw e;
    }
  }
  return scope;
}

/** Key parts trimmed, checked (validateKeyParts), and client_ip when none are given. */
export function checkKeyParts(parts: string[], field = "spec.key_parts"): string[] {
  const out = parts.map((p) => p.trim());
  const bad = validateKeyParts(out);
  if (bad) throw fieldError(`${field}[${bad.index}]`, bad.message);
  return out.length === 0 ? ["client_ip"] : out;
}

/** An answer's body source: a GENERIC_BODY template or an inline body (not both), and its content type. */
export function checkAnswerBody(b: { templateId: string; body: string; contentType: string }, field: string, templateKind: (id: string) => TemplateKind | undefined): void {
  if (b.templateId !== "") {
    const kind = templateKind(b.templateId);
    if (kind === undefined) throw fieldError(`${field}.template_id`, `no template ${b.templateId}`);
    if (kind !== TemplateKind.GENERIC_BODY) throw fieldError(`${field}.template_id`, "must name a GENERIC_BODY template");
    if (b.body !== "") throw fieldError(`${field}.body`, "give a template or an inline body, not both");
  }
  if (Buffer.byteLength(b.body) > MAX_INLINE_BODY) throw fieldError(`${field}.body`, `must be at most ${MAX_INLINE_BODY} bytes`);
  b.contentType = b.contentType.trim();
  if (b.contentType !== "" && !CONTENT_TYPE_RE.test(b.contentType)) throw fieldError(`${field}.content_type`, "is not a valid media type");
}

export function wafRuleSpecToJson(spec: WafRuleSpec): string {
  return JSON.stringify(toJson(WafRuleSpecSchema, spec));
}

export function wafRuleSpecFromJson(json: string): WafRuleSpec {
  try {
    return fromJson(WafRuleSpecSchema, JSON.parse(json) as JsonValue);
  } catch (e) {
    throw new ApiError("internal_error", "a stored WAF rule is unreadable", { cause: e });
  }
}

export function templateSpecToJson(spec: TemplateSpec): string {
  return JSON.stringify(toJson(TemplateSpecSchema, spec));
}

export function templateSpecFromJson(json: string): TemplateSpec {
  try {
    return fromJson(TemplateSpecSchema, JSON.parse(json) as JsonValue);
  } catch (e) {
    throw new ApiError("internal_error", "a stored template is unreadable", { cause: e });
  }
}

/** An empty template spec of a kind (seeding). */
export function templateSpec(name: string, kind: TemplateKind, contentType: string, body: string): TemplateSpec {
  return create(TemplateSpecSchema, { name, kind, contentType, body });
}
