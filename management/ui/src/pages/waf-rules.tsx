// WAF rules in evaluation order: what each applies to, its `when`, what it does. Admins can turn a
// rule on or off, move it up or down (its priority), delete it, and make a new one.
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { isAdmin } from "../lib/session.ts";
import { actionSummary, scopeSummary, specWith } from "../lib/policy-form.ts";
import { useRuleList } from "../lib/rule-list.ts";
import { Badge, PageHeader } from "../components/ui.tsx";
import { WafAction } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { RuleTable } from "./policy-fields.tsx";
import "./policies.css";

export function WafRulesPage(_props: PageProps) {
  const ruleList = useRuleList({
    load: () => api.policy.listWafRules({}),
    update: (id, spec) => api.policy.updateWafRule({ id, spec }),
    remove: (id) => api.policy.deleteWafRule({ id }),
    specWith,
  });
  const admin = isAdmin.value;

  return (
    <section>
      <PageHeader title="WAF rules">
        {admin && (
          <a class="button-link primary" href="/waf/new">
            New rule
          </a>
        )}
      </PageHeader>
      <p class="muted">
        Every public request is checked against these rules before routing, in this order. The first <strong>enabled</strong> rule whose scope and <code>when</code> match decides: <em>block</em> answers at once, <em>allow</em> skips the rules after it.
      </p>
      <RuleTable
        ruleList={ruleList}
        admin={admin}
        what="WAF rules"
        empty={
          <>
            No WAF rules yet. A WAF rule looks at public requests before they are routed: its scope (hosts, path prefixes, methods) and an optional CEL <code>when</code> pick requests, and it blocks them with a status and a body, or allows them past the rules after it. Rules are checked in priority order and the first enabled matching rule decides; a request no rule matches goes on to its route.{" "}
            {admin && <a href="/waf/new">Create the first rule</a>}
          </>
        }
        href={(id) => `/waf/${id}`}
        columns={["Scope", "When", "Action"]}
        cells={(r) => {
          const s = r.spec;
          return (
            <>
              <td>{scopeSummary(s?.scope)}</td>
              <td>{s?.when ? <code class="when-cell" title={s.when}>{s.when}</code> : <span class="muted">—</span>}</td>
              <td>{s?.action === WafAction.ALLOW ? <Badge tone="ok">allow</Badge> : <Badge tone="bad">{actionSummary(s)}</Badge>}</td>
            </>
          );
        }}
        deleteQuestion={(name) => (
          <>
            Delete WAF rule <strong>{name}</strong>? Requests it matches go on to the next rule.
          </>
        )}
        confirmLabel="Delete rule"
      />
    </section>
  );
}
