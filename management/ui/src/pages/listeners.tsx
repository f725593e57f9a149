// Listeners: every public address Warren accepts HTTP(S) on, with its live state (refreshed every
// 3 s; the bind error when it could not bind), a "fallback" badge on an HTTPS listener that serves
// Warren's self-signed fallback (links to its certificates), enable/disable for admins, and a link to edit.
import { useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import type { ApiProblem } from "../lib/errors.ts";
import { Badge, Empty, Loading, PageHeader, Problem } from "../components/ui.tsx";
import { ListenerProtocol, type Listener } from "../../../../proto/gen/warren/v1/proxy_pb.ts";
import { listenerStateBadge } from "./overview.tsx";
import "./listeners.css";

export function listenerAddress(l: Listener): string {
  const bind = l.spec?.bindAddress ?? "";
  const host = bind === "" ? "*" : bind.includes(":") ? `[${bind}]` : bind;
  return `${host}:${l.status?.boundPort || l.spec?.port || 0}`;
}

export function protocolName(p: ListenerProtocol | undefined): string {
  return p === ListenerProtocol.HTTPS ? "HTTPS" : "HTTP";
}

export function ListenersPage(_props: PageProps) {
  const cfg = useLoad(() => api.proxy.getProxyConfig({}), [], 3_000);
  const [problem, setProblem] = useState<ApiProblem | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  const listeners = cfg.data?.listeners ?? [];
  const routeCount = (id: string) => cfg.data?.routes.filter((r) => r.spec?.listenerId === id).length ?? 0;
  const toggle = async (l: Listener) => {
    setBusy(l.id);
    const p = await attempt(() => (l.spec?.enabled ? api.proxy.disableListener({ id: l.id }) : api.proxy.enableListener({ id: l.id })));
    setBusy(undefined);
    setProblem(p);
    cfg.reload();
  };
  return (
    <section>
      <PageHeader title="Listeners">
        {isAdmin.value && (
          <a class="button-link" href="/listeners/new">
            New listener
          </a>
        )}
      </PageHeader>
      <Problem problem={problem} />
      <Problem problem={cfg.problem} />
      {cfg.loading && !cfg.data && <Loading what="listeners" />}
      {cfg.data && listeners.length === 0 && <Empty>No listeners yet. A listener is an address and port Warren accepts HTTP or HTTPS on; routes attach to a listener and say where its requests go.</Empty>}
      {listeners.length > 0 && (
        <table aria-label="Listeners">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Protocol</th>
              <th scope="col">Address</th>
              <th scope="col">PROXY protocol</th>
              <th scope="col">Routes</th>
              <th scope="col">State</th>
              <th scope="col">
                <span class="muted">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {listeners.map((l) => (
              <tr key={l.id} data-listener={l.spec?.name}>
                <td>
                  <a href={`/listeners/${l.id}`}>{l.spec?.name}</a>
                </td>
                <td>
                  {protocolName(l.spec?.protocol)}{" "}
                  {l.servesFallbackCertificate && (
                    <a href={`/certificates?listener=${encodeURIComponent(l.id)}`} title="Serves Warren's self-signed fallback for names no certificate covers: browsers warn" data-testid="fallback-badge">
                      <Badge tone="warn">fallback certificate</Badge>
                    </a>
                  )}
                </td>
                <td class="nowrap">
                  <code>{listenerAddress(l)}</code>
                </td>
                <td>{l.spec?.acceptProxyProtocol ? "accepted" : "no"}</td>
                <td>{routeCount(l.id)}</td>
                <td data-testid="listener-state">{l.spec?.enabled ? listenerStateBadge(l.status?.state, l.status?.error) : <span class="badge badge-muted">disabled</span>}</td>
                <td>
                  <div class="cell-actions">
                    {isAdmin.value && (
                      <button type="button" disabled={busy === l.id} onClick={() => void toggle(l)} aria-label={`${l.spec?.enabled ? "Disable" : "Enable"} ${l.spec?.name ?? ""}`}>
                        {l.spec?.enabled ? "Disable" : "Enable"}
                      </button>
                    )}
                    <a href={`/listeners/${l.id}`} aria-label={`${isAdmin.value ? "Edit" : "View"} ${l.spec?.name ?? ""}`}>
                      {isAdmin.value ? "Edit" : "View"}
                    </a>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
