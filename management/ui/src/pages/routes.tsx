// Routes, grouped by listener (a filter narrows to one): what each matches, what it does, and its
// targets at a glance (flagged when a target skips verifying the origin's certificate); each links to
// its editor. Admins get "New route".
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import { navigate } from "../lib/router.ts";
import { targetsSummary } from "../lib/route-form.ts";
import { Badge, Empty, Loading, PageHeader, Problem, Select } from "../components/ui.tsx";
import { RouteAction, type Listener, type Route } from "../../../../proto/gen/warren/v1/proxy_pb.ts";
import "./routes.css";

export function actionText(r: Route): string {
  const s = r.spec;
  if (s?.action === RouteAction.REDIRECT) return `redirect ${s.redirect?.status ?? ""} → ${s.redirect?.location ?? ""}`;
  if (s?.action === RouteAction.STATIC) return `static ${s.staticResponse?.status ?? ""}`;
  return "forward";
}

function byPriority(a: Route, b: Route): number {
  const d = Number(a.spec?.isDefault ?? false) - Number(b.spec?.isDefault ?? false);
  return d || (a.spec?.priority ?? 0) - (b.spec?.priority ?? 0);
}

function RouteTable({ routes, skipVerify }: { routes: Route[]; skipVerify: ReadonlySet<string> }) {
  if (routes.length === 0) return <Empty>No routes on this listener.</Empty>;
  return (
    <div class="table-scroll">
    <table class="routes-table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Hosts</th>
          <th scope="col">Path prefix</th>
          <th scope="col">Methods</th>
          <th scope="col">Priority</th>
          <th scope="col">Action</th>
          <th scope="col">Targets</th>
        </tr>
      </thead>
      <tbody>
        {routes.map((r) => {
          const s = r.spec;
          const disabled = s?.targets.filter((t) => t.enabled === false).length ?? 0;
          return (
            <tr key={r.id} data-route-id={r.id}>
              <td>
                <a href={`/routes/${r.id}`}>{s?.name || <span class="muted">(unnamed {r.id})</span>}</a> {s?.isDefault && <Badge tone="muted">default</Badge>}
              </td>
              <td>{s && s.hosts.length > 0 ? s.hosts.join(", ") : <span class="muted">any</span>}</td>
              <td>
                <code>{s?.pathPrefix || "/"}</code>
              </td>
              <td>{s && s.methods.length > 0 ? s.methods.join(", ") : <span class="muted">any</span>}</td>
              <td>{s?.priority ?? 0}</td>
              <td>{actionText(r)}</td>
              <td class={disabled > 0 ? "warn" : undefined}>
                {targetsSummary(s)}{" "}
                {skipVerify.has(r.id) && (
                  <span title="A target skips verifying the origin's TLS certificate (tls_skip_verify)" data-testid="tls-skip-verify">
                    <Badge tone="warn">TLS not verified</Badge>
                  </span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
    </div>
  );
}

export function RoutesPage({ query }: PageProps) {
  const cfg = useLoad(() => api.proxy.getProxyConfig({}), [], 10_000);
  const listeners: Listener[] = cfg.data?.listeners ?? [];
  const routes = cfg.data?.routes ?? [];
  const filter = query.get("listener") ?? "";
  const shown = filter ? listeners.filter((l) => l.id === filter) : listeners;
  const orphans = routes.filter((r) => !listeners.some((l) => l.id === r.spec?.listenerId));
  const skipVerify = new Set(cfg.data?.warnings?.tlsSkipVerifyRouteIds ?? []);
  return (
    <section>
      <PageHeader title="Routes">
        {isAdmin.value && listeners.length > 0 && (
          <a class="button-link primary" href={filter ? `/routes/new?listener=${encodeURIComponent(filter)}` : "/routes/new"}>
            New route
          </a>
        )}
      </PageHeader>
      <Problem problem={cfg.problem} />
      {cfg.loading && !cfg.data && <Loading what="routes" />}
      {cfg.data && listeners.length === 0 && (
        <Empty>
          No listeners yet: routes live on a listener. <a href="/listeners">Add a listener</a> first.
        </Empty>
      )}
      {cfg.data && listeners.length > 1 && (
        <div class="routes-filter">
          <Select
            label="Listener"
            value={filter}
            options={[["", "All listeners"] as const, ...listeners.map((l) => [l.id, l.spec?.name ?? l.id] as const)]}
            onValue={(v) => navigate(v ? `/routes?listener=${encodeURIComponent(v)}` : "/routes", { replace: true })}
          />
        </div>
      )}
      {cfg.data &&
        shown.map((l) => {
          const mine = routes.filter((r) => r.spec?.listenerId === l.id).sort(byPriority);
          return (
            <section key={l.id} class="routes-group" aria-labelledby={`lst-${l.id}`}>
              <div class="page-header">
                <h2 id={`lst-${l.id}`}>
                  {l.spec?.name ?? l.id} <span class="muted">:{l.status?.boundPort || l.spec?.port}</span>{" "}
                  <span class="muted">
                    ({mine.length} route{mine.length === 1 ? "" : "s"})
                  </span>
                </h2>
                {isAdmin.value && (
                  <a class="button-link" href={`/routes/new?listener=${encodeURIComponent(l.id)}`} aria-label={`New route on ${l.spec?.name ?? l.id}`}>
                    New route here
                  </a>
                )}
              </div>
              <RouteTable routes={mine} skipVerify={skipVerify} />
            </section>
          );
        })}
      {cfg.data && !filter && orphans.length > 0 && (
        <section class="routes-group">
          <h2>On no listener</h2>
          <RouteTable routes={orphans} skipVerify={skipVerify} />
        </section>
      )}
    </section>
  );
}
