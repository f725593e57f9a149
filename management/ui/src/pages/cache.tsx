// The HTTP cache: what it holds per tier against its budget and the hit ratio (live, every 3 s), its
// global settings, purging (everything asks first), and the cache rules in evaluation order. Admins
// change settings, purge, and turn rules on or off, move, delete and create them; viewers only look.
import { useEffect, useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { submit, useLoad } from "../lib/load.ts";
import { formUpdater } from "../lib/editor.ts";
import { isAdmin } from "../lib/session.ts";
import type { ApiProblem } from "../lib/errors.ts";
import { useRuleList } from "../lib/rule-list.ts";
import {
  BYTE_UNIT_LABELS,
  cacheRuleSpecWith,
  formToSettings,
  newPurgeForm,
  PURGE_KINDS,
  purgeRequest,
  purgeResultText,
  querySummary,
  settingsToForm,
  statusesSummary,
  ttlSummary,
  usageView,
  type ByteField,
  type CacheSettingsForm,
  type PurgeForm,
  type TierView,
} from "../lib/cache-form.ts";
import { Checkbox, ConfirmButton, FormProblem, Loading, PageHeader, Problem, Select, TextInput } from "../components/ui.tsx";
import type { CacheRule, CacheSettings, PurgeCacheRequest } from "../../../../proto/gen/warren/v1/policy_pb.ts";
import { NumberWithUnit, RuleTable, ScopeCell } from "./policy-fields.tsx";
import "./policies.css";

function TierRow({ name, t }: { name: string; t: TierView }) {
  return (
    <tr data-tier={name}>
      <th scope="row">{name}</th>
      <td class="num">{t.entries}</td>
      <td class="num">{t.bytes}</td>
      <td class="num">{t.budget}</td>
      <td class="num">{t.percent === undefined ? "—" : `${t.percent} %`}</td>
    </tr>
  );
}

/** Entries and bytes per tier against the budget, and the hit ratio; live. */
function Usage() {
  const u = useLoad(() => api.policy.getCacheUsage({}), [], 3_000);
  const v = u.data ? usageView(u.data) : undefined;
  return (
    <section class="card cache-card cache-usage" aria-label="Usage" data-testid="cache-usage">
      <h2>Usage</h2>
      {u.loading && !u.data && <Loading what="the cache's usage" />}
      {u.problem && <Problem problem={u.problem} />}
      {v && (
        <>
          <table class="usage-table">
            <thead>
              <tr>
                <th scope="col">Tier</th>
                <th scope="col">Entries</th>
                <th scope="col">Bytes</th>
                <th scope="col">Budget</th>
                <th scope="col">Used</th>
              </tr>
            </thead>
            <tbody>
              <TierRow name="memory" t={v.memory} />
              <TierRow name="disk" t={v.disk} />
            </tbody>
          </table>
          <p>
            Hit ratio <strong data-testid="hit-ratio">{v.hitRatio}</strong> <span class="muted">({v.lookups} since the server started)</span>
          </p>
        </>
      )}
    </section>
  );
}

const SETTINGS_FIELDS = ["settings.enabled", "settings.memory_bytes", "settings.disk_bytes", "settings.max_entries", "settings.hot_object_bytes"];

function Settings({ admin }: { admin: boolean }) {
  const loaded = useLoad(() => api.policy.getCacheSettings({}), []);
  const [form, setForm] = useState<CacheSettingsForm | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (loaded.data && !form) setForm(settingsToForm(loaded.data.settings));
  }, [loaded.data]);

  const update = formUpdater<CacheSettingsForm>(setForm, setSaved);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!form) return;
    setSaved(undefined);
    let back: CacheSettings | undefined;
    const write = async (settings: CacheSettings) => {
      back = (await api.policy.updateCacheSettings({ settings })).settings;
    };
    if (!(await submit(() => formToSettings(form), write, { problem: setProblem, busy: setBusy }))) return;
    setForm(settingsToForm(back));
    setSaved("Saved. The cache uses the new settings now.");
  };

  const size = (key: "memory" | "disk" | "hotObject", label: string, field: string, hint: string) => (
    <NumberWithUnit
      label={label}
      field={field}
      problem={problem}
      hint={hint}
      value={form![key].value}
      unit={form![key].unit}
      units={BYTE_UNIT_LABELS}
      onValue={(v) => update((d) => (d[key] = { ...d[key], value: v } satisfies ByteField))}
      onUnit={(u) => update((d) => (d[key] = { ...d[key], unit: u } satisfies ByteField))}
    />
  );

  return (
    <section class="card cache-card" aria-label="Settings">
      <h2>Settings</h2>
      {loaded.loading && !loaded.data && <Loading what="the cache's settings" />}
      {loaded.problem && <Problem problem={loaded.problem} />}
      {form && (
        <form class="policy-form" onSubmit={save} aria-label="Cache settings" noValidate>
          <fieldset class="form-main" disabled={!admin}>
            <Checkbox label="Cache enabled" field="settings.enabled" problem={problem} hint="Off: no rule applies and nothing is stored or served from the cache." checked={form.enabled} onValue={(v) => update((d) => (d.enabled = v))} />
            <p class="hint">Binary units: 1 KiB = 1024 bytes; a fraction must come to whole bytes.</p>
            <div class="grid2">
              {size("memory", "Memory budget", "settings.memory_bytes", "1 MiB to 64 GiB. Empty = 128 MiB.")}
              {size("disk", "Disk budget", "settings.disk_bytes", "Up to 1 TiB; 0 = no disk tier. Empty = 1 GiB.")}
              <TextInput label="Max entries" field="settings.max_entries" problem={problem} inputMode="numeric" placeholder="100000" hint="1–10000000. Empty = 100000." value={form.maxEntries} onValue={(v) => update((d) => (d.maxEntries = v))} />
              {size("hotObject", "Hot object size", "settings.hot_object_bytes", "Bodies up to this size are also kept in memory; at most the memory budget. Empty = 256 KiB.")}
            </div>
          </fieldset>
          <FormProblem problem={problem} fields={SETTINGS_FIELDS} />
          {saved && (
            <p class="ok saved" role="status">
              {saved}
            </p>
          )}
          {admin && (
            <div class="actions">
              <button type="submit" class="primary" disabled={busy}>
                Save settings
              </button>
            </div>
          )}
        </form>
      )}
    </section>
  );
}

