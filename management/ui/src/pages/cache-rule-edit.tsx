// One cache rule: create (/cache/rules/new) or edit (/cache/rules/:id). Scope and `when`, route and
// target filters (ticked from the real routes and their targets), the TTL (origin's or fixed; a
// number and a unit, sent as ms), heuristic freshness, the cache key (query mode and names, vary
// headers), cacheable statuses, the largest object (bytes with a unit), the Cache-Status header, and
// caching requests that carry cookies. A server error lands under the field it names. Viewers see it
// read-only.
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { useLoad } from "../lib/load.ts";
import { useEditor } from "../lib/editor.ts";
import { isAdmin } from "../lib/session.ts";
import { messageFor, type ApiProblem } from "../lib/errors.ts";
import {
  BYTE_UNIT_LABELS,
  cacheRuleToForm,
  formToCacheRuleSpec,
  pruneTargets,
  QUERY_MODES,
  queryModeNamesList,
  routeChoices,
  targetChoices,
  TTL_MODES,
  TTL_UNIT_LABELS,
  type Choice,
} from "../lib/cache-form.ts";
import { Checkbox, EditorFooter, PageHeader, Select, TextInput, editorGate } from "../components/ui.tsx";
import { CacheTtlMode } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { NumberWithUnit, RuleBasicsCard, ScopeFieldset } from "./policy-fields.tsx";
import "./policies.css";

const FORM_FIELDS = [
  "name",
  "priority",
  "enabled",
  "scope",
  "when",
  "route_ids",
  "target_ids",
  "ttl_mode",
  "ttl_ms",
  "heuristic_freshness",
  "query_mode",
  "query_names",
  "vary_headers",
  "statuses",
  "max_object_bytes",
  "cache_status_header",
  "ignore_request_cookies",
];

/** Ticks for a list of ids; an error naming the list or one of its entries (`route_ids[0]`) shows under it. */
function CheckList({ legend, field, hint, choices, chosen, problem, empty, onChosen }: { legend: string; field: string; hint: string; choices: readonly Choice[]; chosen: readonly string[]; problem: ApiProblem | undefined; empty: string; onChosen: (ids: string[]) => void }) {
  const msg = messageFor(problem, field);
  return (
    <div class={`check-list${msg ? " field-invalid" : ""}`} data-field={field} role="group" aria-label={legend}>
      <h4>{legend}</h4>
      <p class="hint">{hint}</p>
      {choices.length === 0 && <p class="muted">{empty}</p>}
      {choices.map((c) => (
        <Checkbox key={c.id} label={c.label} checked={chosen.includes(c.id)} onValue={(on) => onChosen(on ? [...chosen, c.id] : chosen.filter((x) => x !== c.id))} />
      ))}
      {msg && (
        <div class="field-error" role="alert">
          {msg}
        </div>
      )}
    </div>
  );
}

