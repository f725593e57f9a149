// One rate limit: create (/rate-limits/new) or edit (/rate-limits/:id). Scope and `when`, the key
// (a list of parts), algorithm, limit per window (a number and a unit, sent as ms), burst (token
// bucket only), what happens when the store is down, and the limited answer (status, body, headers).
// A server error lands under the field it names. Viewers see it read-only.
import { useEffect, useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import { navigate } from "../lib/router.ts";
import type { ApiProblem } from "../lib/errors.ts";
import { ALGORITHMS, FormError, formToRateLimitSpec, rateLimitToForm, WINDOW_UNITS, type BodySource, type RateLimitForm } from "../lib/rate-limit-form.ts";
import { Checkbox, PageHeader, Select, TextArea, TextInput, EditorFooter, editorGate } from "../components/ui.tsx";
import { RateLimitAlgorithm, StoreFailMode, TemplateKind } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { HeaderRows } from "./waf-rule-edit.tsx";
import { KeyPartsEditor, NumberWithUnit, ScopeFieldset } from "./policy-fields.tsx";
import "./policies.css";

const FORM_FIELDS = ["name", "priority", "enabled", "scope", "when", "key_parts", "algorithm", "limit", "window_ms", "burst", "fail_mode", "headers_on_allowed", "response"];

export function RateLimitEditPage({ params }: PageProps) {
  const id = params.id;
  const isNew = id === undefined;
  const admin = isAdmin.value;
  const rules = useLoad(() => api.policy.listRateLimitRules({}), [id]);
  const templates = useLoad(() => api.policy.listTemplates({}), []);
  const [form, setForm] = useState<RateLimitForm | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [deleteProblem, setDeleteProblem] = useState<ApiProblem | undefined>(undefined);
  const rule = id === undefined ? undefined : rules.data?.rules.find((r) => r.id === id);

  useEffect(() => {
    setForm(undefined);
    setProblem(undefined);
    setSaved(undefined);
  }, [id]);
  useEffect(() => {
    if (!rules.data || form) return;
    if (!isNew && !rule) return;
    setForm(rateLimitToForm(rule?.spec));
  }, [rules.data]);

  const update = (fn: (f: RateLimitForm) => void) => {
    setSaved(undefined);
    setForm((prev) => {
      if (!prev) return prev;
      const next = structuredClone(prev);
      fn(next);
      return next;
    });
  };

  const title = isNew ? "New rate limit" : `Rate limit ${rule?.spec?.name || id}`;
  const gate = editorGate({
    title,
    what: "the rate limit",
    loading: rules.loading && !rules.data,
    problem: rules.data ? undefined : rules.problem,
    missing: !isNew && !rule ? (
      <>
        There is no rate limit {id}. <a href="/rate-limits">Back to rate limits</a>
      </>
    ) : undefined,
    notFoundTitle: "Rate limit not found",
    viewerOnNew: isNew && !admin ? "Only administrators can create rate limits." : undefined,
    formReady: form !== undefined,
  });
  if (gate !== undefined || !form) return gate;
  const f = form;
  const bodies = (templates.data?.templates ?? []).filter((t) => t.spec?.kind === TemplateKind.GENERIC_BODY);

  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(undefined);
    let spec;
    try {
      spec = formToRateLimitSpec(f);
    } catch (err) {
      if (err instanceof FormError) return setProblem(err.problem);
      throw err;
    }
    setBusy(true);
    let savedSpec;
    const p = await attempt(async () => {
      savedSpec = isNew ? (await api.policy.createRateLimitRule({ spec })).rule?.spec : (await api.policy.updateRateLimitRule({ id, spec })).rule?.spec;
    });
    setBusy(false);
    setProblem(p);
    if (p) return;
    if (isNew) {
      navigate("/rate-limits");
      return;
    }
    setForm(rateLimitToForm(savedSpec));
    setSaved("Saved. The rule is live; its counters start afresh.");
  };

  const remove = async () => {
    const p = await attempt(() => api.policy.deleteRateLimitRule({ id: id ?? "" }));
    if (p) return setDeleteProblem(p);
    navigate("/rate-limits");
  };

  const tokenBucket = f.algorithm === RateLimitAlgorithm.TOKEN_BUCKET;
  return (
    <section>
      <PageHeader title={title}>
        <a href="/rate-limits">All rate limits</a>
      </PageHeader>
      {!admin && <p class="muted">You can look at this rate limit; only administrators can change it.</p>}
      <form class="policy-form" onSubmit={save} aria-label={title} noValidate>
        <fieldset class="form-main" disabled={!admin}>
          <div class="card">
            <div class="grid2">
              <TextInput label="Name" field="name" problem={problem} value={f.name} onValue={(v) => update((d) => (d.name = v))} />
              <TextInput label="Priority" field="priority" problem={problem} inputMode="numeric" placeholder="0" hint="Lower is counted first; equal priorities in creation order." value={f.priority} onValue={(v) => update((d) => (d.priority = v))} />
            </div>
            <Checkbox label="Enabled" field="enabled" problem={problem} checked={f.enabled} onValue={(v) => update((d) => (d.enabled = v))} />
          </div>
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
          problem={problem}
          fields={FORM_FIELDS}
          deleteProblem={deleteProblem}
          saved={saved}
          admin={admin}
          busy={busy}
          isNew={isNew}
          noun="rate limit"
          listHref="/rate-limits"
          deleteQuestion={
            <>
              Delete rate limit <strong>{rule?.spec?.name || id}</strong>? Its counters are dropped and the requests it limited go through.
            </>
          }
          onDelete={remove}
        />
      </form>
    </section>
  );
}
