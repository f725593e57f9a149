// Traffic shapers in evaluation order: scope, budget, upload and download rates, burst. Admins can
// turn one on or off, move it, delete it, and make a new one.
import { useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import type { ApiProblem } from "../lib/errors.ts";
import { movePriorities, scopeSummary } from "../lib/policy-form.ts";
import { budgetSummary, rateText, shaperSpecWith, sizeText } from "../lib/shaper-form.ts";
import { Badge, Empty, Loading, PageHeader, Problem } from "../components/ui.tsx";
import type { ShaperRule } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { RowActions } from "./policy-fields.tsx";
import "./policies.css";

export function ShapersPage(_props: PageProps) {
  const list = useLoad(() => api.policy.listShaperRules({}), [], 15_000);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const rules: ShaperRule[] = list.data?.rules ?? [];
  const admin = isAdmin.value;

  const run = async (write: () => Promise<unknown>) => {
    setBusy(true);
    const p = await attempt(write);
    setBusy(false);
    setProblem(p);
    list.reload();
  };
  const toggle = (r: ShaperRule) => run(() => api.policy.updateShaperRule({ id: r.id, spec: shaperSpecWith(r, { enabled: !(r.spec?.enabled ?? true) }) }));
  const move = (i: number, dir: -1 | 1) =>
    run(async () => {
      for (const m of movePriorities(rules, i, dir)) {
        const r = rules.find((x) => x.id === m.id)!;
        await api.policy.updateShaperRule({ id: r.id, spec: shaperSpecWith(r, { priority: m.priority }) });
      }
    });
  const remove = (r: ShaperRule) => run(() => api.policy.deleteShaperRule({ id: r.id }));

  return (
    <section>
      <PageHeader title="Shapers">
        {admin && (
          <a class="button-link primary" href="/shapers/new">
            New shaper
          </a>
        )}
      </PageHeader>
      <p class="muted">
        The first <strong>enabled</strong> shaper whose scope and <code>when</code> match paces the request's body (upload) and the response's body (download), and upgraded connections, to its rates. Requests no shaper matches go at full speed.
      </p>
      <Problem problem={list.problem} />
      <Problem problem={problem} />
      {list.loading && !list.data && <Loading what="shapers" />}
      {list.data && rules.length === 0 && (
        <Empty>
          No shapers yet. A shaper limits bandwidth, in bytes per second, per key (shared by a client's requests) or per request. {admin && <a href="/shapers/new">Create the first shaper</a>}
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
                <th scope="col">Budget</th>
                <th scope="col">Upload</th>
                <th scope="col">Download</th>
                <th scope="col">Burst</th>
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
                      <a href={`/shapers/${r.id}`}>{name}</a>
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
                    <td>
                      <code>{budgetSummary(s)}</code>
                    </td>
                    <td class="nowrap">{rateText(s?.uploadBytesPerSecond ?? 0)}</td>
                    <td class="nowrap">{rateText(s?.downloadBytesPerSecond ?? 0)}</td>
                    <td class="nowrap">{s?.burstBytes ? sizeText(s.burstBytes) : "1 s of the rate"}</td>
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
                              Delete shaper <strong>{name}</strong>? Requests it paces go at full speed, or to the next shaper that matches.
                            </>
                          }
                          confirmLabel="Delete shaper"
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
