// One traffic shaper: create (/shapers/new) or edit (/shapers/:id). Scope and `when`, the budget (per
// key, with key parts, or per request), upload and download rates and byte sizes as a number and a
// unit (converted to bytes exactly). A server error lands under the field it names. Viewers see it
// read-only.
import { useEffect, useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import { navigate } from "../lib/router.ts";
import type { ApiProblem } from "../lib/errors.ts";
import { FormError, formToShaperSpec, shaperToForm, type ShaperForm, type SizeField, type SizeUnit } from "../lib/shaper-form.ts";
import { Checkbox, PageHeader, Select, TextInput, EditorFooter, editorGate } from "../components/ui.tsx";
import { ShaperBudget } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { KeyPartsEditor, NumberWithUnit, ScopeFieldset } from "./policy-fields.tsx";
import "./policies.css";

const FORM_FIELDS = ["name", "priority", "enabled", "scope", "when", "key_parts", "budget", "upload_bytes_per_second", "download_bytes_per_second", "burst_bytes", "request_exempt_bytes", "response_exempt_bytes"];

const RATE_UNITS: readonly (readonly [SizeUnit, string])[] = [
  ["B", "bytes/s"],
  ["KiB", "KiB/s"],
  ["MiB", "MiB/s"],
];
const SIZE_UNITS: readonly (readonly [SizeUnit, string])[] = [
  ["B", "bytes"],
  ["KiB", "KiB"],
  ["MiB", "MiB"],
];

type SizeKey = "upload" | "download" | "burst" | "requestExempt" | "responseExempt";

export function ShaperEditPage({ params }: PageProps) {
  const id = params.id;
  const isNew = id === undefined;
  const admin = isAdmin.value;
  const rules = useLoad(() => api.policy.listShaperRules({}), [id]);
  const [form, setForm] = useState<ShaperForm | undefined>(undefined);
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
    setForm(shaperToForm(rule?.spec));
  }, [rules.data]);

  const update = (fn: (f: ShaperForm) => void) => {
    setSaved(undefined);
    setForm((prev) => {
      if (!prev) return prev;
      const next = structuredClone(prev);
      fn(next);
      return next;
    });
  };

  const title = isNew ? "New shaper" : `Shaper ${rule?.spec?.name || id}`;
  const gate = editorGate({
    title,
    what: "the shaper",
    loading: rules.loading && !rules.data,
    problem: rules.data ? undefined : rules.problem,
    missing: !isNew && !rule ? (
      <>
        There is no shaper {id}. <a href="/shapers">Back to shapers</a>
      </>
    ) : undefined,
    notFoundTitle: "Shaper not found",
    viewerOnNew: isNew && !admin ? "Only administrators can create shapers." : undefined,
    formReady: form !== undefined,
  });
  if (gate !== undefined || !form) return gate;
  const f = form;

  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(undefined);
    let spec;
    try {
      spec = formToShaperSpec(f);
    } catch (err) {
      if (err instanceof FormError) return setProblem(err.problem);
      throw err;
    }
    setBusy(true);
    let savedSpec;
    const p = await attempt(async () => {
      savedSpec = isNew ? (await api.policy.createShaperRule({ spec })).rule?.spec : (await api.policy.updateShaperRule({ id, spec })).rule?.spec;
    });
    setBusy(false);
    setProblem(p);
    if (p) return;
    if (isNew) {
      navigate("/shapers");
      return;
    }
    setForm(shaperToForm(savedSpec));
    setSaved("Saved. The shaper is live.");
  };

  const remove = async () => {
    const p = await attempt(() => api.policy.deleteShaperRule({ id: id ?? "" }));
    if (p) return setDeleteProblem(p);
    navigate("/shapers");
  };

  const size = (key: SizeKey, label: string, field: string, hint: string, units = SIZE_UNITS) => (
    <NumberWithUnit
      label={label}
      field={field}
      problem={problem}
      hint={hint}
      value={f[key].value}
      unit={f[key].unit}
      units={units}
      onValue={(v) => update((d) => (d[key] = { ...d[key], value: v } satisfies SizeField))}
      onUnit={(u) => update((d) => (d[key] = { ...d[key], unit: u } satisfies SizeField))}
    />
  );

  return (
    <section>
      <PageHeader title={title}>
        <a href="/shapers">All shapers</a>
      </PageHeader>
      {!admin && <p class="muted">You can look at this shaper; only administrators can change it.</p>}
      <form class="policy-form" onSubmit={save} aria-label={title} noValidate>
        <fieldset class="form-main" disabled={!admin}>
          <div class="card">
            <div class="grid2">
              <TextInput label="Name" field="name" problem={problem} value={f.name} onValue={(v) => update((d) => (d.name = v))} />
              <TextInput label="Priority" field="priority" problem={problem} inputMode="numeric" placeholder="0" hint="Lower is checked first; the first matching shaper applies." value={f.priority} onValue={(v) => update((d) => (d.priority = v))} />
            </div>
            <Checkbox label="Enabled" field="enabled" problem={problem} checked={f.enabled} onValue={(v) => update((d) => (d.enabled = v))} />
          </div>
          <ScopeFieldset form={f} problem={problem} admin={admin} what="shaper" onChange={(patch) => update((d) => Object.assign(d, patch))} />
          <fieldset>
            <legend>Budget</legend>
            <Select
              label="Budget"
              field="budget"
              problem={problem}
              value={f.budget}
              options={[
                [ShaperBudget.PER_KEY, "Per key: requests with the same key share the rates"],
                [ShaperBudget.PER_REQUEST, "Per request: every request gets the full rates"],
              ]}
              onValue={(v) => update((d) => (d.budget = v))}
            />
            {f.budget === ShaperBudget.PER_KEY && (
              <KeyPartsEditor rows={f.keyParts} problem={problem} admin={admin} onRows={(rows) => update((d) => (d.keyParts = rows))} intro="What the rates are shared by: requests with the same values for all of these share one budget." />
            )}
          </fieldset>
          <fieldset>
            <legend>Rates</legend>
            <p class="hint">Binary units: 1 KiB = 1024 bytes, 1 MiB = 1048576 bytes; a fraction must come to whole bytes (1.5 MiB/s is fine). At least one of the two rates.</p>
            <div class="grid2">
              {size("upload", "Upload rate", "upload_bytes_per_second", "Request bodies and client-to-upstream upgrade bytes. Empty = not shaped.", RATE_UNITS)}
              {size("download", "Download rate", "download_bytes_per_second", "Response bodies and upstream-to-client upgrade bytes. Empty = not shaped.", RATE_UNITS)}
              {size("burst", "Burst", "burst_bytes", "Bytes that may go at once before pacing starts, up to 1 GiB. Empty = one second of the rate.")}
              {size("requestExempt", "Request bytes exempt", "request_exempt_bytes", "The first bytes of every request body pass unshaped, up to 1 GiB.")}
              {size("responseExempt", "Response bytes exempt", "response_exempt_bytes", "The first bytes of every response body pass unshaped, up to 1 GiB.")}
            </div>
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
          noun="shaper"
          listHref="/shapers"
          deleteQuestion={
            <>
              Delete shaper <strong>{rule?.spec?.name || id}</strong>? Requests it paces go at full speed, or to the next shaper that matches.
            </>
          }
          onDelete={remove}
        />
      </form>
    </section>
  );
}
