// One agent: its live status and last report (refreshed every 3 s), its certificate, and for admins
// editing name and labels, enable/disable, requiring mTLS, rotating the token and deleting it.
import { useEffect, useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import { navigate } from "../lib/router.ts";
import { ago, bytes, when } from "../lib/format.ts";
import type { ApiProblem } from "../lib/errors.ts";
import { Checkbox, ConfirmButton, FormProblem, Loading, PageHeader, Problem, TextInput } from "../components/ui.tsx";
import type { Agent, InstallSnippet } from "../../../../proto/gen/warren/v1/agent_pb.ts";
import { InstallSnippets, LabelChips, LabelsEditor, TokenReveal, enabledBadge, labelsFromRows, onlineBadge, rowsFromLabels, type LabelRow } from "./agents.tsx";
import "./agents.css";

function StatusFacts({ a }: { a: Agent }) {
  const st = a.status;
  const now = Date.now();
  return (
    <dl class="facts" data-testid="agent-facts">
      <dt>Status</dt>
      <dd data-testid="agent-status">{onlineBadge(a)}</dd>
      <dt>Enabled</dt>
      <dd>{enabledBadge(a)}</dd>
      <dt>Requires mTLS</dt>
      <dd>{a.requireMtls ? "yes" : "no"}</dd>
      {st?.online && (
        <>
          <dt>Connected since</dt>
          <dd>{when(st.connectedSince)}</dd>
        </>
      )}
      <dt>Last seen</dt>
      <dd>
        {ago(st?.lastSeen, now)}
        {st?.lastSeen && <span class="muted"> ({when(st.lastSeen)})</span>}
      </dd>
      <dt>Remote address</dt>
      <dd>{st?.remoteAddress || "—"}</dd>
      <dt>Version</dt>
      <dd>{st?.version || "—"}</dd>
      <dt>Hostname</dt>
      <dd>{st?.hostname || "—"}</dd>
      {st?.online && (
        <>
          <dt>Active streams</dt>
          <dd data-testid="active-streams">{String(st.activeStreams)}</dd>
          <dt>Tunnel bytes in / out</dt>
          <dd>
            {bytes(st.bytesIn)} / {bytes(st.bytesOut)}
          </dd>
          <dt>Client certificate (mTLS)</dt>
          <dd>{st.mtls ? "presented" : "none"}</dd>
          <dt>Certificate valid until</dt>
          <dd>{when(st.certificateNotAfter)}</dd>
        </>
      )}
      <dt>Created</dt>
      <dd>{when(a.createdAt)}</dd>
      <dt>Updated</dt>
      <dd>{when(a.updatedAt)}</dd>
    </dl>
  );
}

function ReportedStats({ a }: { a: Agent }) {
  const r = a.status?.reportedStats;
  if (!a.status?.online) return <p class="muted">The agent is offline: its own counters arrive while it is connected.</p>;
  if (!r) return <p class="muted">No report yet: a connected agent reports every 5 s.</p>;
  return (
    <dl class="facts" data-testid="reported-stats">
      <dt>Active streams</dt>
      <dd>{String(r.activeStreams)}</dd>
      <dt>Streams total</dt>
      <dd>{String(r.streamsTotal)}</dd>
      <dt>Dial failures</dt>
      <dd>{String(r.dialFailures)}</dd>
      <dt>Bytes to origins</dt>
      <dd>{bytes(r.bytesToOrigins)}</dd>
      <dt>Bytes from origins</dt>
      <dd>{bytes(r.bytesFromOrigins)}</dd>
      <dt>Reported</dt>
      <dd>{when(r.reportedAt)}</dd>
    </dl>
  );
}

function EditAgentForm({ a, onSaved }: { a: Agent; onSaved: (a: Agent | undefined) => void }) {
  const [name, setName] = useState(a.name);
  const [rows, setRows] = useState<LabelRow[]>(() => rowsFromLabels(a.labels));
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setDone(false);
    const { labels, problem: local } = labelsFromRows(rows);
    if (local) return setProblem(local);
    setBusy(true);
    let saved: Agent | undefined;
    const p = await attempt(async () => {
      saved = (await api.agents.updateAgent({ id: a.id, name: name.trim(), replaceLabels: true, labels })).agent;
    });
    setBusy(false);
    setProblem(p);
    if (!p) {
      setDone(true);
      if (saved) setRows(rowsFromLabels(saved.labels));
      onSaved(saved);
    }
  };
  return (
    <form class="card" onSubmit={submit} noValidate aria-labelledby="edit-agent-title">
      <h2 id="edit-agent-title">Name and labels</h2>
      <TextInput label="Name" field="name" problem={problem} value={name} onValue={setName} required autoComplete="off" />
      <LabelsEditor rows={rows} onRows={setRows} problem={problem} systemId={a.id} />
      <FormProblem problem={problem} fields={["name", "labels"]} />
      {done && (
        <p class="ok" role="status">
          Saved.
        </p>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          Save
        </button>
      </div>
    </form>
  );
}

export function AgentPage({ params }: PageProps) {
  const id = params.id ?? "";
  const loaded = useLoad(() => api.agents.getAgent({ id }), [id], 3_000);
  const snippet = useLoad(() => api.agents.getInstallSnippet({ id }), [id]);
  // What a write just returned, until the next refresh brings it too.
  const [fresh, setFresh] = useState<Agent | undefined>();
  useEffect(() => setFresh(undefined), [loaded.data]);
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [rotated, setRotated] = useState<{ token: string; install: InstallSnippet | undefined; agent: Agent | undefined } | undefined>();
  const a = fresh ?? loaded.data?.agent;
  const admin = isAdmin.value;

  const write = async (fn: () => Promise<Agent | undefined>) => {
    let next: Agent | undefined;
    const p = await attempt(async () => {
      next = await fn();
    });
    setProblem(p);
    if (!p && next) setFresh(next);
    loaded.reload();
    return p;
  };

  if (!a) {
    return (
      <section>
        <PageHeader title="Agent" />
        <p>
          <a href="/agents">← All agents</a>
        </p>
        <Problem problem={loaded.problem} />
        {loaded.loading && !loaded.problem && <Loading what="the agent" />}
      </section>
    );
  }
  const online = a.status?.online === true;
  return (
    <section>
      <PageHeader title={`Agent ${a.name}`}>
        {admin && (
          <>
            <button type="button" onClick={() => void write(async () => (await api.agents.updateAgent({ id: a.id, enabled: !a.enabled })).agent)}>
              {a.enabled ? "Disable" : "Enable"}
            </button>
            <ConfirmButton
              label="Rotate token"
              question={`Issue a new token for ${a.name}? The current token stops working at once, the live tunnel is closed and the agent's certificates are revoked; the agent needs the new token to connect again.`}
              onConfirm={async () => {
                let r: Awaited<ReturnType<typeof api.agents.rotateAgentToken>> | undefined;
                const p = await write(async () => {
                  r = await api.agents.rotateAgentToken({ id: a.id });
                  return r.agent;
                });
                if (!p && r) setRotated({ token: r.token, install: r.install, agent: r.agent });
              }}
            />
            <ConfirmButton
              label="Delete agent"
              question={`Delete agent ${a.name}? Routes that select it lose this target. This cannot be undone.`}
              confirmLabel="Delete"
              onConfirm={async () => {
                const p = await attempt(() => api.agents.deleteAgent({ id: a.id }));
                setProblem(p);
                if (!p) navigate("/agents");
              }}
            />
          </>
        )}
      </PageHeader>
      <p>
        <a href="/agents">← All agents</a> · <code>{a.id}</code>
      </p>
      {admin && online && (
        <p class="hint" data-testid="delete-needs-offline">
          Deletion needs the agent offline: the server refuses it while the agent is connected. Disable it (that closes its tunnel) or stop its process first.
        </p>
      )}
      <Problem problem={problem} />
      {loaded.problem && <Problem problem={loaded.problem} />}
      {rotated && <TokenReveal title="New token" agent={undefined} token={rotated.token} install={rotated.install} onDone={() => setRotated(undefined)} />}

      <div class="agent-sections">
        <section aria-labelledby="status-title">
          <h2 id="status-title">Status</h2>
          <StatusFacts a={a} />
        </section>
        <section aria-labelledby="reported-title">
          <h2 id="reported-title">Reported by the agent</h2>
          <ReportedStats a={a} />
        </section>
      </div>

      {admin ? (
        <>
          <EditAgentForm key={a.id} a={a} onSaved={(x) => (x ? setFresh(x) : loaded.reload())} />
          <div class="card">
            <h2>Security</h2>
            <Checkbox
              label="Require mTLS for the tunnel"
              checked={a.requireMtls}
              onValue={(v) => void write(async () => (await api.agents.updateAgent({ id: a.id, requireMtls: v })).agent)}
              hint="The agent must present the client certificate it enrolled for; turning this on closes a live tunnel without one."
            />
          </div>
        </>
      ) : (
        <>
          <h2>Labels</h2>
          <LabelChips labels={a.labels} system />
        </>
      )}

      <h2>Install</h2>
      <p class="hint">For reference, without the token (it is shown only when the agent is created or its token rotated).</p>
      <Problem problem={snippet.problem} />
      {snippet.loading && !snippet.data && <Loading what="install snippets" />}
      {snippet.data?.install && <InstallSnippets install={snippet.data.install} />}
    </section>
  );
}
