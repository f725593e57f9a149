// One template: create (/templates/new) or edit (/templates/:id), with a live preview: every change
// is rendered by the server with sample values (GetTemplatePreview, debounced) and shown in a
// sandboxed frame for HTML (no scripts, no same origin) or as text; a preview error shows under the
// body with where it is. Viewers see it read-only.
import { useEffect, useRef, useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { useEditor } from "../lib/editor.ts";
import { isAdmin } from "../lib/session.ts";
import { messageFor, problemOf, type ApiProblem } from "../lib/errors.ts";
import { hasInlineActiveContent, isHtml, lineColumnOf, parseOffset } from "../lib/policy-form.ts";
import { Empty, Field, PageHeader, Select, TextInput, EditorFooter, editorGate } from "../components/ui.tsx";
import { TemplateKind } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import "./policies.css";

const FORM_FIELDS = ["name", "kind", "content_type", "body"];
const PREVIEW_DELAY_MS = 300;

/** proxy/policy/template.ts TEMPLATE_PLACEHOLDERS (the server names them too when one is unknown). */
const COMMON_PLACEHOLDERS: readonly (readonly [string, string])[] = [
  ["status", "the status code, e.g. 403"],
  ["status_text", "its reason phrase, e.g. Forbidden"],
  ["message", "what happened, in a sentence"],
  ["request_id", "the request's id (as in the request log)"],
  ["host", "the request's host"],
  ["path", "the request's path"],
  ["rule_name", "the name of the rule that answered"],
];
const PLACEHOLDERS_BY_KIND: Readonly<Record<number, readonly (readonly [string, string])[]>> = {
  [TemplateKind.GENERIC_BODY]: COMMON_PLACEHOLDERS,
  [TemplateKind.CHALLENGE_PAGE]: [...COMMON_PLACEHOLDERS, ["{challenge}", "Warren's form and script: required, written {{{challenge}}}"], ["difficulty", "the puzzle's difficulty in bits"]],
  [TemplateKind.WAITING_ROOM_PAGE]: [...COMMON_PLACEHOLDERS, ["{refresh}", "the auto-refresh meta tag: required, written {{{refresh}}}"], ["position", "the client's place in line"], ["retry_after", "seconds between refreshes"]],
};

interface TemplateForm {
  name: string;
  kind: TemplateKind;
  contentType: string;
  body: string;
}

interface Preview {
  contentType: string;
  rendered: string;
}

/** A body problem with the line and column of the offset it names. */
function withPosition(body: string, message: string): string {
  const off = parseOffset(message);
  if (off === undefined) return message;
  const { line, column } = lineColumnOf(body, off);
  return `${message} — line ${line}, column ${column}`;
}

function PreviewPane({ preview, pending }: { preview: Preview | undefined; pending: boolean }) {
  if (!preview) return <p class="muted">{pending ? "Rendering…" : "Nothing to preview yet."}</p>;
  const html = isHtml(preview.contentType);
  // A srcdoc frame shares the page's CSP: inline styles or scripts in the template would be refused
  // (and reported) there, so such a template is previewed as its rendered source only.
  const frame = html && !hasInlineActiveContent(preview.rendered);
  return (
    <div class="template-preview" aria-busy={pending || undefined}>
      <p class="hint">
        Rendered as <code>{preview.contentType}</code> with sample values.
        {html && !frame && " It has inline styles or scripts, which this page's security policy does not run: shown as source."}
      </p>
      {frame && <iframe title="Rendered preview" sandbox="" srcdoc={preview.rendered} class="preview-frame" />}
      {frame ? (
        <details>
          <summary>Rendered source</summary>
          <pre class="preview-text">{preview.rendered}</pre>
        </details>
      ) : (
        <pre class="preview-text" data-testid="preview-text">
          {preview.rendered}
        </pre>
      )}
    </div>
  );
}

export function TemplateEditPage({ params }: PageProps) {
  const id = params.id;
  const isNew = id === undefined;
  const admin = isAdmin.value;
  const editor = useEditor(id, {
    load: async () => (await api.policy.listTemplates({})).templates,
    toForm: (t): TemplateForm => {
      const s = t?.spec;
      return { name: s?.name ?? "", kind: s?.kind || TemplateKind.GENERIC_BODY, contentType: s?.contentType ?? (isNew ? "text/html; charset=utf-8" : ""), body: s?.body ?? "" };
    },
    toSpec: (f) => ({ name: f.name.trim(), kind: f.kind, contentType: f.contentType.trim(), body: f.body }),
    create: async (spec) => (await api.policy.createTemplate({ spec })).template,
    update: async (templateId, spec) => (await api.policy.updateTemplate({ id: templateId, spec })).template,
    remove: (templateId) => api.policy.deleteTemplate({ id: templateId }),
    listHref: "/templates",
    createdHref: (t) => (t?.id ? `/templates/${t.id}` : "/templates"),
    savedMessage: "Saved. Rules that use it answer with it now.",
    // After a save the form stays as typed: what was sent is that form, trimmed.
    formFromSaved: false,
  });
  const { item: template, form, update, problem } = editor;
  const [previewProblem, setPreviewProblem] = useState<ApiProblem | undefined>(undefined);
  const [preview, setPreview] = useState<Preview | undefined>(undefined);
  const [pending, setPending] = useState(false);
  const seq = useRef(0);

  // The live preview: the server renders the current form (name aside: a new template may have none yet).
  useEffect(() => {
    if (!form) return;
    const mine = ++seq.current;
    setPending(true);
    const timer = window.setTimeout(() => {
      api.policy.getTemplatePreview({ spec: { name: form.name.trim() || "preview", kind: form.kind, contentType: form.contentType, body: form.body } }).then(
        (r) => {
          if (mine !== seq.current) return;
          setPreview({ contentType: r.contentType, rendered: r.rendered });
          setPreviewProblem(undefined);
          setPending(false);
        },
        (e: unknown) => {
          if (mine !== seq.current) return;
          const p = problemOf(e);
          setPreviewProblem(p.field === "name" ? undefined : p);
          setPending(false);
        },
      );
    }, PREVIEW_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [form?.kind, form?.contentType, form?.body]);

  const title = isNew ? "New template" : `Template ${template?.spec?.name || id}`;
  const gate = editorGate({
    title,
    what: "the template",
    ...editor.gate,
    notFound: (
      <>
        There is no template {id}. <a href="/templates">Back to templates</a>
      </>
    ),
    notFoundTitle: "Template not found",
    viewerOnNewText: "Only administrators can create templates.",
  });
  if (gate !== undefined || !form) return gate;
  const f = form;

  // Under the body: the save's problem with it, else the live preview's.
  const shown = messageFor(problem, "body") || messageFor(problem, "content_type") || messageFor(problem, "kind") ? problem : (previewProblem ?? problem);
  const bodyMsg = messageFor(shown, "body");
  const bodyProblem: ApiProblem | undefined = bodyMsg ? { code: "invalid_argument", field: "body", message: withPosition(f.body, bodyMsg) } : shown;

  return (
    <section>
      <PageHeader title={title}>
        <a href="/templates">All templates</a>
      </PageHeader>
      {!admin && <p class="muted">You can look at this template; only administrators can change it.</p>}
      {template?.builtIn && <p class="muted">Built in: it can be edited, not deleted.</p>}
      <form class="policy-form" onSubmit={editor.save} aria-label={title} noValidate>
        <fieldset class="form-main" disabled={!admin}>
          <div class="card">
            <div class="grid2">
              <TextInput label="Name" field="name" problem={problem} value={f.name} onValue={(v) => update((d) => (d.name = v))} />
              <Select label="Kind" field="kind" problem={problem} value={f.kind} options={[
                  [TemplateKind.GENERIC_BODY, "Generic body (block answers)"],
                  [TemplateKind.CHALLENGE_PAGE, "Challenge page (must contain {{{challenge}}})"],
                  [TemplateKind.WAITING_ROOM_PAGE, "Waiting room page (must contain {{{refresh}}})"],
                ]} onValue={(v) => update((d) => (d.kind = v))} />
              <TextInput label="Content type" field="content_type" problem={shown} placeholder="text/html; charset=utf-8" hint="Empty = text/html; charset=utf-8. For HTML, {{x}} is escaped; {{{x}}} never is." value={f.contentType} onValue={(v) => update((d) => (d.contentType = v))} />
            </div>
            <Field
              label="Body"
              field="body"
              problem={bodyProblem}
              hint={
                <>
                  Placeholders:{" "}
                  {(PLACEHOLDERS_BY_KIND[f.kind] ?? COMMON_PLACEHOLDERS).map(([name, what], i) => (
                    <span key={name}>
                      {i > 0 && ", "}
                      <code title={what}>{`{{${name}}}`}</code>
                    </span>
                  ))}
                  .
                </>
              }
            >
              {(fid, describedBy, invalid) => (
                <textarea id={fid} name="body" class="mono" rows={14} spellcheck={false} aria-describedby={describedBy} aria-invalid={invalid || undefined} value={f.body} onInput={(e) => update((d) => (d.body = (e.currentTarget as HTMLTextAreaElement).value))} />
              )}
            </Field>
          </div>
        </fieldset>
        <section class="card" aria-labelledby="preview-title">
          <h2 id="preview-title">Preview</h2>
          <PreviewPane preview={previewProblem ? undefined : preview} pending={pending} />
          {previewProblem && <p class="muted">No preview while the template has a problem.</p>}
        </section>
        <EditorFooter
          {...editor.footer}
          fields={FORM_FIELDS}
          admin={admin}
          noun="template"
          listHref="/templates"
          deleteQuestion={
            <>
              Delete template <strong>{template?.spec?.name || id}</strong>? Rules that use it must be changed first.
            </>
          }
        />
      </form>
    </section>
  );
}
