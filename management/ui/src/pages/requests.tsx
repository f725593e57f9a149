// The request log: what the public listeners answered, newest first. The filters live in the page
// URL's query string (a filtered view is a link and survives a reload); paging walks the server's
// opaque tokens (a stack of them, for "Newer"). A row expands to its request id and stage timings;
// a chip says what the cache did (hit, miss, …) when a cache rule applied.
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { PageProps } from "../app.tsx";
import { api } from "../lib/api.ts";
import { useLoad } from "../lib/load.ts";
import { navigate } from "../lib/router.ts";
import { bytes, when } from "../lib/format.ts";
import { cacheStatusTone } from "../lib/cache-form.ts";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Badge, Empty, FormProblem, Loading, PageHeader, Select, TextInput } from "../components/ui.tsx";
import { StatusClass, type RequestEvent } from "../../../../proto/gen/warren/v1/observability_pb.ts";
import "./requests.css";

const PAGE_SIZE = 50;

/** The query-string names of the filters (and the API field each maps to, for its errors). */
const FILTERS = [
  ["host", "host"],
  ["route", "route_id"],
  ["status", "status_class"],
  ["error", "error_code"],
  ["since", "since"],
  ["until", "until"],
] as const;
type FilterKey = (typeof FILTERS)[number][0];
type Filters = Record<FilterKey, string>;

const STATUS_CLASSES: Readonly<Record<string, StatusClass>> = {
  "1xx": StatusClass.STATUS_CLASS_1XX,
  "2xx": StatusClass.STATUS_CLASS_2XX,
  "3xx": StatusClass.STATUS_CLASS_3XX,
  "4xx": StatusClass.STATUS_CLASS_4XX,
  "5xx": StatusClass.STATUS_CLASS_5XX,
};

function filtersOf(query: URLSearchParams): Filters {
  return Object.fromEntries(FILTERS.map(([k]) => [k, query.get(k) ?? ""])) as Filters;
}

/** The page URL for these filters (empty ones left out). */
export function requestsPath(f: Partial<Filters>): string {
  const q = new URLSearchParams();
  for (const [k] of FILTERS) if (f[k]) q.set(k, f[k]);
  const s = q.toString();
  return s ? `/requests?${s}` : "/requests";
}

/** A datetime-local value (local time, no zone) as a Timestamp; undefined when empty or unreadable. */
function localTimestamp(v: string) {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : timestampFromDate(d);
}

export function statusBadge(status: number) {
  const tone = status >= 500 ? "bad" : status >= 400 ? "warn" : status >= 200 && status < 300 ? "ok" : "muted";
  return <Badge tone={tone}>{status || "—"}</Badge>;
}

