// Pieces the policy rule pages share: an editor's name/priority/enabled card, the CEL `when` field and
// the scope fieldset around it, response header rows, the key-part list editor, a number with a unit
// (window, bytes), and the rule lists' table with its change buttons.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { messageFor, type ApiProblem } from "../lib/errors.ts";
import { scopeSummary, whenErrorOffset } from "../lib/policy-form.ts";
import type { Scope } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import type { HeaderRow } from "../lib/route-form.ts";
import { KEY_PART_KINDS, MAX_KEY_PARTS, keyPartsListMessage, kindNeedsName, type KeyPartRow } from "../lib/rate-limit-form.ts";
import type { RuleList } from "../lib/rule-list.ts";
import { Badge, Checkbox, ConfirmButton, Empty, Field, Loading, Problem, Select, TextInput } from "../components/ui.tsx";

/** The top of a rule editor: name, priority (`priorityHint` says how this kind of rule is ordered), enabled. */
export function RuleBasicsCard({ form, problem, priorityHint, onChange }: { form: { name: string; priority: string; enabled: boolean }; problem: ApiProblem | undefined; priorityHint: string; onChange: (patch: { name?: string; priority?: string; enabled?: boolean }) => void }) {
  return (
    <div class="card">
      <div class="grid2">
        <TextInput label="Name" field="name" problem={problem} value={form.name} onValue={(v) => onChange({ name: v })} />
        <TextInput label="Priority" field="priority" problem={problem} inputMode="numeric" placeholder="0" hint={priorityHint} value={form.priority} onValue={(v) => onChange({ priority: v })} />
      </div>
      <Checkbox label="Enabled" field="enabled" problem={problem} checked={form.enabled} onValue={(v) => onChange({ enabled: v })} />
    </div>
  );
}

const EXAMPLES = [
  { label: "curl user agents", text: 'headers["user-agent"].exists(v, v.matches("(?i)curl"))' },
  { label: "outside the office network", text: '!cidr(client_ip, "10.0.0.0/8") && path_prefix(path, "/internal")' },
];

/** Extra response headers as name/value rows; errors named `${prefix}[i].name` land under the row. */
export function HeaderRows({ rows, problem, admin, onRows, prefix = "block.headers" }: { rows: HeaderRow[]; problem: ApiProblem | undefined; admin: boolean; onRows: (rows: HeaderRow[]) => void; prefix?: string }) {
  const set = (j: number, patch: Partial<HeaderRow>) => onRows(rows.map((r, k) => (k === j ? { ...r, ...patch } : r)));
  return (
    <div class="rows">
      {rows.map((h, j) => (
        <div class="row" key={j}>
          <TextInput label={`Response header ${j + 1} name`} field={`${prefix}[${j}].name`} problem={problem} value={h.name} onValue={(v) => set(j, { name: v })} />
          <TextInput label={`Response header ${j + 1} value`} field={`${prefix}[${j}].value`} problem={problem} value={h.value} onValue={(v) => set(j, { value: v })} />
          {admin && (
            <button type="button" onClick={() => onRows(rows.filter((_, k) => k !== j))}>
              Remove<span class="skip"> response header {j + 1}</span>
            </button>
          )}
        </div>
      ))}
      {admin && (
        <div>
          <button type="button" onClick={() => onRows([...rows, { name: "", value: "" }])}>
            Add response header
          </button>
        </div>
      )}
    </div>
  );
}

/** The `when` textarea: monospace, its error (with line and column) underneath, the caret put where the error points. */
export function WhenField({ value, problem, admin, onValue }: { value: string; problem: ApiProblem | undefined; admin: boolean; onValue: (v: string) => void }) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const msg = messageFor(problem, "when");
  useEffect(() => {
    const ta = ref.current;
    if (!ta || !msg) return;
    const at = whenErrorOffset(ta.value, msg);
    if (at === undefined) return;
    ta.focus();
    ta.setSelectionRange(at, at);
  }, [problem]);
  return (
    <Field
      label="When (CEL, optional)"
      field="when"
      problem={problem}
      hint={
        <div class="cel-help">
          <p>
            Evaluated only for requests in the scope; empty = every request in the scope. Variables: <code>method</code>, <code>protocol</code>, <code>host</code>, <code>path</code>, <code>client_ip</code> (strings), <code>query</code> and <code>headers</code> (name → list of strings, names lower case), <code>cookies</code> (name → string). Helpers: <code>cidr(client_ip, "10.0.0.0/8")</code>, <code>host_match(host, "*.example.com")</code>, <code>path_prefix(path, "/api")</code>; and CEL's <code>matches</code>, <code>startsWith</code>, <code>exists</code>, <code>in</code>, <code>size</code>…
          </p>
          {admin && (
            <p class="examples">
              Examples:{" "}
              {EXAMPLES.map((e) => (
                <button type="button" key={e.label} class="example" title={e.text} onClick={() => onValue(e.text)}>
                  {e.label}
                </button>
              ))}
            </p>
          )}
        </div>
      }
    >
      {(id, describedBy, invalid) => (
        <textarea ref={ref} id={id} name="when" class="mono" rows={4} spellcheck={false} aria-describedby={describedBy} aria-invalid={invalid || undefined} value={value} onInput={(e) => onValue((e.currentTarget as HTMLTextAreaElement).value)} />
      )}
    </Field>
  );
}

