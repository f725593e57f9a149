// Traffic shapers in evaluation order: scope, budget, upload and download rates, burst. Admins can
// turn one on or off, move it, delete it, and make a new one.
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { isAdmin } from "../lib/session.ts";
import { budgetSummary, rateText, shaperSpecWith, sizeText } from "../lib/shaper-form.ts";
import { useRuleList } from "../lib/rule-list.ts";
import { PageHeader } from "../components/ui.tsx";
import { RuleTable, ScopeCell } from "./policy-fields.tsx";
import "./policies.css";

export function ShapersPage(_props: PageProps) {
  const ruleList = useRuleList({
    load: () => api.policy.listShaperRules({}),
    update: (id, spec) => api.policy.updateShaperRule({ id, spec }),
    remove: (id) => api.policy.deleteShaperRule({ id }),
    specWith: shaperSpecWith,
  });
  const admin = isAdmin.value;

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
      <RuleTable
        ruleList={ruleList}
        admin={admin}
        what="shapers"
        empty={<>No shapers yet. A shaper limits bandwidth, in bytes per second, per key (shared by a client's requests) or per request. {admin && <a href="/shapers/new">Create the first shaper</a>}</>}
        href={(id) => `/shapers/${id}`}
        columns={["Scope", "Budget", "Upload", "Download", "Burst"]}
        cells={(r) => {
          const s = r.spec;
          return (
            <>
              <ScopeCell spec={s} />
              <td>
                <code>{budgetSummary(s)}</code>
              </td>
              <td class="nowrap">{rateText(s?.uploadBytesPerSecond ?? 0)}</td>
              <td class="nowrap">{rateText(s?.downloadBytesPerSecond ?? 0)}</td>
              <td class="nowrap">{s?.burstBytes ? sizeText(s.burstBytes) : "1 s of the rate"}</td>
            </>
          );
        }}
        deleteQuestion={(name) => (
          <>
            Delete shaper <strong>{name}</strong>? Requests it paces go at full speed, or to the next shaper that matches.
          </>
        )}
        confirmLabel="Delete shaper"
      />
    </section>
  );
}
