// One route: create (/routes/new[?listener=…]) or edit (/routes/:id). Every field of RouteSpec, the
// common ones first and the rest in <details> (opened when the server's error is inside one).
// Viewers see the same form, disabled, without save, delete or add buttons.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, submit, useLoad } from "../lib/load.ts";
import { formUpdater } from "../lib/editor.ts";
import { isAdmin } from "../lib/session.ts";
import { navigate } from "../lib/router.ts";
import { messageFor, type ApiProblem } from "../lib/errors.ts";
import { fieldIn, formToRouteSpec, newTarget, routeToForm, type HeaderRow, type RouteForm, type SelectorRow, type TargetForm, type TargetHeaderRow } from "../lib/route-form.ts";
import { Checkbox, Empty, Field, Loading, PageHeader, Problem, Select, TextArea, TextInput, EditorFooter } from "../components/ui.tsx";
import { BalancePolicy, HashOn, RedirectMode, RouteAction, TargetKind, type Route, type RouteSpec } from "../../../../proto/gen/warren/v1/proxy_pb.ts";
import type { Agent } from "../../../../proto/gen/warren/v1/agent_pb.ts";
import "./routes.css";

const AGENT_ID_LABEL = "warren.io/agent-id";

/** Fields with an input on this form: a problem naming one shows there, anything else at the top. */
const FORM_FIELDS = ["listener_id", "name", "hosts", "path_prefix", "methods", "priority", "is_default", "action", "redirect", "static_response", "targets", "load_balancing", "health_check", "passive_health", "options"];

type Update = (fn: (f: RouteForm) => void) => void;

/** A collapsible group; open when the problem is inside it. */
function Section({ summary, fields, problem, children, startOpen = false }: { summary: string; fields: readonly string[]; problem: ApiProblem | undefined; children: ComponentChildren; startOpen?: boolean }) {
  const inside = fieldIn(problem, fields);
  const [open, setOpen] = useState(startOpen);
  useEffect(() => {
    if (inside) setOpen(true);
  }, [problem]);
  return (
    <details open={open || inside} onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>{summary}</summary>
      {children}
    </details>
  );
}

function GroupError({ problem, field, exact = false }: { problem: ApiProblem | undefined; field: string; exact?: boolean }) {
  const msg = exact ? (problem?.field === field ? problem.message : undefined) : messageFor(problem, field);
  if (!msg) return null;
  return (
    <p class="group-error" role="alert">
      {msg}
    </p>
  );
}

function HeaderRows({ what, rows, field, problem, admin, onRows }: { what: string; rows: HeaderRow[]; field: string; problem: ApiProblem | undefined; admin: boolean; onRows: (rows: HeaderRow[]) => void }) {
  const set = (j: number, patch: Partial<HeaderRow>) => onRows(rows.map((r, k) => (k === j ? { ...r, ...patch } : r)));
  return (
    <div class="rows">
      {rows.map((h, j) => (
        <div class="row" key={j}>
          <TextInput label={`${what} ${j + 1} name`} field={`${field}[${j}].name`} problem={problem} value={h.name} onValue={(v) => set(j, { name: v })} />
          <TextInput label={`${what} ${j + 1} value`} field={`${field}[${j}].value`} problem={problem} value={h.value} onValue={(v) => set(j, { value: v })} />
          {admin && (
            <button type="button" onClick={() => onRows(rows.filter((_, k) => k !== j))}>
              Remove<span class="skip"> {what.toLowerCase()} {j + 1}</span>
            </button>
          )}
        </div>
      ))}
      {admin && (
        <div>
          <button type="button" onClick={() => onRows([...rows, { name: "", value: "" }])}>
            Add {what.toLowerCase()}
          </button>
        </div>
      )}
    </div>
  );
}

