// The small set of building blocks every page uses: labelled fields with their error underneath,
// buttons that ask before destroying, copy buttons, tables with empty and loading states.
import type { ComponentChildren } from "preact";
import { useRef, useState } from "preact/hooks";
import { messageFor, type ApiProblem } from "../lib/errors.ts";

let idSeq = 0;
function useId(prefix: string): string {
  const r = useRef<string | undefined>(undefined);
  r.current ??= `${prefix}-${++idSeq}`;
  return r.current;
}

interface FieldProps {
  label: string;
  /** The API field this input maps to: a matching invalid_argument is shown under it. */
  field?: string;
  problem?: ApiProblem | undefined;
  hint?: ComponentChildren;
  children: (id: string, describedBy: string | undefined, invalid: boolean) => ComponentChildren;
}

export function Field({ label, field, problem, hint, children }: FieldProps) {
  const id = useId("f");
  const msg = field ? messageFor(problem, field) : undefined;
  const errId = msg ? `${id}-err` : undefined;
  const hintId = hint ? `${id}-hint` : undefined;
  const describedBy = [errId, hintId].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field${msg ? " field-invalid" : ""}`} data-field={field}>
      <label for={id}>{label}</label>
      {children(id, describedBy, msg !== undefined)}
      {hint && (
        <div class="hint" id={hintId}>
          {hint}
        </div>
      )}
      {msg && (
        <div class="field-error" id={errId} role="alert">
          {msg}
        </div>
      )}
    </div>
  );
}

interface InputProps {
  type?: "text" | "password" | "number" | "url" | "search" | "datetime-local";
  autoComplete?: string;
  required?: boolean;
  autoFocus?: boolean;
  placeholder?: string;
  disabled?: boolean;
  readOnly?: boolean;
  inputMode?: "numeric" | "text" | "url";
  min?: number;
  max?: number;
  label: string;
  field?: string;
  problem?: ApiProblem | undefined;
  hint?: ComponentChildren;
  value: string;
  onValue: (v: string) => void;
}

export function TextInput({ label, field, problem, hint, value, onValue, type = "text", ...rest }: InputProps) {
  return (
    <Field label={label} field={field} problem={problem} hint={hint}>
      {(id, describedBy, invalid) => (
        <input
          // Preact types an input's other attributes by its type; every type used here takes them all.
          type={type as "text"}
          id={id}
          name={field ?? label}
          aria-describedby={describedBy}
          aria-invalid={invalid || undefined}
          value={value}
          onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)}
          {...rest}
        />
      )}
    </Field>
  );
}

export function TextArea({ label, field, problem, hint, value, onValue, rows = 4 }: { label: string; field?: string; problem?: ApiProblem | undefined; hint?: ComponentChildren; value: string; onValue: (v: string) => void; rows?: number }) {
  return (
    <Field label={label} field={field} problem={problem} hint={hint}>
      {(id, describedBy, invalid) => (
        <textarea id={id} name={field ?? label} rows={rows} aria-describedby={describedBy} aria-invalid={invalid || undefined} value={value} onInput={(e) => onValue((e.currentTarget as HTMLTextAreaElement).value)} />
      )}
    </Field>
  );
}

export function Select<V extends string | number>({ label, field, problem, hint, value, options, onValue }: { label: string; field?: string; problem?: ApiProblem | undefined; hint?: ComponentChildren; value: V; options: readonly (readonly [V, string])[]; onValue: (v: V) => void }) {
  return (
    <Field label={label} field={field} problem={problem} hint={hint}>
      {(id, describedBy, invalid) => (
        <select
          id={id}
          name={field ?? label}
          aria-describedby={describedBy}
          aria-invalid={invalid || undefined}
          value={String(value)}
          onChange={(e) => {
            const raw = (e.currentTarget as HTMLSelectElement).value;
            const hit = options.find(([v]) => String(v) === raw);
            if (hit) onValue(hit[0]);
          }}
        >
          {options.map(([v, text]) => (
            <option key={String(v)} value={String(v)}>
              {text}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function Checkbox({ label, checked, onValue, field, problem, hint }: { label: string; checked: boolean; onValue: (v: boolean) => void; field?: string; problem?: ApiProblem | undefined; hint?: ComponentChildren }) {
  const id = useId("c");
  const msg = field ? messageFor(problem, field) : undefined;
  return (
    <div class={`field field-check${msg ? " field-invalid" : ""}`} data-field={field}>
      <input id={id} type="checkbox" name={field ?? label} checked={checked} onChange={(e) => onValue((e.currentTarget as HTMLInputElement).checked)} />
      <label for={id}>{label}</label>
      {hint && <div class="hint">{hint}</div>}
      {msg && (
        <div class="field-error" role="alert">
          {msg}
        </div>
      )}
    </div>
  );
}

/** A form-level problem (one that names no field, or a field the form has no input for). */
export function FormProblem({ problem, fields = [] }: { problem: ApiProblem | undefined; fields?: readonly string[] }) {
  if (!problem) return null;
  if (problem.field && fields.some((f) => messageFor(problem, f) !== undefined)) return null;
  return (
    <div class="form-problem" role="alert">
      {problem.field ? `${problem.field}: ` : ""}
      {problem.message}
    </div>
  );
}

/**
 * A button for a destructive action: it asks first, in a modal dialog that says what will happen.
 */
export function ConfirmButton({ label, question, confirmLabel = label, onConfirm, disabled }: { label: string; question: ComponentChildren; confirmLabel?: string; onConfirm: () => void | Promise<void>; disabled?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  return (
    <>
      <button type="button" class="danger" disabled={disabled} onClick={() => ref.current?.showModal()}>
        {label}
      </button>
      <dialog ref={ref} class="confirm">
        <p>{question}</p>
        <div class="actions">
          <button type="button" onClick={() => ref.current?.close()}>
            Cancel
          </button>
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              try {
                await onConfirm();
              } finally {
                setBusy(false);
                ref.current?.close();
              }
            }}
          >
            {confirmLabel}
          </button>
        </div>
      </dialog>
    </>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="copy"
      onClick={async () => {
        await navigator.clipboard.writeText(text);
        setDone(true);
        window.setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? "Copied" : label}
    </button>
  );
}

export function Secret({ label, value }: { label: string; value: string }) {
  return (
    <div class="secret">
      <div class="secret-head">
        <strong>{label}</strong> <CopyButton text={value} />
      </div>
      <pre tabIndex={0}>{value}</pre>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Problem({ problem }: { problem: ApiProblem | undefined }) {
  if (!problem) return null;
  return (
    <div class="form-problem" role="alert">
      {problem.message}
    </div>
  );
}

export function Badge({ tone, children }: { tone: "ok" | "warn" | "bad" | "muted"; children: ComponentChildren }) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="page-header">
      <h1>{title}</h1>
      {children && <div class="page-actions">{children}</div>}
    </div>
  );
}

/** A form's submit button (disabled while it runs) and Cancel. */
export function FormActions({ submit, busy, onCancel }: { submit: string; busy: boolean; onCancel: () => void }) {
  return (
    <div class="actions">
      <button type="submit" class="primary" disabled={busy}>
        {submit}
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

/**
 * The bottom of an editor page: the form-level problem, the "saved" status, and for admins save,
 * cancel (back to the list) and delete (asks first; not on a new item).
 */
export function EditorFooter(p: {
  problem: ApiProblem | undefined;
  fields: readonly string[];
  deleteProblem?: ApiProblem | undefined;
  saved: string | undefined;
  admin: boolean;
  busy: boolean;
  isNew: boolean;
  /** "route", "rule", "template": the buttons say "Create route", "Save route", "Delete route". */
  noun: string;
  listHref: string;
  deleteQuestion: ComponentChildren;
  onDelete: () => void | Promise<void>;
}) {
  return (
    <>
      <FormProblem problem={p.problem} fields={p.fields} />
      <Problem problem={p.deleteProblem} />
      {p.saved && (
        <p class="ok saved" role="status">
          {p.saved}
        </p>
      )}
      {p.admin && (
        <div class="actions">
          <button type="submit" class="primary" disabled={p.busy}>
            {p.isNew ? `Create ${p.noun}` : `Save ${p.noun}`}
          </button>
          <a href={p.listHref}>Cancel</a>
          {!p.isNew && <ConfirmButton label={`Delete ${p.noun}`} question={p.deleteQuestion} onConfirm={p.onDelete} />}
        </div>
      )}
    </>
  );
}

/**
 * What an editor page shows instead of its form, or undefined when the form can show: the load in
 * progress or its problem, an id that names nothing, or a viewer on a "new" page.
 */
export function editorGate(o: {
  title: string;
  /** "the rule": in "Loading the rule…". */
  what: string;
  loading: boolean;
  problem: ApiProblem | undefined;
  /** The page names an item that does not exist: `notFound` says so, under `notFoundTitle`. */
  missing: boolean;
  notFound: ComponentChildren;
  notFoundTitle: string;
  /** A viewer on a "new" page: `viewerOnNewText` tells them. */
  viewerOnNew: boolean;
  viewerOnNewText: string;
  formReady: boolean;
}): ComponentChildren | undefined {
  const frame = (body: ComponentChildren, t = o.title) => (
    <section>
      <PageHeader title={t} />
      {body}
    </section>
  );
  if (o.loading) return frame(<Loading what={o.what} />);
  if (o.problem) return frame(<Problem problem={o.problem} />);
  if (o.missing) return frame(<Empty>{o.notFound}</Empty>, o.notFoundTitle);
  if (o.viewerOnNew) return frame(<Empty>{o.viewerOnNewText}</Empty>);
  if (!o.formReady) return <Loading what={o.what} />;
  return undefined;
}
