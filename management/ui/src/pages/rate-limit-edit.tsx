// One rate limit: create (/rate-limits/new) or edit (/rate-limits/:id). Scope and `when`, the key
// (a list of parts), algorithm, limit per window (a number and a unit, sent as ms), burst (token
// bucket only), what happens when the store is down, and the limited answer (status, body, headers).
// A server error lands under the field it names. Viewers see it read-only.
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { useLoad } from "../lib/load.ts";
import { useEditor } from "../lib/editor.ts";
import { isAdmin } from "../lib/session.ts";
import { ALGORITHMS, formToRateLimitSpec, rateLimitToForm, WINDOW_UNITS } from "../lib/rate-limit-form.ts";
import type { BodySource } from "../lib/policy-form.ts";
import { Checkbox, PageHeader, Select, TextArea, TextInput, EditorFooter, editorGate } from "../components/ui.tsx";
import { RateLimitAlgorithm, StoreFailMode, TemplateKind } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { HeaderRows, KeyPartsEditor, NumberWithUnit, RuleBasicsCard, ScopeFieldset } from "./policy-fields.tsx";
import "./policies.css";

const FORM_FIELDS = ["name", "priority", "enabled", "scope", "when", "key_parts", "algorithm", "limit", "window_ms", "burst", "fail_mode", "headers_on_allowed", "response"];

