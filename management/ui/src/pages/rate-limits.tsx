// Rate limits in evaluation order: scope, key, algorithm, "limit / window", fail mode; and where the
// counters live (the store's status, refreshed every 3 s). Admins can turn a rule on or off, move it,
// delete it, and make a new one.
import { Fragment } from "preact";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import { algorithmName, failModeName, keyPartsSummary, limitSummary, rateLimitSpecWith, storeStatusView } from "../lib/rate-limit-form.ts";
import { useRuleList } from "../lib/rule-list.ts";
import { Badge, Loading, PageHeader, Problem } from "../components/ui.tsx";
import { StoreFailMode } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { RuleTable, ScopeCell } from "./policy-fields.tsx";
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
  const ruleList = useRuleList({
    load: () => api.policy.listRateLimitRules({}),
    update: (id, spec) => api.policy.updateRateLimitRule({ id, spec }),
    remove: (id) => api.policy.deleteRateLimitRule({ id }),
    specWith: rateLimitSpecWith,
  });
  const admin = isAdmin.value;
  const failClosed = ruleList.rules.filter((r) => (r.spec?.enabled ?? true) && r.spec?.failMode === StoreFailMode.CLOSED).length;

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
      <RuleTable
        ruleList={ruleList}
        admin={admin}
        what="rate limits"
        empty={<>No rate limits yet. A rate limit counts the requests in its scope per key (the client address, a header, a cookie…) and answers 429 once a key is over its limit for the window. {admin && <a href="/rate-limits/new">Create the first rate limit</a>}</>}
        href={(id) => `/rate-limits/${id}`}
        columns={["Scope", "Key", "Algorithm", "Limit / window", "Store down"]}
        cells={(r) => {
          const s = r.spec;
          return (
            <>
              <ScopeCell spec={s} />
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
            </>
          );
        }}
        deleteQuestion={(name) => (
          <>
            Delete rate limit <strong>{name}</strong>? Its counters are dropped and the requests it limited go through.
          </>
        )}
        confirmLabel="Delete rate limit"
      />
    </section>
  );
}
