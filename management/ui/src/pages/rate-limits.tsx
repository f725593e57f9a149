// Rate limits in evaluation order: scope, key, algorithm, "limit / window", fail mode; and where the
// counters live (the store's status, refreshed every 3 s). Admins can turn a rule on or off, move it,
// delete it, and make a new one.
import { Fragment } from "preact";
import { useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import type { ApiProblem } from "../lib/errors.ts";
import { movePriorities, scopeSummary } from "../lib/policy-form.ts";
import { algorithmName, failModeName, keyPartsSummary, limitSummary, rateLimitSpecWith, storeStatusView } from "../lib/rate-limit-form.ts";
import { Badge, Empty, Loading, PageHeader, Problem } from "../components/ui.tsx";
import { StoreFailMode, type RateLimitRule } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { RowActions } from "./policy-fields.tsx";
import "./policies.css";

/** Where the counters live and whether that store answers; live. */
function StoreStatus({ failClosedRules }: { failClosedRules: number }) {
  const st = useLoad(() => api.policy.getRateLimitStoreStatus({}), [], 3_000);
  const v = st.data ? storeStatusView(st.data, failClosedRules) : undefined;
  return (
    <section class={`card store-status${v?.tone === "bad" ? " store-bad" : ""}`} aria-label="Counter store" data-testid="store-status">
      <h2>Counter store</h2>
      {st.loading && !st.data && <Loading what="the store's status" />}
      {st.problem && <Problem problem={st.problem} />}
      {v && (
        <>
          <p>
            <Badge tone={v.tone}>{v.tone === "ok" ? "ok" : "unhealthy"}</Badge> <span data-testid="store-headline">{v.headline}</span>
            {v.fallback && <span class="muted"> · {v.fallback}</span>}
          </p>
          {v.warning && (
            <p class="store-warning" role="alert">
              {v.warning}
            </p>
          )}
        </>
      )}
    </section>
  );
}

export function RateLimitsPage(_props: PageProps) {
  const list = useLoad(() => api.policy.listRateLimitRules({}), [], 15_000);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const rules: RateLimitRule[] = list.data?.rules ?? [];
  const admin = isAdmin.value;

  const run = async (write: () => Promise<unknown>) => {
    setBusy(true);
    const p = await attempt(write);
    setBusy(false);
    setProblem(p);
    list.reload();
  };
  const toggle = (r: RateLimitRule) => run(() => api.policy.updateRateLimitRule({ id: r.id, spec: rateLimitSpecWith(r, { enabled: !(r.spec?.enabled ?? true) }) }));
  const move = (i: number, dir: -1 | 1) =>
    run(async () => {
      for (const m of movePriorities(rules, i, dir)) {
        const r = rules.find((x) => x.id === m.id)!;
        await api.policy.updateRateLimitRule({ id: r.id, spec: rateLimitSpecWith(r, { priority: m.priority }) });
      }
    });
  const remove = (r: RateLimitRule) => run(() => api.policy.deleteRateLimitRule({ id: r.id }));
  const failClosed = rules.filter((r) => (r.spec?.enabled ?? true) && r.spec?.failMode === StoreFailMode.CLOSED).length;

  return (
    <section>
      <PageHeader title="Rate limits">
        {admin && (
          <a class="button-link primary" href="/rate-limits/new">
            New rate limit
          </a>
        )}
      </PageHeader>
      <p class="muted">
        After the WAF, every <strong>enabled</strong> rule whose scope and <code>when</code> match counts the request under its key, in this order; the first that is over its limit answers (429 with <code>Retry-After</code>) and the request goes no further.
      </p>
      <StoreStatus failClosedRules={failClosed} />
      <Problem problem={list.problem} />
      <Problem problem={problem} />
      {list.loading && !list.data && <Loading what="rate limits" />}
      {list.data && rules.length === 0 && (
        <Empty>
          No rate limits yet. A rate limit counts the requests in its scope per key (the client address, a header, a cookie…) and answers 429 once a key is over its limit for the window. {admin && <a href="/rate-limits/new">Create the first rate limit</a>}
        </Empty>
      )}
      {rules.length > 0 && (
        <div class="table-scroll">
          <table class="policy-table">
            <thead>
              <tr>
                <th scope="col">Priority</th>
                <th scope="col">Name</th>
                <th scope="col">Enabled</th>
                <th scope="col">Scope</th>
                <th scope="col">Key</th>
                <th scope="col">Algorithm</th>
                <th scope="col">Limit / window</th>
                <th scope="col">Store down</th>
                {admin && <th scope="col">Change</th>}
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
                      <a href={`/rate-limits/${r.id}`}>{name}</a>
                    </td>
                    <td>{enabled ? <Badge tone="ok">enabled</Badge> : <Badge tone="muted">disabled</Badge>}</td>
                    <td>
                      {scopeSummary(s?.scope)}
                      {s?.when ? (
                        <>
                          {" "}
                          · <code class="when-cell" title={s.when}>{s.when}</code>
                        </>
                      ) : null}
                    </td>
                    <td class="key-cell" title={keyPartsSummary(s?.keyParts)}>
                      {(s?.keyParts.length ? s.keyParts : ["client_ip"]).map((p, k) => (
                        <Fragment key={k}>
                          {k > 0 && " + "}
                          <code>{p}</code>
                        </Fragment>
                      ))}
                    </td>
                    <td>{algorithmName(s?.algorithm)}</td>
                    <td class="nowrap">{limitSummary(s)}</td>
                    <td>{s?.failMode === StoreFailMode.CLOSED ? <Badge tone="warn">{failModeName(s.failMode)}</Badge> : failModeName(s?.failMode)}</td>
                    {admin && (
                      <td>
                        <RowActions
                          name={name}
                          enabled={enabled}
                          busy={busy}
                          first={i === 0}
                          last={i === rules.length - 1}
                          onToggle={() => void toggle(r)}
                          onMove={(dir) => void move(i, dir)}
                          deleteQuestion={
                            <>
                              Delete rate limit <strong>{name}</strong>? Its counters are dropped and the requests it limited go through.
                            </>
                          }
                          confirmLabel="Delete rate limit"
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
    </section>
  );
}