/** The time of day for today's events, else date and time (the full stamp is in the title). */
function shortTime(ts: Timestamp | undefined): string {
  if (!ts) return "—";
  const d = timestampDate(ts);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

function ms(v: number): string {
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

export function RequestsPage({ query }: PageProps) {
  const applied = filtersOf(query);
  const key = requestsPath(applied);
  const [draft, setDraft] = useState<Filters>(applied);
  // Page tokens walked so far: tokens[i] loads page i ("" = the first).
  const [tokens, setTokens] = useState<string[]>([""]);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  useEffect(() => {
    setDraft(filtersOf(query));
    setTokens([""]);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const token = tokens[tokens.length - 1]!;

  const cfg = useLoad(() => api.proxy.getProxyConfig({}), [], 30_000);
  const agents = useLoad(() => api.agents.listAgents({}), [], 30_000);
  // Names for the rate limits and shaper an event names (ids when a rule is gone).
  const rateLimits = useLoad(() => api.policy.listRateLimitRules({}), [], 30_000);
  const shapers = useLoad(() => api.policy.listShaperRules({}), [], 30_000);
  const events = useLoad(
    () =>
      api.observability.listRequestEvents({
        host: applied.host.trim(),
        routeId: applied.route,
        statusClass: STATUS_CLASSES[applied.status] ?? StatusClass.STATUS_CLASS_UNSPECIFIED,
        errorCode: applied.error.trim(),
        since: localTimestamp(applied.since),
        until: localTimestamp(applied.until),
        pageSize: PAGE_SIZE,
        pageToken: token,
      }),
    [key, token],
  );

  const routes = cfg.data?.routes ?? [];
  const routeName = new Map(routes.map((r) => [r.id, r.spec?.name || r.id]));
  const agentName = new Map((agents.data?.agents ?? []).map((a) => [a.id, a.name]));
  const targetText = (e: RequestEvent): string => {
    const parts: string[] = [];
    if (e.targetId) {
      const t = routes.find((r) => r.id === e.routeId)?.spec?.targets.find((x) => x.id === e.targetId);
      parts.push(t ? t.name || t.url || t.id : e.targetId);
    }
    if (e.agentId) parts.push(`via ${agentName.get(e.agentId) ?? e.agentId}`);
    return parts.join(" ");
  };
  const rateLimitName = new Map((rateLimits.data?.rules ?? []).map((r) => [r.id, r.spec?.name || r.id]));
  const shaperName = new Map((shapers.data?.rules ?? []).map((r) => [r.id, r.spec?.name || r.id]));
  const ruleLink = (kind: "rate-limits" | "shapers", id: string, names: Map<string, string>) => <a href={`/${kind}/${id}`}>{names.get(id) ?? id}</a>;
  const filtered = FILTERS.some(([k]) => applied[k] !== "");
  const problem = events.problem;
  const set = (k: FilterKey) => (v: string) => setDraft((d) => ({ ...d, [k]: v }));
  const list = events.data?.events ?? [];

  const toggle = (id: string) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  return (
    <section>
      <PageHeader title="Requests">
        <button type="button" onClick={() => events.reload()} disabled={events.loading}>
          Refresh
        </button>
      </PageHeader>

      <form
        class="req-filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          if (requestsPath(draft) === key) events.reload();
          else navigate(requestsPath(draft), { replace: true });
        }}
      >
        <TextInput label="Host" field="host" problem={problem} type="search" placeholder="any" value={draft.host} onValue={set("host")} />
        <Select label="Route" field="route_id" problem={problem} value={draft.route} options={[["", "Any route"] as const, ...routes.map((r) => [r.id, r.spec?.name || r.id] as const)]} onValue={set("route")} />
        <Select
          label="Status"
          field="status_class"
          problem={problem}
          value={draft.status}
          options={[["", "Any status"], ["2xx", "2xx success"], ["3xx", "3xx redirect"], ["4xx", "4xx client error"], ["5xx", "5xx server error"], ["1xx", "1xx informational"]]}
          onValue={set("status")}
        />
        <TextInput label="Error code" field="error_code" problem={problem} placeholder="any" value={draft.error} onValue={set("error")} />
        <TextInput label="Since" field="since" problem={problem} type="datetime-local" value={draft.since} onValue={set("since")} />
        <TextInput label="Until" field="until" problem={problem} type="datetime-local" value={draft.until} onValue={set("until")} />
        <div class="actions">
          <button type="submit" class="primary">
            Apply
          </button>
          {filtered && (
            <button type="button" onClick={() => navigate("/requests", { replace: true })}>
              Clear
            </button>
          )}
        </div>
      </form>

      <FormProblem problem={problem} fields={FILTERS.map(([, f]) => f)} />
      {events.loading && !events.data && <Loading what="requests" />}
      {events.data && list.length === 0 && (
        <Empty>{filtered || tokens.length > 1 ? "No requests match these filters." : "No requests yet: send one to a public listener."}</Empty>
      )}
      {list.length > 0 && (
        <div class="table-scroll">
          <table class="req-table" aria-busy={events.loading || undefined}>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Method</th>
                <th scope="col">Host</th>
                <th scope="col">Path</th>
                <th scope="col">Status</th>
                <th scope="col">Error</th>
                <th scope="col">Route</th>
                <th scope="col">Target</th>
                <th scope="col">ms</th>
                <th scope="col">In</th>
                <th scope="col">Out</th>
                <th scope="col">Client</th>
                <th scope="col">Answered by</th>
                <th scope="col">
                  <span class="visually-hidden">Details</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((e) => {
                const id = String(e.id);
                const isOpen = open.has(id);
                const stages = Object.entries(e.stageTimingsMs);
                return [
                  <tr key={id} data-event-id={id}>
                    <td class="nowrap" title={when(e.at)}>
                      {shortTime(e.at)}
                    </td>
                    <td>{e.method}</td>
                    <td>{e.host}</td>
                    <td class="path">
                      <code>{e.path}</code>
                    </td>
                    <td data-testid="status" class="nowrap">
                      {statusBadge(e.status)}
                      {e.limited && (
                        <>
                          {" "}
                          <span title={`Limited by ${rateLimitName.get(e.rateLimitRuleIds.at(-1) ?? "") ?? e.rateLimitRuleIds.at(-1) ?? "a rate limit"}`}>
                            <Badge tone="warn">limited</Badge>
                          </span>
                        </>
                      )}
                      {e.shaperRuleId && (
                        <>
                          {" "}
                          <Badge tone="muted">shaped</Badge>
                        </>
                      )}
                      {e.cacheStatus && (
                        <>
                          {" "}
                          <span data-testid="cache-chip">
                            <Badge tone={cacheStatusTone(e.cacheStatus)}>cache: {e.cacheStatus}</Badge>
                          </span>
                        </>
                      )}
                    </td>
                    <td>{e.errorCode ? <code>{e.errorCode}</code> : ""}</td>
                    <td>{e.routeId ? <a href={`/routes/${e.routeId}`}>{routeName.get(e.routeId) ?? e.routeId}</a> : <span class="muted">none</span>}</td>
                    <td>{targetText(e)}</td>
                    <td class="num">{ms(e.durationMs)}</td>
                    <td class="num">{String(e.bytesIn)}</td>
                    <td class="num">{String(e.bytesOut)}</td>
                    <td>{e.clientIp}</td>
                    <td>
                      {e.answeredBy}
                      {e.upgrade ? " (upgrade)" : ""}
                    </td>
                    <td>
                      <button type="button" aria-expanded={isOpen} aria-controls={`ev-${id}`} onClick={() => toggle(id)}>
                        {isOpen ? "Hide" : "Details"}
                      </button>
                    </td>
                  </tr>,
                  isOpen && (
                    <tr key={`${id}-d`} id={`ev-${id}`} class="req-details">
                      <td colSpan={14}>
                        <dl>
                          <dt>Request id</dt>
                          <dd>
                            <code>{e.requestId}</code>
                          </dd>
                          {e.limited && e.rateLimitRuleIds.length > 0 && (
                            <>
                              <dt>Limited by</dt>
                              <dd data-testid="limited-by">{ruleLink("rate-limits", e.rateLimitRuleIds.at(-1)!, rateLimitName)}</dd>
                            </>
                          )}
                          {e.rateLimitRuleIds.length > 0 && (
                            <>
                              <dt>Rate limits counted</dt>
                              <dd>
                                {e.rateLimitRuleIds.map((rid, k) => (
                                  <Fragment key={rid}>
                                    {k > 0 && ", "}
                                    {ruleLink("rate-limits", rid, rateLimitName)}
                                  </Fragment>
                                ))}
                              </dd>
                            </>
                          )}
                          {e.shaperRuleId && (
                            <>
                              <dt>Shaper</dt>
                              <dd data-testid="shaper">
                                {ruleLink("shapers", e.shaperRuleId, shaperName)}: waited for <span title={`${e.shapedBytesIn} bytes`}>{bytes(e.shapedBytesIn)}</span> in, <span title={`${e.shapedBytesOut} bytes`}>{bytes(e.shapedBytesOut)}</span> out
                              </dd>
                            </>
                          )}
                          {e.cacheStatus && (
                            <>
                              <dt>Cache</dt>
                              <dd data-testid="cache-status">{e.cacheStatus}</dd>
                            </>
                          )}
                          {stages.length === 0 && (
                            <>
                              <dt>Stages</dt>
                              <dd class="muted">no timings recorded</dd>
                            </>
                          )}
                          {stages.map(([stage, t]) => (
                            <Fragment key={stage}>
                              <dt>{stage}</dt>
                              <dd>{ms(t)} ms</dd>
                            </Fragment>
                          ))}
                        </dl>
                      </td>
                    </tr>
                  ),
                ];
              })}
            </tbody>
          </table>
        </div>
      )}
      {(tokens.length > 1 || events.data?.nextPageToken) && (
        <nav class="req-pager" aria-label="Pages">
          <button type="button" disabled={tokens.length <= 1 || events.loading} onClick={() => setTokens((t) => t.slice(0, -1))}>
            Newer
          </button>
          <span class="muted">Page {tokens.length}</span>
          <button type="button" disabled={!events.data?.nextPageToken || events.loading} onClick={() => setTokens((t) => [...t, events.data!.nextPageToken])}>
            Older
          </button>
        </nav>
      )}
    </section>
  );
}