export interface ScopeForm {
  hosts: string;
  pathPrefixes: string;
  methods: string;
  when: string;
}

/** Hosts, path prefixes, methods and `when`: which requests the rule looks at. */
export function ScopeFieldset({ form, problem, admin, what, onChange }: { form: ScopeForm; problem: ApiProblem | undefined; admin: boolean; what: string; onChange: (patch: Partial<ScopeForm>) => void }) {
  return (
    <fieldset>
      <legend>Scope</legend>
      <p class="hint">Which requests the {what} looks at: all three must match; an empty list matches everything. A <code>when</code> that fails to evaluate counts as no match.</p>
      <div class="grid2">
        <TextInput label="Hosts" field="scope.hosts" problem={problem} placeholder="app.example.com, *.example.org" hint="Comma-separated; exact names or *.suffix. Empty = any host." value={form.hosts} onValue={(v) => onChange({ hosts: v })} />
        <TextInput label="Path prefixes" field="scope.path_prefixes" problem={problem} placeholder="/login, /api" hint="Comma-separated; segment-aware: /api matches /api and /api/x, not /apix. Empty = any path." value={form.pathPrefixes} onValue={(v) => onChange({ pathPrefixes: v })} />
        <TextInput label="Methods" field="scope.methods" problem={problem} placeholder="POST, PUT" hint="Comma-separated. Empty = any method." value={form.methods} onValue={(v) => onChange({ methods: v })} />
      </div>
      <WhenField value={form.when} problem={problem} admin={admin} onValue={(v) => onChange({ when: v })} />
    </fieldset>
  );
}

/**
 * The key: rows of a kind and, for header/cookie/query, a name. A server error naming a row
 * (`key_parts[2]`) shows under it; one naming the list (or a row past the end) under the list.
 */
export function KeyPartsEditor({ rows, problem, admin, onRows, intro }: { rows: KeyPartRow[]; problem: ApiProblem | undefined; admin: boolean; onRows: (rows: KeyPartRow[]) => void; intro: ComponentChildren }) {
  const set = (j: number, patch: Partial<KeyPartRow>) => onRows(rows.map((r, k) => (k === j ? { ...r, ...patch } : r)));
  const listMsg = keyPartsListMessage(problem, rows.length);
  return (
    <div class={`key-parts${listMsg ? " field-invalid" : ""}`} data-field="key_parts" role="group" aria-label="Key parts">
      <h4>Key parts</h4>
      <p class="hint">
        {intro} At most {MAX_KEY_PARTS}; none = the client address.
      </p>
      <div class="rows">
        {rows.map((r, j) => {
          const named = kindNeedsName(r.kind);
          return (
            <div class="row" key={j}>
              <Select label={`Key part ${j + 1}`} field={named ? undefined : `key_parts[${j}]`} problem={problem} value={r.kind} options={KEY_PART_KINDS} onValue={(v) => set(j, { kind: v })} />
              {named && (
                <TextInput
                  label={`Key part ${j + 1} ${r.kind === "query" ? "parameter" : r.kind} name`}
                  field={`key_parts[${j}]`}
                  problem={problem}
                  placeholder={r.kind === "header" ? "x-api-key" : r.kind === "cookie" ? "session" : "token"}
                  value={r.name}
                  onValue={(v) => set(j, { name: v })}
                />
              )}
              {admin && (
                <button type="button" onClick={() => onRows(rows.filter((_, k) => k !== j))}>
                  Remove<span class="skip"> key part {j + 1}</span>
                </button>
              )}
            </div>
          );
        })}
      </div>
      {listMsg && (
        <div class="field-error" role="alert">
          {listMsg}
        </div>
      )}
      {admin && (
        <div>
          <button type="button" disabled={rows.length >= MAX_KEY_PARTS} onClick={() => onRows([...rows, { kind: "header", name: "" }])}>
            Add key part
          </button>
        </div>
      )}
    </div>
  );
}