export function RateLimitEditPage({ params }: PageProps) {
  const id = params.id;
  const admin = isAdmin.value;
  const editor = useEditor(id, {
    load: async () => (await api.policy.listRateLimitRules({})).rules,
    toForm: (r) => rateLimitToForm(r?.spec),
    toSpec: formToRateLimitSpec,
    create: async (spec) => (await api.policy.createRateLimitRule({ spec })).rule,
    update: async (ruleId, spec) => (await api.policy.updateRateLimitRule({ id: ruleId, spec })).rule,
    remove: (ruleId) => api.policy.deleteRateLimitRule({ id: ruleId }),
    listHref: "/rate-limits",
    savedMessage: "Saved. The rule is live; its counters start afresh.",
  });
  const templates = useLoad(() => api.policy.listTemplates({}), []);
  const { isNew, item: rule, update, problem } = editor;

  const title = isNew ? "New rate limit" : `Rate limit ${rule?.spec?.name || id}`;
  const gate = editorGate({
    title,
    what: "the rate limit",
    ...editor.gate,
    notFound: (
      <>
        There is no rate limit {id}. <a href="/rate-limits">Back to rate limits</a>
      </>
    ),
    notFoundTitle: "Rate limit not found",
    viewerOnNewText: "Only administrators can create rate limits.",
  });
  if (gate !== undefined || !editor.form) return gate;
  const f = editor.form;
  const bodies = (templates.data?.templates ?? []).filter((t) => t.spec?.kind === TemplateKind.GENERIC_BODY);

  const tokenBucket = f.algorithm === RateLimitAlgorithm.TOKEN_BUCKET;
  return (
    <section>
      <PageHeader title={title}>
        <a href="/rate-limits">All rate limits</a>
      </PageHeader>
      {!admin && <p class="muted">You can look at this rate limit; only administrators can change it.</p>}
      <form class="policy-form" onSubmit={editor.save} aria-label={title} noValidate>
        <fieldset class="form-main" disabled={!admin}>
          <RuleBasicsCard form={f} problem={problem} priorityHint="Lower is counted first; equal priorities in creation order." onChange={(patch) => update((d) => Object.assign(d, patch))} />
          <ScopeFieldset form={f} problem={problem} admin={admin} what="rate limit" onChange={(patch) => update((d) => Object.assign(d, patch))} />
          <fieldset>
            <legend>Counting</legend>
            <KeyPartsEditor
              rows={f.keyParts}
              problem={problem}
              admin={admin}
              onRows={(rows) => update((d) => (d.keyParts = rows))}
              intro="What one counter is shared by: requests with the same values for all of these count together (the client address alone = each client its own limit)."
            />
            <Select
              label="Algorithm"
              field="algorithm"
              problem={problem}
              value={f.algorithm}
              options={ALGORITHMS.map(([a, , text]) => [a, text] as const)}
              onValue={(v) => update((d) => (d.algorithm = v))}
            />
            <div class="grid2">
              <TextInput label="Limit" field="limit" problem={problem} inputMode="numeric" placeholder="100" hint="Requests per window per key, 1–1000000000." value={f.limit} onValue={(v) => update((d) => (d.limit = v))} />
              <NumberWithUnit
                label="Window"
                field="window_ms"
                problem={problem}
                hint="One second to one day; empty = 1 minute. Sent in milliseconds."
                placeholder="1"
                value={f.windowValue}
                unit={f.windowUnit}
                units={WINDOW_UNITS.map(([u, text]) => [u, text] as const)}
                onValue={(v) => update((d) => (d.windowValue = v))}
                onUnit={(u) => update((d) => (d.windowUnit = u))}
              />
              {tokenBucket && (
                <TextInput label="Burst" field="burst" problem={problem} inputMode="numeric" placeholder={f.limit || "= limit"} hint="The bucket's size: requests a quiet key may send at once; at most 10 × limit. Empty = the limit." value={f.burst} onValue={(v) => update((d) => (d.burst = v))} />
              )}
            </div>
            <Select
              label="When the shared store is down"
              field="fail_mode"
              problem={problem}
              hint="Only with a Redis store (RATE_LIMIT_STORE); in-memory counters are always there."
              value={f.failMode}
              options={[
                [StoreFailMode.OPEN, "Fail open: count in this gateway's memory meanwhile"],
                [StoreFailMode.CLOSED, "Fail closed: refuse the request (503)"],
              ]}
              onValue={(v) => update((d) => (d.failMode = v))}
            />
            <Checkbox
              label="Send RateLimit headers on allowed responses too"
              field="headers_on_allowed"
              problem={problem}
              hint="RateLimit-Policy and RateLimit (remaining, reset) on every response this rule counted, not only on the limited answer."
              checked={f.headersOnAllowed}
              onValue={(v) => update((d) => (d.headersOnAllowed = v))}
            />
          </fieldset>
          <fieldset>
            <legend>Limited answer</legend>
            <p class="hint">Always with Retry-After, RateLimit-Policy and RateLimit.</p>
            <div class="grid2">
              <TextInput label="Status" field="response.status" problem={problem} inputMode="numeric" placeholder="429" hint="400–599; empty = 429." value={f.status} onValue={(v) => update((d) => (d.status = v))} />
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
                field="response.template_id"
                problem={problem}
                hint={
                  <>
                    <a href="/templates">Manage templates</a>
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
                <TextArea label="Body text" field="response.body" problem={problem} rows={4} hint="At most 64 KiB." value={f.body} onValue={(v) => update((d) => (d.body = v))} />
                <TextInput label="Content type" field="response.content_type" problem={problem} placeholder="text/plain; charset=utf-8" hint="Empty = text/plain; charset=utf-8." value={f.contentType} onValue={(v) => update((d) => (d.contentType = v))} />
              </>
            )}
            <h4>Response headers</h4>
            <HeaderRows rows={f.headers} prefix="response.headers" problem={problem} admin={admin} onRows={(rows) => update((d) => (d.headers = rows))} />
          </fieldset>
        </fieldset>
        <EditorFooter
          {...editor.footer}
          fields={FORM_FIELDS}
          admin={admin}
          noun="rate limit"
          listHref="/rate-limits"
          deleteQuestion={
            <>
              Delete rate limit <strong>{rule?.spec?.name || id}</strong>? Its counters are dropped and the requests it limited go through.
            </>
          }
        />
      </form>
    </section>
  );
}