function TargetHeaders({ rows, field, problem, admin, onRows }: { rows: TargetHeaderRow[]; field: string; problem: ApiProblem | undefined; admin: boolean; onRows: (rows: TargetHeaderRow[]) => void }) {
  const set = (j: number, patch: Partial<TargetHeaderRow>) => onRows(rows.map((r, k) => (k === j ? { ...r, ...patch } : r)));
  return (
    <div class="rows">
      {rows.map((h, j) => (
        <div class="row" key={j}>
          <TextInput label={`Header ${j + 1} name`} field={`${field}[${j}].name`} problem={problem} value={h.name} onValue={(v) => set(j, { name: v })} />
          <TextInput
            label={`Header ${j + 1} value`}
            field={`${field}[${j}].value`}
            problem={problem}
            type={h.sensitive ? "password" : "text"}
            autoComplete="off"
            placeholder={h.sensitive && h.valueSet ? "stored: leave empty to keep" : undefined}
            hint={h.sensitive && h.valueSet ? <span class="stored">stored</span> : undefined}
            value={h.value}
            onValue={(v) => set(j, { value: v })}
          />
          <Checkbox label={`Header ${j + 1} sensitive`} checked={h.sensitive} onValue={(v) => set(j, { sensitive: v })} />
          {admin && (
            <button type="button" onClick={() => onRows(rows.filter((_, k) => k !== j))}>
              Remove<span class="skip"> header {j + 1}</span>
            </button>
          )}
        </div>
      ))}
      {admin && (
        <div>
          <button type="button" onClick={() => onRows([...rows, { name: "", value: "", sensitive: false, valueSet: false }])}>
            Add header
          </button>
        </div>
      )}
    </div>
  );
}

/** The label pairs agents really have, for picking a selector: `key=value`, with the agent's name for its id label. */
function labelPairs(agents: readonly Agent[]): { key: string; value: string; text: string }[] {
  const seen = new Map<string, { key: string; value: string; text: string }>();
  for (const a of agents) {
    for (const [key, value] of Object.entries(a.labels)) {
      const k = `${key}=${value}`;
      if (!seen.has(k)) seen.set(k, { key, value, text: key === AGENT_ID_LABEL ? `${k} (${a.name})` : k });
    }
    if (!a.labels[AGENT_ID_LABEL]) {
      const k = `${AGENT_ID_LABEL}=${a.id}`;
      if (!seen.has(k)) seen.set(k, { key: AGENT_ID_LABEL, value: a.id, text: `${k} (${a.name})` });
    }
  }
  return [...seen.values()].sort((x, y) => x.text.localeCompare(y.text));
}