const PURGE_FIELDS = ["all", "rule_id", "host", "path_prefix", "url", "target"];

function Purge({ rules }: { rules: readonly CacheRule[] }) {
  const [form, setForm] = useState<PurgeForm>(newPurgeForm);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [result, setResult] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const set = (patch: Partial<PurgeForm>) => {
    setResult(undefined);
    setForm((f) => ({ ...f, ...patch }));
  };

  const run = async () => {
    setResult(undefined);
    let text: string | undefined;
    const write = async (req: PurgeCacheRequest) => {
      text = purgeResultText(await api.policy.purgeCache(req));
    };
    if (await submit(() => purgeRequest(form), write, { problem: setProblem, busy: setBusy })) setResult(text);
  };

  return (
    <section class="card cache-card" aria-label="Purge">
      <h2>Purge</h2>
      <form
        class="policy-form purge-form"
        aria-label="Purge the cache"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (form.kind !== "all") void run();
        }}
      >
        <div class="grid2">
          <Select label="Remove" value={form.kind} options={PURGE_KINDS} onValue={(v) => set({ kind: v })} />
          {form.kind === "host" && <TextInput label="Host" field="host" problem={problem} placeholder="app.example.com" hint="Exact, no port." value={form.host} onValue={(v) => set({ host: v })} />}
          {form.kind === "prefix" && (
            <>
              <TextInput label="Path prefix" field="path_prefix" problem={problem} placeholder="/assets" hint="Segment-aware: /img matches /img and /img/a, not /images." value={form.pathPrefix} onValue={(v) => set({ pathPrefix: v })} />
              <TextInput label="On host" field="prefix_host" problem={problem} placeholder="every host" hint="Empty = every host." value={form.prefixHost} onValue={(v) => set({ prefixHost: v })} />
            </>
          )}
          {form.kind === "url" && <TextInput label="URL" field="url" problem={problem} placeholder="app.example.com/a?b=1" hint="Host and path with its query, no scheme." value={form.url} onValue={(v) => set({ url: v })} />}
          {form.kind === "rule" && (
            <Select label="Rule" field="rule_id" problem={problem} value={form.ruleId} options={[["", "Choose a rule…"] as const, ...rules.map((r) => [r.id, r.spec?.name || r.id] as const)]} onValue={(v) => set({ ruleId: v })} />
          )}
        </div>
        <FormProblem problem={problem} fields={PURGE_FIELDS} />
        {result && (
          <p class="ok saved" role="status" data-testid="purge-result">
            {result}
          </p>
        )}
        <div class="actions">
          {form.kind === "all" ? (
            <ConfirmButton label="Purge everything" disabled={busy} question="Remove every entry from the cache, in memory and on disk? The next requests all go to the origins." onConfirm={run} />
          ) : (
            <button type="submit" class="primary" disabled={busy}>
              Purge
            </button>
          )}
        </div>
      </form>
    </section>
  );
}

