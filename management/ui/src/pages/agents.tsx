// Agents: the list with each agent's live status (refreshed every 3 s), creating one (admin), and the
// pieces the detail page shares: label chips, the label rows editor, the one-time token panel.
import { useRef, useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, useLoad } from "../lib/load.ts";
import { info, isAdmin } from "../lib/session.ts";
import { ago, bytes } from "../lib/format.ts";
import type { ApiProblem } from "../lib/errors.ts";
import { Badge, CopyButton, Empty, FormProblem, Loading, PageHeader, Problem, TextInput, FormActions } from "../components/ui.tsx";
import type { Agent, InstallSnippet } from "../../../../proto/gen/warren/v1/agent_pb.ts";
import "./agents.css";

/** The system label every agent carries; Warren sets it, nobody edits it. */
export const AGENT_ID_LABEL = "warren.io/agent-id";

export function onlineBadge(a: Agent) {
  return a.status?.online ? <Badge tone="ok">online</Badge> : <Badge tone="muted">offline</Badge>;
}

export function enabledBadge(a: Agent) {
  return a.enabled ? <Badge tone="ok">enabled</Badge> : <Badge tone="warn">disabled</Badge>;
}

export function LabelChips({ labels, system = false }: { labels: Readonly<Record<string, string>>; system?: boolean }) {
  const entries = Object.entries(labels)
    .filter(([k]) => system || k !== AGENT_ID_LABEL)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  if (entries.length === 0) return <span class="muted">none</span>;
  return (
    <ul class="chips" aria-label="Labels">
      {entries.map(([k, v]) => (
        <li key={k}>
          <code>{v === "" ? k : `${k}=${v}`}</code>
        </li>
      ))}
    </ul>
  );
}

export interface LabelRow {
  readonly key: string;
  readonly value: string;
  /** Stable across edits (the list key). */
  readonly n: number;
}

let rowSeq = 0;
export function labelRow(key = "", value = ""): LabelRow {
  return { key, value, n: ++rowSeq };
}

/** The user labels as editable rows (the system label is not one of them). */
export function rowsFromLabels(labels: Readonly<Record<string, string>>): LabelRow[] {
  return Object.entries(labels)
    .filter(([k]) => k !== AGENT_ID_LABEL)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => labelRow(k, v));
}

/** The rows as a label map; blank rows are dropped, a key given twice is a problem under that row. */
export function labelsFromRows(rows: readonly LabelRow[]): { labels: Record<string, string>; problem?: ApiProblem } {
  const labels: Record<string, string> = {};
  for (const r of rows) {
    const key = r.key.trim();
    if (key === "" && r.value.trim() === "") continue;
    if (key === "") return { labels, problem: { code: "invalid_argument", field: `labels[""]`, message: "a label needs a key" } };
    if (key in labels) return { labels, problem: { code: "invalid_argument", field: `labels["${key}"]`, message: "this key is given twice" } };
    labels[key] = r.value.trim();
  }
  return { labels };
}