/** A number and its unit in one field: the error (named `field`) under both. */
export function NumberWithUnit<U extends string>({
  label,
  field,
  problem,
  hint,
  value,
  unit,
  units,
  placeholder,
  onValue,
  onUnit,
}: {
  label: string;
  field: string;
  problem: ApiProblem | undefined;
  hint?: ComponentChildren;
  value: string;
  unit: U;
  units: readonly (readonly [U, string])[];
  placeholder?: string;
  onValue: (v: string) => void;
  onUnit: (u: U) => void;
}) {
  return (
    <Field label={label} field={field} problem={problem} hint={hint}>
      {(id, describedBy, invalid) => (
        <div class="unit-input">
          <input id={id} name={field} inputMode="decimal" placeholder={placeholder} aria-describedby={describedBy} aria-invalid={invalid || undefined} value={value} onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)} />
          <select
            aria-label={`${label} unit`}
            name={`${field}_unit`}
            value={unit}
            onChange={(e) => {
              const hit = units.find(([u]) => u === (e.currentTarget as HTMLSelectElement).value);
              if (hit) onUnit(hit[0]);
            }}
          >
            {units.map(([u, text]) => (
              <option key={u} value={u}>
                {text}
              </option>
            ))}
          </select>
        </div>
      )}
    </Field>
  );
}

/** A list row's change buttons: enable/disable, up, down, delete (asks first). */
export function RowActions(p: { name: string; enabled: boolean; busy: boolean; first: boolean; last: boolean; onToggle: () => void; onMove: (dir: -1 | 1) => void; deleteQuestion: ComponentChildren; confirmLabel: string; onDelete: () => Promise<void> }) {
  return (
    <div class="row-actions">
      <button type="button" disabled={p.busy} onClick={p.onToggle} aria-label={`${p.enabled ? "Disable" : "Enable"} ${p.name}`}>
        {p.enabled ? "Disable" : "Enable"}
      </button>
      <button type="button" disabled={p.busy || p.first} onClick={() => p.onMove(-1)} aria-label={`Move ${p.name} up`}>
        ↑
      </button>
      <button type="button" disabled={p.busy || p.last} onClick={() => p.onMove(1)} aria-label={`Move ${p.name} down`}>
        ↓
      </button>
      <ConfirmButton label="Delete" disabled={p.busy} question={p.deleteQuestion} confirmLabel={p.confirmLabel} onConfirm={p.onDelete} />
    </div>
  );
}

/** A rule list's scope cell: the scope, what the page adds (`children`), then " · when" if the rule has one. */
export function ScopeCell({ spec, children }: { spec: { scope?: Scope; when: string } | undefined; children?: ComponentChildren }) {
  return (
    <td>
      {scopeSummary(spec?.scope)}
      {children}
      {spec?.when ? (
        <>
          {" "}
          · <code class="when-cell" title={spec.when}>{spec.when}</code>
        </>
      ) : null}
    </td>
  );
}

/**
 * A policy rule list under its page's intro: the list's and the last write's problems, loading, the
 * empty state, and the table in evaluation order: priority, name (a link to the rule's editor),
 * enabled, the page's own columns, and for admins the change buttons.
 */
export function RuleTable<R extends { id: string; spec?: { name: string; priority: number; enabled?: boolean } }>(p: {
  ruleList: RuleList<R>;
  admin: boolean;
  /** "WAF rules": in "Loading WAF rules…". */
  what: string;
  empty: ComponentChildren;
  href: (id: string) => string;
  /** The page's own column headings, between Enabled and Change. */
  columns: readonly string[];
  /** A row's cells under those headings. */
  cells: (rule: R) => ComponentChildren;
  deleteQuestion: (name: string) => ComponentChildren;
  confirmLabel: string;
}) {
  const { list, rules, busy, problem, toggle, move, remove } = p.ruleList;
  return (
    <>
      <Problem problem={list.problem} />
      <Problem problem={problem} />
      {list.loading && !list.data && <Loading what={p.what} />}
      {list.data && rules.length === 0 && <Empty>{p.empty}</Empty>}
      {rules.length > 0 && (
        <div class="table-scroll">
          <table class="policy-table">
            <thead>
              <tr>
                <th scope="col">Priority</th>
                <th scope="col">Name</th>
                <th scope="col">Enabled</th>
                {p.columns.map((c) => (
                  <th scope="col" key={c}>
                    {c}
                  </th>
                ))}
                {p.admin && <th scope="col">Change</th>}
              </tr>
            </thead>
            <tbody>
              {rules.map((r, i) => {
                const s = r.spec;
                const name = s?.name || r.id;
                const enabled = s?.enabled ?? true;
                return (
                  <tr key={r.id} data-rule-id={r.id} class={enabled ? undefined : "rule-off"}>
                    <td>{s?.priority ?? 0}</td>
                    <td>
                      <a href={p.href(r.id)}>{name}</a>
                    </td>
                    <td>{enabled ? <Badge tone="ok">enabled</Badge> : <Badge tone="muted">disabled</Badge>}</td>
                    {p.cells(r)}
                    {p.admin && (
                      <td>
                        <RowActions
                          name={name}
                          enabled={enabled}
                          busy={busy}
                          first={i === 0}
                          last={i === rules.length - 1}
                          onToggle={() => void toggle(r)}
                          onMove={(dir) => void move(i, dir)}
                          deleteQuestion={p.deleteQuestion(name)}
                          confirmLabel={p.confirmLabel}
                          onDelete={() => remove(r)}
                        />
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