export function CachePage(_props: PageProps) {
  const ruleList = useRuleList({
    load: () => api.policy.listCacheRules({}),
    update: (id, spec) => api.policy.updateCacheRule({ id, spec }),
    remove: (id) => api.policy.deleteCacheRule({ id }),
    specWith: cacheRuleSpecWith,
  });
  const admin = isAdmin.value;

  return (
    <section>
      <PageHeader title="Cache">
        {admin && (
          <a class="button-link primary" href="/cache/rules/new">
            New rule
          </a>
        )}
      </PageHeader>
      <p class="muted">
        The first <strong>enabled</strong> rule whose scope, <code>when</code> and route/target filters match a GET or HEAD on a forward route decides whether and how its response is cached (RFC 9111). Requests no rule matches are never cached.
      </p>
      {!admin && <p class="muted">You can look at the cache; only administrators can change its settings, purge it or change its rules.</p>}
      <Usage />
      <Settings admin={admin} />
      {admin && <Purge rules={ruleList.rules} />}
      <h2>Rules</h2>
      <RuleTable
        ruleList={ruleList}
        admin={admin}
        what="cache rules"
        empty={<>No cache rules yet, so nothing is cached. A rule says which responses to keep, for how long, and what the cache key is made of. {admin && <a href="/cache/rules/new">Create the first cache rule</a>}</>}
        href={(id) => `/cache/rules/${id}`}
        columns={["Scope", "TTL", "Query", "Statuses"]}
        cells={(r) => {
          const s = r.spec;
          const filters = (s?.routeIds.length ?? 0) + (s?.targetIds.length ?? 0);
          return (
            <>
              <ScopeCell spec={s}>
                {filters > 0 && <span class="muted"> · {[s?.routeIds.length ? `${s.routeIds.length} route${s.routeIds.length === 1 ? "" : "s"}` : "", s?.targetIds.length ? `${s.targetIds.length} target${s.targetIds.length === 1 ? "" : "s"}` : ""].filter(Boolean).join(", ")}</span>}
              </ScopeCell>
              <td class="nowrap">{ttlSummary(s)}</td>
              <td>{querySummary(s)}</td>
              <td>{statusesSummary(s)}</td>
            </>
          );
        }}
        deleteQuestion={(name) => (
          <>
            Delete cache rule <strong>{name}</strong>? Requests it matched are no longer cached; what it stored stays until it expires (purge by rule first to drop it now).
          </>
        )}
        confirmLabel="Delete cache rule"
      />
    </section>
  );
}