function AgentSelector({ rows, pairs, field, problem, admin, onRows }: { rows: SelectorRow[]; pairs: ReturnType<typeof labelPairs>; field: string; problem: ApiProblem | undefined; admin: boolean; onRows: (rows: SelectorRow[]) => void }) {
  const set = (j: number, patch: Partial<SelectorRow>) => onRows(rows.map((r, k) => (k === j ? { ...r, ...patch } : r)));
  const add = (row: SelectorRow) => {
    const kept = rows.filter((r) => r.key.trim() !== "" && r.key !== row.key);
    onRows([...kept, row]);
  };
  return (
    <fieldset>
      <legend>Agent selector</legend>
      <p class="hint">Every pair must match an agent's labels; matching online agents share the traffic.</p>
      <GroupError problem={problem} field={field} />
      {rows.length === 0 && <p class="muted">No labels chosen yet.</p>}
      <div class="rows">
        {rows.map((r, j) => (
          <div class="row" key={j}>
            <TextInput label={`Label ${j + 1} key`} value={r.key} onValue={(v) => set(j, { key: v })} />
            <TextInput label={`Label ${j + 1} value`} value={r.value} onValue={(v) => set(j, { value: v })} />
            {admin && (
              <button type="button" onClick={() => onRows(rows.filter((_, k) => k !== j))}>
                Remove<span class="skip"> label {j + 1}</span>
              </button>
            )}
          </div>
        ))}
      </div>
      {admin && (
        <div class="row">
          <Field label="Add a label agents have" hint={pairs.length === 0 ? "No agents yet: add one on the Agents page, or type a pair." : undefined}>
            {(id, describedBy) => (
              <select
                id={id}
                aria-describedby={describedBy}
                value=""
                onChange={(e) => {
                  const sel = e.currentTarget as HTMLSelectElement;
                  const p = pairs.find((x) => `${x.key}=${x.value}` === sel.value);
                  sel.value = "";
                  if (p) add({ key: p.key, value: p.value });
                }}
              >
                <option value="">Choose a label…</option>
                {pairs.map((p) => (
                  <option key={`${p.key}=${p.value}`} value={`${p.key}=${p.value}`}>
                    {p.text}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <button type="button" onClick={() => onRows([...rows, { key: "", value: "" }])}>
            Add another pair
          </button>
        </div>
      )}
    </fieldset>
  );
}

function TargetFields({ t, i, count, problem, admin, pairs, onTarget, onRemove }: { t: TargetForm; i: number; count: number; problem: ApiProblem | undefined; admin: boolean; pairs: ReturnType<typeof labelPairs>; onTarget: (t: TargetForm) => void; onRemove: () => void }) {
  const f = `targets[${i}]`;
  const set = (patch: Partial<TargetForm>) => onTarget({ ...t, ...patch });
  const agent = t.kind === TargetKind.AGENT;
  return (
    <fieldset class="target" data-target-id={t.id || undefined}>
      <legend>Target {i + 1}</legend>
      <GroupError problem={problem} field={`${f}.id`} />
      <GroupError problem={problem} field={`${f}.kind`} />
      <div class="grid2">
        <Select
          label="Kind"
          value={t.kind}
          options={[
            [TargetKind.DIRECT, "Direct (Warren connects)"],
            [TargetKind.AGENT, "Through an agent"],
          ]}
          onValue={(v) => set({ kind: v })}
        />
        <TextInput label="URL" field={`${f}.url`} problem={problem} type="url" inputMode="url" placeholder="http://10.0.0.5:8080" hint={agent ? "The address the agent dials, from where it runs." : "http(s)://host:port[/base path]"} value={t.url} onValue={(v) => set({ url: v })} />
        <TextInput label="Name (optional)" field={`${f}.name`} problem={problem} value={t.name} onValue={(v) => set({ name: v })} />
      </div>
      <Checkbox label="Enabled" field={`${f}.enabled`} problem={problem} checked={t.enabled} onValue={(v) => set({ enabled: v })} />
      {agent && <AgentSelector rows={t.selector} pairs={pairs} field={`${f}.agent_selector`} problem={problem} admin={admin} onRows={(selector) => set({ selector })} />}
      <Section summary={`Target ${i + 1}: weight, priority group, TLS, headers`} fields={[`${f}.weight`, `${f}.priority_group`, `${f}.tls_skip_verify`, `${f}.headers`]} problem={problem}>
        <div class="grid2">
          <TextInput label="Weight" field={`${f}.weight`} problem={problem} inputMode="numeric" placeholder="1" hint="1–1000, for weighted round robin." value={t.weight} onValue={(v) => set({ weight: v })} />
          <TextInput label="Priority group" field={`${f}.priority_group`} problem={problem} inputMode="numeric" placeholder="0" hint="Lower groups first; higher ones only when none of a lower group is eligible." value={t.priorityGroup} onValue={(v) => set({ priorityGroup: v })} />
        </div>
        <Checkbox label="Skip TLS certificate verification" field={`${f}.tls_skip_verify`} problem={problem} checked={t.tlsSkipVerify} onValue={(v) => set({ tlsSkipVerify: v })} />
        <h4>Headers sent to this target</h4>
        <TargetHeaders rows={t.headers} field={`${f}.headers`} problem={problem} admin={admin} onRows={(headers) => set({ headers })} />
      </Section>
      {admin && count > 1 && (
        <button type="button" onClick={onRemove}>
          Remove target {i + 1}
        </button>
      )}
    </fieldset>
  );
}

export function RouteEditPage({ params, query }: PageProps) {
  const id = params.id;
  const isNew = id === undefined;
  const admin = isAdmin.value;
  const cfg = useLoad(() => api.proxy.getProxyConfig({}), [id]);
  const agents = useLoad(() => api.agents.listAgents({}), []);
  const [form, setForm] = useState<RouteForm | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const route = id === undefined ? undefined : cfg.data?.routes.find((r) => r.id === id);
  const listeners = cfg.data?.listeners ?? [];

  useEffect(() => {
    if (!cfg.data || form) return;
    if (!isNew && !route) return;
    const f = routeToForm(route?.spec, cfg.data.listeners);
    const want = query.get("listener");
    if (isNew && want && cfg.data.listeners.some((l) => l.id === want)) f.listenerId = want;
    setForm(f);
  }, [cfg.data]);

  const update: Update = formUpdater(setForm, setSaved);

  const title = isNew ? "New route" : `Route ${route?.spec?.name || id}`;
  if (cfg.loading && !cfg.data)
    return (
      <section>
        <PageHeader title={title} />
        <Loading what="the route" />
      </section>
    );
  if (cfg.problem && !cfg.data)
    return (
      <section>
        <PageHeader title={title} />
        <Problem problem={cfg.problem} />
      </section>
    );
  if (!isNew && !route)
    return (
      <section>
        <PageHeader title="Route not found" />
        <Empty>
          There is no route {id}. <a href="/routes">Back to routes</a>
        </Empty>
      </section>
    );
  if (isNew && !admin)
    return (
      <section>
        <PageHeader title={title} />
        <Empty>Only administrators can create routes.</Empty>
      </section>
    );
  if (listeners.length === 0)
    return (
      <section>
        <PageHeader title={title} />
        <Empty>
          Routes live on a listener, and there is none yet. <a href="/listeners/new">Add a listener</a> first.
        </Empty>
      </section>
    );
  if (!form) return <Loading what="the route" />;

  const pairs = labelPairs(agents.data?.agents ?? []);
  const f = form;
  const forward = f.action === RouteAction.FORWARD;

  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(undefined);
    let savedRoute: Route | undefined;
    const write = async (spec: RouteSpec) => {
      savedRoute = isNew ? (await api.proxy.createRoute({ spec })).route : (await api.proxy.updateRoute({ id, spec })).route;
    };
    if (!(await submit(() => formToRouteSpec(f), write, { problem: setProblem, busy: setBusy })) || !savedRoute) return;
    if (isNew) {
      navigate("/routes");
      return;
    }
    setForm(routeToForm((savedRoute as Route).spec, listeners));
    setSaved("Saved. The new configuration is live.");
  };

  const remove = async () => {
    const p = await attempt(() => api.proxy.deleteRoute({ id: id ?? "" }));
    if (p) return setProblem(p);
    navigate("/routes");
  };

  return (
    <section>
      <PageHeader title={title}>
        <a href="/routes">All routes</a>
      </PageHeader>
      {!admin && <p class="muted">You can look at this route; only administrators can change it.</p>}
      <form class="route-form" onSubmit={save} aria-label={title} noValidate>
        <fieldset class="form-main" disabled={!admin}>
          <div class="card">
            <div class="grid2">
              <Select label="Listener" field="listener_id" problem={problem} value={f.listenerId} options={listeners.map((l) => [l.id, `${l.spec?.name ?? l.id} (:${l.status?.boundPort || l.spec?.port})`] as const)} onValue={(v) => update((d) => (d.listenerId = v))} />
              <TextInput label="Name" field="name" problem={problem} value={f.name} onValue={(v) => update((d) => (d.name = v))} />
              <TextInput label="Hosts" field="hosts" problem={problem} placeholder="app.example.com, *.example.org" hint="Comma-separated; exact names or *.suffix. Empty = any host." value={f.hosts} onValue={(v) => update((d) => (d.hosts = v))} />
              <TextInput label="Path prefix" field="path_prefix" problem={problem} placeholder="/" hint="Segment-aware: /api matches /api and /api/x, not /apix." value={f.pathPrefix} onValue={(v) => update((d) => (d.pathPrefix = v))} />
              <TextInput label="Methods" field="methods" problem={problem} placeholder="GET, POST" hint="Comma-separated. Empty = any method." value={f.methods} onValue={(v) => update((d) => (d.methods = v))} />
              <TextInput label="Priority" field="priority" problem={problem} inputMode="numeric" placeholder="0" hint="Lower is tried first." value={f.priority} onValue={(v) => update((d) => (d.priority = v))} />
            </div>
            <Checkbox label="Default route of this listener" field="is_default" problem={problem} hint="Used when nothing else on the listener matches; at most one per listener." checked={f.isDefault} onValue={(v) => update((d) => (d.isDefault = v))} />
            <Select
              label="Action"
              field="action"
              problem={problem}
              value={f.action}
              options={[
                [RouteAction.FORWARD, "Forward to targets"],
                [RouteAction.REDIRECT, "Redirect"],
                [RouteAction.STATIC, "Static response"],
              ]}
              onValue={(v) => update((d) => (d.action = v))}
            />
          </div>

          {f.action === RouteAction.REDIRECT && (
            <fieldset>
              <legend>Redirect</legend>
              <div class="grid2">
                <Select
                  label="Redirect status"
                  field="redirect.status"
                  problem={problem}
                  value={f.redirect.status}
                  options={[
                    ["301", "301 Moved Permanently"],
                    ["302", "302 Found"],
                    ["307", "307 Temporary Redirect"],
                    ["308", "308 Permanent Redirect"],
                  ]}
                  onValue={(v) => update((d) => (d.redirect.status = v))}
                />
                <Select
                  label="Mode"
                  field="redirect.mode"
                  problem={problem}
                  value={f.redirect.mode}
                  options={[
                    [RedirectMode.SAME_HOST_PATH, "A path on the same host"],
                    [RedirectMode.EXTERNAL_ORIGIN, "Another origin, same path"],
                    [RedirectMode.ABSOLUTE_URL, "One absolute URL"],
                  ]}
                  onValue={(v) => update((d) => (d.redirect.mode = v))}
                />
              </div>
              <TextInput
                label="Location"
                field="redirect.location"
                problem={problem}
                placeholder={f.redirect.mode === RedirectMode.SAME_HOST_PATH ? "/new" : f.redirect.mode === RedirectMode.EXTERNAL_ORIGIN ? "https://new.example.com" : "https://example.com/page"}
                value={f.redirect.location}
                onValue={(v) => update((d) => (d.redirect.location = v))}
              />
              <Checkbox label="Keep the query string" field="redirect.keep_query" problem={problem} checked={f.redirect.keepQuery} onValue={(v) => update((d) => (d.redirect.keepQuery = v))} />
              {f.redirect.mode === RedirectMode.SAME_HOST_PATH && (
                <Checkbox
                  label="Keep the path below the prefix"
                  field="redirect.keep_path_below_prefix"
                  problem={problem}
                  hint="/old/thing with prefix /old and location /new → /new/thing"
                  checked={f.redirect.keepPathBelowPrefix}
                  onValue={(v) => update((d) => (d.redirect.keepPathBelowPrefix = v))}
                />
              )}
            </fieldset>
          )}

          {f.action === RouteAction.STATIC && (
            <fieldset>
              <legend>Static response</legend>
              <TextInput label="Response status" field="static_response.status" problem={problem} inputMode="numeric" value={f.staticResponse.status} onValue={(v) => update((d) => (d.staticResponse.status = v))} />
              <h4>Response headers</h4>
              <HeaderRows what="Static header" rows={f.staticResponse.headers} field="static_response.headers" problem={problem} admin={admin} onRows={(rows) => update((d) => (d.staticResponse.headers = rows))} />
              <TextArea label="Body" field="static_response.body" problem={problem} rows={6} value={f.staticResponse.body} onValue={(v) => update((d) => (d.staticResponse.body = v))} />
            </fieldset>
          )}

          {forward && (
            <>
              <fieldset>
                <legend>Targets</legend>
                <GroupError problem={problem} field="targets" exact />
                {f.targets.length === 0 && <p class="muted">No targets: a forward route needs at least one.</p>}
                {f.targets.map((t, i) => (
                  <TargetFields
                    key={i}
                    t={t}
                    i={i}
                    count={f.targets.length}
                    problem={problem}
                    admin={admin}
                    pairs={pairs}
                    onTarget={(nt) => update((d) => (d.targets[i] = nt))}
                    onRemove={() => update((d) => d.targets.splice(i, 1))}
                  />
                ))}
                {agents.problem && <p class="muted">Agent labels could not be loaded: {agents.problem.message}</p>}
                {admin && (
                  <div class="actions">
                    <button type="button" onClick={() => update((d) => d.targets.push(newTarget()))}>
                      Add target
                    </button>
                  </div>
                )}
              </fieldset>

              <Section summary="Load balancing" fields={["load_balancing"]} problem={problem}>
                <div class="grid2">
                  <Select
                    label="Policy"
                    field="load_balancing.policy"
                    problem={problem}
                    value={f.loadBalancing.policy}
                    options={[
                      [BalancePolicy.UNSPECIFIED, "Default (round robin)"],
                      [BalancePolicy.ROUND_ROBIN, "Round robin"],
                      [BalancePolicy.WEIGHTED_ROUND_ROBIN, "Weighted round robin"],
                      [BalancePolicy.RANDOM, "Random"],
                      [BalancePolicy.LEAST_ACTIVE, "Least active requests"],
                      [BalancePolicy.CONSISTENT_HASH, "Consistent hash"],
                    ]}
                    onValue={(v) => update((d) => (d.loadBalancing.policy = v))}
                  />
                  <Select
                    label="Hash on"
                    field="load_balancing.hash_on"
                    problem={problem}
                    hint="Consistent hash only."
                    value={f.loadBalancing.hashOn}
                    options={[
                      [HashOn.UNSPECIFIED, "—"],
                      [HashOn.CLIENT_IP, "Client IP"],
                      [HashOn.HEADER, "A request header"],
                      [HashOn.COOKIE, "A cookie"],
                    ]}
                    onValue={(v) => update((d) => (d.loadBalancing.hashOn = v))}
                  />
                  <TextInput label="Hash key (header or cookie name)" field="load_balancing.hash_key" problem={problem} value={f.loadBalancing.hashKey} onValue={(v) => update((d) => (d.loadBalancing.hashKey = v))} />
                </div>
              </Section>

              <Section summary="Active health check" fields={["health_check"]} problem={problem}>
                <Checkbox label="Check targets actively" field="health_check.enabled" problem={problem} checked={f.healthCheck.enabled} onValue={(v) => update((d) => (d.healthCheck.enabled = v))} />
                <div class="grid2">
                  <TextInput label="Check method" field="health_check.method" problem={problem} placeholder="GET" value={f.healthCheck.method} onValue={(v) => update((d) => (d.healthCheck.method = v))} />
                  <TextInput label="Check path" field="health_check.path" problem={problem} placeholder="/" value={f.healthCheck.path} onValue={(v) => update((d) => (d.healthCheck.path = v))} />
                  <TextInput label="Interval (ms)" field="health_check.interval_ms" problem={problem} inputMode="numeric" placeholder="10000" value={f.healthCheck.intervalMs} onValue={(v) => update((d) => (d.healthCheck.intervalMs = v))} />
                  <TextInput label="Timeout (ms)" field="health_check.timeout_ms" problem={problem} inputMode="numeric" placeholder="2000" value={f.healthCheck.timeoutMs} onValue={(v) => update((d) => (d.healthCheck.timeoutMs = v))} />
                  <TextInput label="Healthy after (successes)" field="health_check.healthy_threshold" problem={problem} inputMode="numeric" placeholder="2" value={f.healthCheck.healthyThreshold} onValue={(v) => update((d) => (d.healthCheck.healthyThreshold = v))} />
                  <TextInput label="Unhealthy after (failures)" field="health_check.unhealthy_threshold" problem={problem} inputMode="numeric" placeholder="2" value={f.healthCheck.unhealthyThreshold} onValue={(v) => update((d) => (d.healthCheck.unhealthyThreshold = v))} />
                  <TextInput label="Expected statuses" field="health_check.expected_statuses" problem={problem} placeholder="200, 204" hint="Empty = any 2xx or 3xx." value={f.healthCheck.expectedStatuses} onValue={(v) => update((d) => (d.healthCheck.expectedStatuses = v))} />
                </div>
              </Section>

              <Section summary="Passive health" fields={["passive_health"]} problem={problem}>
                <Checkbox label="Skip targets that fail to connect or time out" field="passive_health.enabled" problem={problem} checked={f.passiveHealth.enabled} onValue={(v) => update((d) => (d.passiveHealth.enabled = v))} />
                <TextInput label="Cooldown (ms)" field="passive_health.cooldown_ms" problem={problem} inputMode="numeric" placeholder="30000" value={f.passiveHealth.cooldownMs} onValue={(v) => update((d) => (d.passiveHealth.cooldownMs = v))} />
              </Section>
            </>
          )}

          <Section summary="Options: headers, timeouts, limits, HTTPS" fields={["options"]} problem={problem}>
            {forward && (
              <>
                <Checkbox label="Preserve the client's Host header" field="options.preserve_host" problem={problem} checked={f.options.preserveHost} onValue={(v) => update((d) => (d.options.preserveHost = v))} />
                <Checkbox label="Strip the path prefix before forwarding" field="options.strip_path_prefix" problem={problem} checked={f.options.stripPathPrefix} onValue={(v) => update((d) => (d.options.stripPathPrefix = v))} />
                <h4>Add request headers</h4>
                <HeaderRows what="Request header" rows={f.options.addRequestHeaders} field="options.add_request_headers" problem={problem} admin={admin} onRows={(rows) => update((d) => (d.options.addRequestHeaders = rows))} />
                <TextInput label="Remove request headers" field="options.remove_request_headers" problem={problem} hint="Comma-separated names." value={f.options.removeRequestHeaders} onValue={(v) => update((d) => (d.options.removeRequestHeaders = v))} />
              </>
            )}
            <h4>Add response headers</h4>
            <HeaderRows what="Response header" rows={f.options.addResponseHeaders} field="options.add_response_headers" problem={problem} admin={admin} onRows={(rows) => update((d) => (d.options.addResponseHeaders = rows))} />
            <TextInput label="Remove response headers" field="options.remove_response_headers" problem={problem} hint="Comma-separated names." value={f.options.removeResponseHeaders} onValue={(v) => update((d) => (d.options.removeResponseHeaders = v))} />
            <div class="grid2">
              {forward && (
                <>
                  <TextInput label="Connect timeout (ms)" field="options.connect_timeout_ms" problem={problem} inputMode="numeric" placeholder="5000" hint="Empty or 0 = 5000." value={f.options.connectTimeoutMs} onValue={(v) => update((d) => (d.options.connectTimeoutMs = v))} />
                  <TextInput label="Response header timeout (ms)" field="options.response_header_timeout_ms" problem={problem} inputMode="numeric" placeholder="60000" hint="Empty or 0 = 60000." value={f.options.responseHeaderTimeoutMs} onValue={(v) => update((d) => (d.options.responseHeaderTimeoutMs = v))} />
                </>
              )}
              <TextInput label="Max request body (bytes)" field="options.max_body_bytes" problem={problem} inputMode="numeric" placeholder="104857600" hint="Unset = 100 MiB, 0 = unlimited." value={f.options.maxBodyBytes} onValue={(v) => update((d) => (d.options.maxBodyBytes = v))} />
              <TextInput label="Max concurrent requests" field="options.max_concurrent_requests" problem={problem} inputMode="numeric" placeholder="0" hint="Requests in flight at most; past it 503 with Retry-After: 1 instead of a queue. Empty or 0 = unlimited." value={f.options.maxConcurrentRequests} onValue={(v) => update((d) => (d.options.maxConcurrentRequests = v))} />
              <TextInput label="HSTS max-age (seconds)" field="options.hsts_max_age_seconds" problem={problem} inputMode="numeric" placeholder="0" hint="Above 0: Strict-Transport-Security on HTTPS responses." value={f.options.hstsMaxAgeSeconds} onValue={(v) => update((d) => (d.options.hstsMaxAgeSeconds = v))} />
            </div>
            <Checkbox label="Redirect HTTP to HTTPS (308)" field="options.https_redirect" problem={problem} checked={f.options.httpsRedirect} onValue={(v) => update((d) => (d.options.httpsRedirect = v))} />
            {forward && (
              <>
                <Checkbox label="Allow encoded separators (%2F, %5C)" field="options.allow_encoded_separators" problem={problem} checked={f.options.allowEncodedSeparators} onValue={(v) => update((d) => (d.options.allowEncodedSeparators = v))} />
                <Checkbox label="Add Via: 1.1 warren" field="options.add_via" problem={problem} checked={f.options.addVia} onValue={(v) => update((d) => (d.options.addVia = v))} />
                <TextInput label="Upgrade protocols besides websocket" field="options.upgrade_protocols" problem={problem} placeholder="h2c, tls/1.2" value={f.options.upgradeProtocols} onValue={(v) => update((d) => (d.options.upgradeProtocols = v))} />
              </>
            )}
          </Section>
        </fieldset>

        <EditorFooter
          problem={problem}
          fields={FORM_FIELDS}
          saved={saved}
          admin={admin}
          busy={busy}
          isNew={isNew}
          noun="route"
          listHref="/routes"
          deleteQuestion={
            <>
              Delete route <strong>{route?.spec?.name || id}</strong>? Requests it matches will go to the next matching route, or get 404.
            </>
          }
          onDelete={remove}
        />
      </form>
    </section>
  );
}
