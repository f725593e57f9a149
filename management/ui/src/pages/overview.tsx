import { api } from "../lib/api.ts";
import { useLoad } from "../lib/load.ts";
import { info, isAdmin } from "../lib/session.ts";
import { Badge, CopyButton, Empty, Loading, PageHeader, Problem } from "../components/ui.tsx";
import { ListenerProtocol, ListenerState } from "../../../../proto/gen/warren/v1/proxy_pb.ts";

export function listenerStateBadge(state: ListenerState | undefined, error?: string) {
  if (state === ListenerState.RUNNING) return <Badge tone="ok">running</Badge>;
  if (state === ListenerState.ERROR) return <Badge tone="bad">{error ? `error: ${error}` : "error"}</Badge>;
  return <Badge tone="muted">stopped</Badge>;
}

export function OverviewPage() {
  const cfg = useLoad(() => api.proxy.getProxyConfig({}), [], 5_000);
  const agents = useLoad(() => api.agents.listAgents({}), [], 5_000);
  const summary = useLoad(() => api.observability.getRequestSummary({}), [], 5_000);
  const sum = summary.data;
  const server = info.value;
  const online = agents.data?.agents.filter((a) => a.status?.online).length ?? 0;
  const total = agents.data?.agents.length ?? 0;
  return (
    <section>
      <PageHeader title="Overview" />
      <div class="tiles">
        <div class="tile">
          <div class="tile-label">Listeners</div>
          <div class="tile-value">{cfg.data?.listeners.length ?? "…"}</div>
        </div>
        <div class="tile">
          <div class="tile-label">Routes</div>
          <div class="tile-value">{cfg.data?.routes.length ?? "…"}</div>
        </div>
        <div class="tile">
          <div class="tile-label">Agents online</div>
          <div class="tile-value" data-testid="agents-online">
            {agents.data ? `${online} / ${total}` : "…"}
          </div>
        </div>
        <div class="tile">
          <div class="tile-label">
            <a href="/requests">Requests (last hour)</a>
          </div>
          <div class="tile-value" data-testid="requests-hour">
            {sum ? String(sum.requests) : "…"}
          </div>
        </div>
        <div class="tile">
          <div class="tile-label">
            <a href="/requests?status=5xx">Errors (last hour)</a>
          </div>
          <div class={`tile-value${sum && sum.serverErrors > 0n ? " warn" : ""}`} data-testid="errors-hour">
            {sum ? String(sum.clientErrors + sum.serverErrors) : "…"}
          </div>
          {sum && (
            <div class="tile-note">
              <a href="/requests?status=4xx">{String(sum.clientErrors)} 4xx</a> · <a href="/requests?status=5xx">{String(sum.serverErrors)} 5xx</a> · {String(sum.warrenErrors)} answered by Warren
            </div>
          )}
        </div>
      </div>
      <Problem problem={summary.problem} />

      <h2>Listeners</h2>
      <Problem problem={cfg.problem} />
      {cfg.loading && !cfg.data && <Loading what="listeners" />}
      {cfg.data && cfg.data.listeners.length === 0 && <Empty>No listeners yet.</Empty>}
      {cfg.data && cfg.data.listeners.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Address</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {cfg.data.listeners.map((l) => (
              <tr key={l.id}>
                <td>
                  <a href={`/listeners/${l.id}`}>{l.spec?.name}</a>
                </td>
                <td>
                  {l.spec?.protocol === ListenerProtocol.HTTPS ? "https" : "http"}://{l.spec?.bindAddress || "*"}:{l.status?.boundPort || l.spec?.port}
                </td>
                <td>{listenerStateBadge(l.status?.state, l.status?.error)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      {server && (
        <>
          <h2>Server</h2>
          <dl class="facts">
            <dt>Version</dt>
            <dd>{server.version}</dd>
            <dt>Management TLS</dt>
            <dd>{server.tlsMode}</dd>
            {server.caFingerprintSha256 && (
              <>
                <dt>CA fingerprint (SHA-256)</dt>
                <dd>
                  <code data-testid="ca-fingerprint">{server.caFingerprintSha256}</code> <CopyButton text={server.caFingerprintSha256} />
                </dd>
              </>
            )}
            <dt>Public URL</dt>
            <dd>{server.publicUrl || (isAdmin.value ? <span class="warn">not set: agents on other hosts need MANAGEMENT_PUBLIC_URL</span> : "not set")}</dd>
          </dl>
        </>
      )}
    </section>
  );
}
