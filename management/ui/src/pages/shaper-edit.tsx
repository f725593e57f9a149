// One traffic shaper: create (/shapers/new) or edit (/shapers/:id). Scope and `when`, the budget (per
// key, with key parts, or per request), upload and download rates and byte sizes as a number and a
// unit (converted to bytes exactly). A server error lands under the field it names. Viewers see it
// read-only.
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { useEditor } from "../lib/editor.ts";
import { isAdmin } from "../lib/session.ts";
import { formToShaperSpec, shaperToForm, type SizeField, type SizeUnit } from "../lib/shaper-form.ts";
import { PageHeader, Select, TextInput, EditorFooter, editorGate } from "../components/ui.tsx";
import { ShaperBudget } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { KeyPartsEditor, NumberWithUnit, RuleBasicsCard, ScopeFieldset } from "./policy-fields.tsx";
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
  const admin = isAdmin.value;
  const editor = useEditor(id, {
    load: async () => (await api.policy.listShaperRules({})).rules,
    toForm: (r) => shaperToForm(r?.spec),
    toSpec: formToShaperSpec,
    create: async (spec) => (await api.policy.createShaperRule({ spec })).rule,
    update: async (ruleId, spec) => (await api.policy.updateShaperRule({ id: ruleId, spec })).rule,
    remove: (ruleId) => api.policy.deleteShaperRule({ id: ruleId }),
    listHref: "/shapers",
    savedMessage: "Saved. The shaper is live.",
  });
  const { isNew, item: rule, update, problem } = editor;

  const title = isNew ? "New shaper" : `Shaper ${rule?.spec?.name || id}`;
  const gate = editorGate({
    title,
    what: "the shaper",
    ...editor.gate,
    notFound: (
      <>
        There is no shaper {id}. <a href="/shapers">Back to shapers</a>
      </>
    ),
    notFoundTitle: "Shaper not found",
    viewerOnNewText: "Only administrators can create shapers.",
  });
  if (gate !== undefined || !editor.form) return gate;
  const f = editor.form;

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
      <form class="policy-form" onSubmit={editor.save} aria-label={title} noValidate>
        <fieldset class="form-main" disabled={!admin}>
          <RuleBasicsCard form={f} problem={problem} priorityHint="Lower is checked first; the first matching shaper applies." onChange={(patch) => update((d) => Object.assign(d, patch))} />
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
          {...editor.footer}
          fields={FORM_FIELDS}
          admin={admin}
          noun="shaper"
          listHref="/shapers"
          deleteQuestion={
            <>
              Delete shaper <strong>{rule?.spec?.name || id}</strong>? Requests it paces go at full speed, or to the next shaper that matches.
            </>
          }
        />
      </form>
    </section>
  );
}