export function CacheRuleEditPage({ params }: PageProps) {
  const id = params.id;
  const admin = isAdmin.value;
  const editor = useEditor(id, {
    load: async () => (await api.policy.listCacheRules({})).rules,
    toForm: (r) => cacheRuleToForm(r?.spec),
    toSpec: formToCacheRuleSpec,
    create: async (spec) => (await api.policy.createCacheRule({ spec })).rule,
    update: async (ruleId, spec) => (await api.policy.updateCacheRule({ id: ruleId, spec })).rule,
    remove: (ruleId) => api.policy.deleteCacheRule({ id: ruleId }),
    listHref: "/cache",
    savedMessage: "Saved. The rule is live for new requests; what is already stored keeps its freshness.",
  });
  const cfg = useLoad(() => api.proxy.getProxyConfig({}), []);
  const { isNew, item: rule, update, problem } = editor;

  const title = isNew ? "New cache rule" : `Cache rule ${rule?.spec?.name || id}`;
  const gate = editorGate({
    title,
    what: "the cache rule",
    ...editor.gate,
    notFound: (
      <>
        There is no cache rule {id}. <a href="/cache">Back to the cache</a>
      </>
    ),
    notFoundTitle: "Cache rule not found",
    viewerOnNewText: "Only administrators can create cache rules.",
  });
  if (gate !== undefined || !editor.form) return gate;
  const f = editor.form;
  const routes = cfg.data?.routes ?? [];

  const listed = queryModeNamesList(f.queryMode);
  return (
    <section>
      <PageHeader title={title}>
        <a href="/cache">The cache</a>
      </PageHeader>
      {!admin && <p class="muted">You can look at this cache rule; only administrators can change it.</p>}
      <form class="policy-form" onSubmit={editor.save} aria-label={title} noValidate>
        <fieldset class="form-main" disabled={!admin}>
          <RuleBasicsCard form={f} problem={problem} priorityHint="Lower is checked first; the first matching rule applies." onChange={(patch) => update((d) => Object.assign(d, patch))} />
          <ScopeFieldset form={f} problem={problem} admin={admin} what="cache rule" onChange={(patch) => update((d) => Object.assign(d, patch))} />
          <fieldset>
            <legend>Routes and targets</legend>
            {cfg.problem && <p class="form-problem">Routes not loaded: {cfg.problem.message}</p>}
            <div class="grid2">
              <CheckList
                legend="Routes"
                field="route_ids"
                hint="Only requests routed to one of these; none ticked = any route."
                empty={cfg.data ? "No routes yet." : "Loading routes…"}
                choices={routeChoices(routes, f.routeIds)}
                chosen={f.routeIds}
                problem={problem}
                onChosen={(ids) =>
                  update((d) => {
                    d.routeIds = ids;
                    d.targetIds = cfg.data ? pruneTargets(routes, ids, d.targetIds) : d.targetIds;
                  })
                }
              />
              <CheckList
                legend="Targets"
                field="target_ids"
                hint="Only responses from one of these targets (of the ticked routes); none ticked = any target."
                empty={cfg.data ? "No targets." : "Loading targets…"}
                choices={targetChoices(routes, f.routeIds, f.targetIds)}
                chosen={f.targetIds}
                problem={problem}
                onChosen={(ids) => update((d) => (d.targetIds = ids))}
              />
            </div>
          </fieldset>
          <fieldset>
            <legend>Freshness</legend>
            <Select label="TTL mode" field="ttl_mode" problem={problem} value={f.ttlMode} options={TTL_MODES} onValue={(v) => update((d) => (d.ttlMode = v))} />
            <div class="grid2">
              <NumberWithUnit
                label="TTL"
                field="ttl_ms"
                problem={problem}
                hint={f.ttlMode === CacheTtlMode.FIXED ? "How long every response stays fresh: one second to 365 days. Empty = 1 hour." : "For responses that say nothing about freshness: one second to 365 days. Empty = 1 hour."}
                placeholder="1"
                value={f.ttlValue}
                unit={f.ttlUnit}
                units={TTL_UNIT_LABELS}
                onValue={(v) => update((d) => (d.ttlValue = v))}
                onUnit={(u) => update((d) => (d.ttlUnit = u))}
              />
            </div>
            <Checkbox
              label="Heuristic freshness"
              field="heuristic_freshness"
              problem={problem}
              hint="A response without explicit freshness but with Last-Modified stays fresh for 10 % of its age (RFC 9111 §4.2.2)."
              checked={f.heuristicFreshness}
              onValue={(v) => update((d) => (d.heuristicFreshness = v))}
            />
          </fieldset>
          <fieldset>
            <legend>Cache key</legend>
            <Select label="Query string" field="query_mode" problem={problem} value={f.queryMode} options={QUERY_MODES} onValue={(v) => update((d) => (d.queryMode = v))} />
            {listed && (
              <TextInput label="Query names" field="query_names" problem={problem} placeholder="page, sort" hint="Comma-separated parameter names, at most 64." value={f.queryNames} onValue={(v) => update((d) => (d.queryNames = v))} />
            )}
            <TextInput
              label="Vary headers"
              field="vary_headers"
              problem={problem}
              placeholder="accept-encoding"
              hint="Comma-separated request headers always part of the key, with the origin's Vary. Authorization, Cookie and forwarding headers are refused. Empty = accept-encoding."
              value={f.varyHeaders}
              onValue={(v) => update((d) => (d.varyHeaders = v))}
            />
          </fieldset>
          <fieldset>
            <legend>What is stored</legend>
            <div class="grid2">
              <TextInput label="Statuses" field="statuses" problem={problem} placeholder="200, 301, 404" hint="Comma-separated. Empty = 200, 203, 204, 300, 301, 308, 404, 410." value={f.statuses} onValue={(v) => update((d) => (d.statuses = v))} />
              <NumberWithUnit
                label="Max object size"
                field="max_object_bytes"
                problem={problem}
                hint="Larger responses are passed through, not stored; up to 1 GiB. Empty = 100 MiB."
                value={f.maxObject.value}
                unit={f.maxObject.unit}
                units={BYTE_UNIT_LABELS}
                onValue={(v) => update((d) => (d.maxObject = { ...d.maxObject, value: v }))}
                onUnit={(u) => update((d) => (d.maxObject = { ...d.maxObject, unit: u }))}
              />
            </div>
            <Checkbox
              label="Add the Cache-Status header"
              field="cache_status_header"
              problem={problem}
              hint="Cache-Status: Warren; hit (RFC 9211) on answers, for debugging and downstream caches."
              checked={f.cacheStatusHeader}
              onValue={(v) => update((d) => (d.cacheStatusHeader = v))}
            />
            <Checkbox
              label="Cache requests that carry cookies"
              field="ignore_request_cookies"
              problem={problem}
              hint={<span class="warn-text">Only if cookies never change these responses: otherwise one visitor's page is served to others.</span>}
              checked={f.ignoreRequestCookies}
              onValue={(v) => update((d) => (d.ignoreRequestCookies = v))}
            />
          </fieldset>
        </fieldset>
        <EditorFooter
          {...editor.footer}
          fields={FORM_FIELDS}
          admin={admin}
          noun="cache rule"
          listHref="/cache"
          deleteQuestion={
            <>
              Delete cache rule <strong>{rule?.spec?.name || id}</strong>? Requests it matched are no longer cached; what it stored stays until it expires.
            </>
          }
        />
      </form>
    </section>
  );
}
