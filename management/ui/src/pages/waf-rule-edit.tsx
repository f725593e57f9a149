// One WAF rule: create (/waf/new) or edit (/waf/:id). Scope as comma-separated lists, a CEL `when`
// (a save-time error shows under it and puts the caret where it points), the action, and for a block
// its status, body (Warren's page, a template, or inline) and headers. Viewers see it read-only.
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { useLoad } from "../lib/load.ts";
import { useEditor } from "../lib/editor.ts";
import { isAdmin } from "../lib/session.ts";
import { captchaKindLabel, formToRuleSpec, ruleToForm, type BodySource } from "../lib/policy-form.ts";
import { PageHeader, Select, TextArea, TextInput, EditorFooter, editorGate } from "../components/ui.tsx";
import { CaptchaFallback, CaptchaKind, NoScriptFallback, TemplateKind, WafAction } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { HeaderRows, RuleBasicsCard, WhenField } from "./policy-fields.tsx";
import { WaitingRoomFields } from "./waiting-room-fields.tsx";
import "./policies.css";

const FORM_FIELDS = ["name", "priority", "enabled", "scope", "when", "action", "block", "challenge", "waiting_room"];

export function WafRuleEditPage({ params }: PageProps) {
  const id = params.id;
  const admin = isAdmin.value;
  const editor = useEditor(id, {
    load: async () => (await api.policy.listWafRules({})).rules,
    toForm: (r) => ruleToForm(r?.spec),
    toSpec: formToRuleSpec,
    create: async (spec) => (await api.policy.createWafRule({ spec })).rule,
    update: async (ruleId, spec) => (await api.policy.updateWafRule({ id: ruleId, spec })).rule,
    remove: (ruleId) => api.policy.deleteWafRule({ id: ruleId }),
    listHref: "/waf",
    savedMessage: "Saved. The rule is live.",
  });
  const templates = useLoad(() => api.policy.listTemplates({}), []);
  const providers = useLoad(() => api.policy.listCaptchaProviders({}), []);
  const { isNew, item: rule, update, problem } = editor;

  const title = isNew ? "New WAF rule" : `WAF rule ${rule?.spec?.name || id}`;
  const gate = editorGate({
    title,
    what: "the rule",
    ...editor.gate,
    notFound: (
      <>
        There is no WAF rule {id}. <a href="/waf">Back to WAF rules</a>
      </>
    ),
    notFoundTitle: "WAF rule not found",
    viewerOnNewText: "Only administrators can create WAF rules.",
  });
  if (gate !== undefined || !editor.form) return gate;
  const f = editor.form;
  const bodies = (templates.data?.templates ?? []).filter((t) => t.spec?.kind === TemplateKind.GENERIC_BODY);
  const challengePages = (templates.data?.templates ?? []).filter((t) => t.spec?.kind === TemplateKind.CHALLENGE_PAGE && !t.builtIn);

  const block = f.action === WafAction.BLOCK;
  return (
    <section>
      <PageHeader title={title}>
        <a href="/waf">All WAF rules</a>
      </PageHeader>
      {!admin && <p class="muted">You can look at this rule; only administrators can change it.</p>}
      <form class="policy-form" onSubmit={editor.save} aria-label={title} noValidate>
        <fieldset class="form-main" disabled={!admin}>
          <RuleBasicsCard form={f} problem={problem} priorityHint="Lower is checked first; equal priorities in creation order." onChange={(patch) => update((d) => Object.assign(d, patch))} />
          <fieldset>
            <legend>Scope</legend>
            <p class="hint">Which requests the rule looks at: all three must match; an empty list matches everything.</p>
            <div class="grid2">
              <TextInput label="Hosts" field="scope.hosts" problem={problem} placeholder="app.example.com, *.example.org" hint="Comma-separated; exact names or *.suffix. Empty = any host." value={f.hosts} onValue={(v) => update((d) => (d.hosts = v))} />
              <TextInput label="Path prefixes" field="scope.path_prefixes" problem={problem} placeholder="/admin, /api" hint="Comma-separated; segment-aware: /api matches /api and /api/x, not /apix. Empty = any path." value={f.pathPrefixes} onValue={(v) => update((d) => (d.pathPrefixes = v))} />
              <TextInput label="Methods" field="scope.methods" problem={problem} placeholder="POST, PUT" hint="Comma-separated. Empty = any method." value={f.methods} onValue={(v) => update((d) => (d.methods = v))} />
            </div>
            <WhenField value={f.when} problem={problem} admin={admin} onValue={(v) => update((d) => (d.when = v))} />
          </fieldset>
          <fieldset>
            <legend>Action</legend>
            <Select
              label="Action"
              field="action"
              problem={problem}
              value={f.action}
              options={[
                [WafAction.BLOCK, "Block: answer with a status and body"],
                [WafAction.ALLOW, "Allow: skip the rules after this one"],
                [WafAction.CHALLENGE, "Challenge: a proof-of-work or captcha page; a passed client goes on"],
                [WafAction.WAITING_ROOM, "Waiting room: a few clients at once, the rest wait in line"],
              ]}
              onValue={(v) => update((d) => (d.action = v))}
            />
            {block && (
              <>
                <div class="grid2">
                  <TextInput label="Status" field="block.status" problem={problem} inputMode="numeric" placeholder="403" hint="400–599; empty = 403." value={f.status} onValue={(v) => update((d) => (d.status = v))} />
                  <Select<BodySource>
                    label="Body"
                    value={f.bodySource}
                    options={[
                      ["default", "Warren's error page"],
                      ["template", "A template"],
                      ["inline", "This text"],
                    ]}
                    onValue={(v) => update((d) => (d.bodySource = v))}
                  />
                </div>
                {f.bodySource === "template" && (
                  <Select
                    label="Template"
                    field="block.template_id"
                    problem={problem}
                    hint={
                      <>
                        Rendered with the status, the rule's name and the request. <a href="/templates">Manage templates</a>
                        {templates.problem ? ` (not loaded: ${templates.problem.message})` : ""}
                      </>
                    }
                    value={f.templateId}
                    options={[["", "Choose a template…"] as const, ...bodies.map((t) => [t.id, `${t.spec?.name ?? t.id}${t.builtIn ? " (built in)" : ""}`] as const)]}
                    onValue={(v) => update((d) => (d.templateId = v))}
                  />
                )}
                {f.bodySource === "inline" && (
                  <>
                    <TextArea label="Body text" field="block.body" problem={problem} rows={5} value={f.body} onValue={(v) => update((d) => (d.body = v))} />
                    <TextInput label="Content type" field="block.content_type" problem={problem} placeholder="text/plain; charset=utf-8" hint="Empty = text/plain; charset=utf-8." value={f.contentType} onValue={(v) => update((d) => (d.contentType = v))} />
                  </>
                )}
                <h4>Response headers</h4>
                <HeaderRows rows={f.headers} problem={problem} admin={admin} onRows={(rows) => update((d) => (d.headers = rows))} />
              </>
            )}
            {f.action === WafAction.CHALLENGE && (
              <>
                <Select
                  label="Check with"
                  field="challenge.captcha_provider_id"
                  problem={problem}
                  hint={
                    <>
                      <a href="/captcha">Manage captcha providers</a>
                      {providers.problem ? ` (not loaded: ${providers.problem.message})` : ""}
                    </>
                  }
                  value={f.captchaProviderId}
                  options={[
                    ["", "Proof of work (built in, no third party)"] as const,
                    ...(providers.data?.providers ?? []).map((p) => [p.id, `${p.spec?.name ?? p.id} (${captchaKindLabel(p.spec?.kind)})`] as const),
                  ]}
                  onValue={(v) => update((d) => (d.captchaProviderId = v))}
                />
                {f.captchaProviderId === "" ? (
                  <p class="hint">
                    The browser solves a SHA-256 puzzle in the background (no third party, no personal data) and gets a signed pass cookie for this rule and host. What a browser without JavaScript gets is set
                    below. A request body is not forwarded: the page says so.
                  </p>
                ) : (
                  <>
                    <p class="hint">The page shows the provider's widget; Warren asks the provider whether it was solved (3 s at most) and then gives a signed pass cookie for this rule and host.</p>
                    <Select
                      label="When the provider cannot be asked"
                      field="challenge.provider_fallback"
                      problem={problem}
                      hint="Timeouts, network errors, 5xx answers and too many checks at once."
                      value={f.providerFallback}
                      options={[
                        [CaptchaFallback.BLOCK, "Block the request (403)"],
                        [CaptchaFallback.ALLOW, "Let the client through (fail open)"],
                      ]}
                      onValue={(v) => update((d) => (d.providerFallback = v))}
                    />
                  </>
                )}
                <div class="grid2">
                  {f.captchaProviderId === "" && (
                    <TextInput label="Difficulty (bits)" field="challenge.difficulty" problem={problem} inputMode="numeric" placeholder="16" hint="8–26; each bit doubles the work. 16 takes a browser well under a second." value={f.difficulty} onValue={(v) => update((d) => (d.difficulty = v))} />
                  )}
                  <TextInput label="Pass lifetime (seconds)" field="challenge.pass_ttl_seconds" problem={problem} inputMode="numeric" placeholder="3600" hint="60–2592000. Editing the rule ends every pass." value={f.passTtl} onValue={(v) => update((d) => (d.passTtl = v))} />
                </div>
                <Select
                  label="Without JavaScript"
                  field="challenge.no_script"
                  problem={problem}
                  hint="The puzzle and the captcha widgets need JavaScript; this is what a browser without it gets."
                  value={f.noScript}
                  options={[
                    [NoScriptFallback.ASK, "A request to turn JavaScript on"],
                    [NoScriptFallback.BLOCK, "The block answer (403)"],
                    [NoScriptFallback.CAPTCHA, "reCAPTCHA's check without JavaScript"],
                  ]}
                  onValue={(v) => update((d) => (d.noScript = v))}
                />
                {f.noScript === NoScriptFallback.CAPTCHA && (
                  <Select
                    label="reCAPTCHA provider"
                    field="challenge.no_script_captcha_provider_id"
                    problem={problem}
                    hint="Only reCAPTCHA v2 has a check that works without JavaScript."
                    value={f.noScriptProviderId}
                    options={[["", "Choose a provider…"] as const, ...(providers.data?.providers ?? []).filter((p) => p.spec?.kind === CaptchaKind.RECAPTCHA_V2).map((p) => [p.id, p.spec?.name ?? p.id] as const)]}
                    onValue={(v) => update((d) => (d.noScriptProviderId = v))}
                  />
                )}
                <Select
                  label="Page"
                  field="challenge.template_id"
                  problem={problem}
                  hint={<a href="/templates">Manage templates</a>}
                  value={f.challengeTemplateId}
                  options={[["", "The built-in challenge page"] as const, ...challengePages.map((t) => [t.id, t.spec?.name ?? t.id] as const)]}
                  onValue={(v) => update((d) => (d.challengeTemplateId = v))}
                />
              </>
            )}
            {f.action === WafAction.WAITING_ROOM && (
              <WaitingRoomFields
                value={f.waitingRoom}
                problem={problem}
                pages={(templates.data?.templates ?? []).filter((t) => t.spec?.kind === TemplateKind.WAITING_ROOM_PAGE && !t.builtIn)}
                onValue={(w) => update((d) => (d.waitingRoom = w))}
              />
            )}
          </fieldset>
        </fieldset>
        <EditorFooter
          {...editor.footer}
          fields={FORM_FIELDS}
          admin={admin}
          noun="rule"
          listHref="/waf"
          deleteQuestion={
            <>
              Delete WAF rule <strong>{rule?.spec?.name || id}</strong>? Requests it matches go on to the next rule.
            </>
          }
        />
      </form>
    </section>
  );
}
