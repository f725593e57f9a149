// One cache rule: create (/cache/rules/new) or edit (/cache/rules/:id). Scope and `when`, route and
// target filters (ticked from the real routes and their targets), the TTL (origin's or fixed; a
// number and a unit, sent as ms), heuristic freshness, the cache key (query mode and names, vary
// headers), cacheable statuses, the largest object (bytes with a unit), the Cache-Status header, and
// caching requests that carry cookies. A server error lands under the field it names. Viewers see it
// read-only.
import { useEffect, useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { attempt, useLoad } from "../lib/load.ts";
import { isAdmin } from "../lib/session.ts";
import { navigate } from "../lib/router.ts";
import { messageFor, type ApiProblem } from "../lib/errors.ts";
import {
  BYTE_UNIT_LABELS,
  cacheRuleToForm,
  FormError,
  formToCacheRuleSpec,
  pruneTargets,
  QUERY_MODES,
  queryModeNamesList,
  routeChoices,
  targetChoices,
  TTL_MODES,
  TTL_UNIT_LABELS,
  type CacheRuleForm,
  type Choice,
} from "../lib/cache-form.ts";
import { Checkbox, EditorFooter, PageHeader, Select, TextInput, editorGate } from "../components/ui.tsx";
import { CacheTtlMode } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { NumberWithUnit, ScopeFieldset } from "./policy-fields.tsx";
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
  const isNew = id === undefined;
  const admin = isAdmin.value;
  const rules = useLoad(() => api.policy.listCacheRules({}), [id]);
  const cfg = useLoad(() => api.proxy.getProxyConfig({}), []);
  const [form, setForm] = useState<CacheRuleForm | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [deleteProblem, setDeleteProblem] = useState<ApiProblem | undefined>(undefined);
  const rule = id === undefined ? undefined : rules.data?.rules.find((r) => r.id === id);

  useEffect(() => {
    setForm(undefined);
    setProblem(undefined);
    setSaved(undefined);
  }, [id]);
  useEffect(() => {
    if (!rules.data || form) return;
    if (!isNew && !rule) return;
    setForm(cacheRuleToForm(rule?.spec));
  }, [rules.data]);

  const update = (fn: (f: CacheRuleForm) => void) => {
    setSaved(undefined);
    setForm((prev) => {
      if (!prev) return prev;
      const next = structuredClone(prev);
      fn(next);
      return next;
    });
  };

  const title = isNew ? "New cache rule" : `Cache rule ${rule?.spec?.name || id}`;
  const gate = editorGate({
    title,
    what: "the cache rule",
    loading: rules.loading && !rules.data,
    problem: rules.data ? undefined : rules.problem,
    missing: !isNew && !rule ? (
      <>
        There is no cache rule {id}. <a href="/cache">Back to the cache</a>
      </>
    ) : undefined,
    notFoundTitle: "Cache rule not found",
    viewerOnNew: isNew && !admin ? "Only administrators can create cache rules." : undefined,
    formReady: form !== undefined,
  });
  if (gate !== undefined || !form) return gate;
  const f = form;
  const routes = cfg.data?.routes ?? [];

  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(undefined);
    let spec;
    try {
      spec = formToCacheRuleSpec(f);
    } catch (err) {
      if (err instanceof FormError) return setProblem(err.problem);
      throw err;
    }
    setBusy(true);
    let savedSpec;
    const p = await attempt(async () => {
      savedSpec = isNew ? (await api.policy.createCacheRule({ spec })).rule?.spec : (await api.policy.updateCacheRule({ id, spec })).rule?.spec;
    });
    setBusy(false);
    setProblem(p);
    if (p) return;
    if (isNew) {
      navigate("/cache");
      return;
    }
    setForm(cacheRuleToForm(savedSpec));
    setSaved("Saved. The rule is live for new requests; what is already stored keeps its freshness.");
  };

  const remove = async () => {
    const p = await attempt(() => api.policy.deleteCacheRule({ id: id ?? "" }));
    if (p) return setDeleteProblem(p);
    navigate("/cache");
  };

  const listed = queryModeNamesList(f.queryMode);
  return (
    <section>
      <PageHeader title={title}>
        <a href="/cache">The cache</a>
      </PageHeader>
      {!admin && <p class="muted">You can look at this cache rule; only administrators can change it.</p>}
      <form class="policy-form" onSubmit={save} aria-label={title} noValidate>
        <fieldset class="form-main" disabled={!admin}>
          <div class="card">
            <div class="grid2">
              <TextInput label="Name" field="name" problem={problem} value={f.name} onValue={(v) => update((d) => (d.name = v))} />
              <TextInput label="Priority" field="priority" problem={problem} inputMode="numeric" placeholder="0" hint="Lower is checked first; the first matching rule applies." value={f.priority} onValue={(v) => update((d) => (d.priority = v))} />
            </div>
            <Checkbox label="Enabled" field="enabled" problem={problem} checked={f.enabled} onValue={(v) => update((d) => (d.enabled = v))} />
          </div>
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
          problem={problem}
          fields={FORM_FIELDS}
          deleteProblem={deleteProblem}
          saved={saved}
          admin={admin}
          busy={busy}
          isNew={isNew}
          noun="cache rule"
          listHref="/cache"
          deleteQuestion={
            <>
              Delete cache rule <strong>{rule?.spec?.name || id}</strong>? Requests it matched are no longer cached; what it stored stays until it expires.
            </>
          }
          onDelete={remove}
        />
      </form>
    </section>
  );
}
