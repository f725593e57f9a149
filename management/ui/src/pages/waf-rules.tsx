// WAF rules in evaluation order: what each applies to, its `when`, what it does. Admins can turn a
// rule on or off, move it up or down (its priority), delete it, and make a new one.
import { useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import type { ApiProblem } from "../lib/errors.ts";
import { actionSummary, movePriorities, scopeSummary, specWith } from "../lib/policy-form.ts";
import { Badge, ConfirmButton, Empty, Loading, PageHeader, Problem } from "../components/ui.tsx";
import { WafAction, type WafRule } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import "./policies.css";

export function WafRulesPage(_props: PageProps) {
  const list = useLoad(() => api.policy.listWafRules({}), [], 15_000);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const rules: WafRule[] = list.data?.rules ?? [];
  const admin = isAdmin.value;

  const run = async (write: () => Promise<unknown>) => {
    setBusy(true);
    const p = await attempt(write);
    setBusy(false);
    setProblem(p);
    list.reload();
  };
  const toggle = (r: WafRule) => run(() => api.policy.updateWafRule({ id: r.id, spec: specWith(r, { enabled: !(r.spec?.enabled ?? true) }) }));
  const move = (i: number, dir: -1 | 1) =>
    run(async () => {
      for (const m of movePriorities(rules, i, dir)) {
        const r = rules.find((x) => x.id === m.id)!;
        await api.policy.updateWafRule({ id: r.id, spec: specWith(r, { priority: m.priority }) });
      }
    });
  const remove = (r: WafRule) => run(() => api.policy.deleteWafRule({ id: r.id }));

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
      <Problem problem={list.problem} />
      <Problem problem={problem} />
      {list.loading && !list.data && <Loading what="WAF rules" />}
      {list.data && rules.length === 0 && (
        <Empty>
          No WAF rules yet. A WAF rule looks at public requests before they are routed: its scope (hosts, path prefixes, methods) and an optional CEL <code>when</code> pick requests, and it blocks them with a status and a body, or allows them past the rules after it. Rules are checked in priority order and the first enabled matching rule decides; a request no rule matches goes on to its route.{" "}
          {admin && <a href="/waf/new">Create the first rule</a>}
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
                <th scope="col">When</th>
                <th scope="col">Action</th>
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
                      <a href={`/waf/${r.id}`}>{name}</a>
                    </td>
                    <td>{enabled ? <Badge tone="ok">enabled</Badge> : <Badge tone="muted">disabled</Badge>}</td>
                    <td>{scopeSummary(s?.scope)}</td>
                    <td>{s?.when ? <code class="when-cell" title={s.when}>{s.when}</code> : <span class="muted">—</span>}</td>
                    <td>{s?.action === WafAction.ALLOW ? <Badge tone="ok">allow</Badge> : <Badge tone="bad">{actionSummary(s)}</Badge>}</td>
                    {admin && (
                      <td>
                        <div class="row-actions">
                          <button type="button" disabled={busy} onClick={() => void toggle(r)} aria-label={`${enabled ? "Disable" : "Enable"} ${name}`}>
                            {enabled ? "Disable" : "Enable"}
                          </button>
                          <button type="button" disabled={busy || i === 0} onClick={() => void move(i, -1)} aria-label={`Move ${name} up`}>
                            ↑
                          </button>
                          <button type="button" disabled={busy || i === rules.length - 1} onClick={() => void move(i, 1)} aria-label={`Move ${name} down`}>
                            ↓
                          </button>
                          <ConfirmButton
                            label="Delete"
                            disabled={busy}
                            question={
                              <>
                                Delete WAF rule <strong>{name}</strong>? Requests it matches go on to the next rule.
                              </>
                            }
                            confirmLabel="Delete rule"
                            onConfirm={() => remove(r)}
                          />
                        </div>
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