/** key=value rows with add and remove; a server error naming `labels["key"]` shows under that row. */
export function LabelsEditor({ rows, onRows, problem, systemId }: { rows: readonly LabelRow[]; onRows: (r: LabelRow[]) => void; problem: ApiProblem | undefined; systemId?: string }) {
  const set = (n: number, patch: Partial<LabelRow>) => onRows(rows.map((r) => (r.n === n ? { ...r, ...patch } : r)));
  const listMsg = problem?.field === "labels" ? problem.message : undefined;
  return (
    <fieldset>
      <legend>Labels</legend>
      <p class="hint">Routes pick agents by label (a target's agent selector must match every pair). Keys look like <code>site</code> or <code>example.com/role</code>; the value may be empty.</p>
      {systemId && (
        <p>
          <code>
            {AGENT_ID_LABEL}={systemId}
          </code>{" "}
          <span class="muted">(set by Warren, read-only)</span>
        </p>
      )}
      <div class="label-rows">
        {rows.map((r, i) => (
          <div class="label-row" key={r.n}>
            <TextInput label={`Label ${i + 1} key`} field={`labels["${r.key.trim()}"]`} problem={problem} value={r.key} onValue={(key) => set(r.n, { key })} autoComplete="off" />
            <TextInput label={`Label ${i + 1} value`} value={r.value} onValue={(value) => set(r.n, { value })} autoComplete="off" />
            <button type="button" onClick={() => onRows(rows.filter((x) => x.n !== r.n))} aria-label={`Remove label ${i + 1}`}>
              Remove
            </button>
          </div>
        ))}
      </div>
      {listMsg && (
        <div class="field-error" role="alert">
          {listMsg}
        </div>
      )}
      <button type="button" onClick={() => onRows([...rows, labelRow()])}>
        Add label
      </button>
    </fieldset>
  );
}

function Snippet({ label, value }: { label: string; value: string }) {
  const id = useRef(`snip-${++rowSeq}`).current;
  return (
    <div class="secret" data-snippet={label}>
      <div class="secret-head">
        <strong id={id}>{label}</strong> <CopyButton text={value} label={`Copy ${label.toLowerCase()}`} />
      </div>
      <pre tabIndex={0} aria-labelledby={id}>
        {value}
      </pre>
    </div>
  );
}

/** The install snippets, each with its copy button (with or without the token in them). */
export function InstallSnippets({ install }: { install: InstallSnippet }) {
  const server = info.value;
  return (
    <>
      <p class="hint">
        Paste the command line on the agent's host, in an empty folder: it needs only Node 20.19 or newer, downloads the agent from management, checks its SHA-256 and runs it.
      </p>
      {server && !server.publicUrl && (
        <p class="warn" role="note" data-testid="public-url-warning">
          MANAGEMENT_PUBLIC_URL is not set, so these snippets point at localhost: they work only on this host. Agents on other hosts need the server started with MANAGEMENT_PUBLIC_URL set to the address they reach management at.
        </p>
      )}
      <Snippet label="Command line" value={install.commandLine} />
      <Snippet label="Environment file" value={install.envFile} />
      <Snippet label="systemd unit" value={install.systemdUnit} />
      <Snippet label="Compose service" value={install.composeService} />
    </>
  );
}

/** The token and the snippets that carry it, shown once right after create or rotate. */
export function TokenReveal({ title, agent, token, install, onDone }: { title: string; agent: Agent | undefined; token: string; install: InstallSnippet | undefined; onDone: () => void }) {
  return (
    <section class="card reveal" aria-labelledby="reveal-title" data-testid="token-reveal">
      <h2 id="reveal-title">{title}</h2>
      <p class="warn" role="status">
        <strong>Copy the token now: it is not shown again.</strong> Warren keeps only its hash. If it is lost, rotate the token.
      </p>
      <Snippet label="Agent token" value={token} />
      {install && <InstallSnippets install={install} />}
      <div class="actions">
        {agent && <a href={`/agents/${agent.id}`}>Open {agent.name}</a>}
        <button type="button" class="primary" onClick={onDone}>
          Done, I have copied it
        </button>
      </div>
    </section>
  );
}

function CreateAgentForm({ onCreated, onCancel }: { onCreated: (r: { agent: Agent | undefined; token: string; install: InstallSnippet | undefined }) => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const [rows, setRows] = useState<LabelRow[]>([labelRow()]);
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const { labels, problem: local } = labelsFromRows(rows);
    if (local) return setProblem(local);
    setBusy(true);
    let created: Awaited<ReturnType<typeof api.agents.createAgent>> | undefined;
    const p = await attempt(async () => {
      created = await api.agents.createAgent({ name: name.trim(), labels });
    });
    setBusy(false);
    setProblem(p);
    if (!p && created) onCreated({ agent: created.agent, token: created.token, install: created.install });
  };
  return (
    <form class="card" onSubmit={submit} noValidate aria-labelledby="create-agent-title">
      <h2 id="create-agent-title">Create agent</h2>
      <TextInput label="Name" field="name" problem={problem} value={name} onValue={setName} required autoFocus autoComplete="off" hint="1–63 letters, digits, space, '.', '_' or '-'." />
      <LabelsEditor rows={rows} onRows={setRows} problem={problem} />
      <FormProblem problem={problem} fields={["name", "labels"]} />
      <FormActions submit="Create agent" busy={busy} onCancel={onCancel} />
    </form>
  );
}

export function AgentsPage(_props: PageProps) {
  const list = useLoad(() => api.agents.listAgents({}), [], 3_000);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ agent: Agent | undefined; token: string; install: InstallSnippet | undefined } | undefined>();
  const agents = list.data?.agents ?? [];
  const now = Date.now();
  return (
    <section>
      <PageHeader title="Agents">
        {isAdmin.value && !creating && !created && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            Create agent
          </button>
        )}
      </PageHeader>
      {creating && (
        <CreateAgentForm
          onCancel={() => setCreating(false)}
          onCreated={(r) => {
            setCreating(false);
            setCreated(r);
            list.reload();
          }}
        />
      )}
      {created && <TokenReveal title={`Agent ${created.agent?.name ?? ""} created`} agent={created.agent} token={created.token} install={created.install} onDone={() => setCreated(undefined)} />}
      <Problem problem={list.problem} />
      {list.loading && !list.data && <Loading what="agents" />}
      {list.data && agents.length === 0 && (
        <Empty>
          No agents yet. An agent is a small process on another network: it dials out to this server and keeps a tunnel open, so routes can reach origins behind NAT or a firewall without opening any port there.
          {isAdmin.value ? " Create one to get its token and install snippets." : ""}
        </Empty>
      )}
      {agents.length > 0 && (
        <table aria-label="Agents">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Labels</th>
              <th scope="col">Enabled</th>
              <th scope="col">Status</th>
              <th scope="col">Version</th>
              <th scope="col">Host</th>
              <th scope="col">Remote address</th>
              <th scope="col">Active streams</th>
              <th scope="col">In / out</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {agents.map((a) => {
              const st = a.status;
              return (
                <tr key={a.id} data-agent={a.name}>
                  <td>
                    <a href={`/agents/${a.id}`}>{a.name}</a>
                  </td>
                  <td>
                    <LabelChips labels={a.labels} />
                  </td>
                  <td>{enabledBadge(a)}</td>
                  <td data-testid="agent-status">{onlineBadge(a)}</td>
                  <td>{st?.version || "—"}</td>
                  <td>{st?.hostname || "—"}</td>
                  <td>{st?.remoteAddress || "—"}</td>
                  <td>{st?.online ? String(st.activeStreams) : "—"}</td>
                  <td class="nowrap">{st?.online ? `${bytes(st.bytesIn)} / ${bytes(st.bytesOut)}` : "—"}</td>
                  <td class="nowrap">{ago(st?.lastSeen, now)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
