import type { Statement } from "better-sqlite3";
import type { Db } from "./database.ts";
import type { RequestEvent } from "../../proxy/index.ts";

export interface EventRow {
  id: number;
  at: number;
  request_id: string;
  listener_id: string;
  route_id: string;
  target_id: string;
  agent_id: string;
  method: string;
  host: string;
  path: string;
  status: number;
  bytes_in: number;
  bytes_out: number;
  duration_ms: number;
  error_kind: string;
  client_ip: string;
  answered_by: string;
  upgrade: 0 | 1;
  /** JSON: stage name → milliseconds. */
  stage_timings: string;
  rule_id: string;
  rule_action: string;
  /** Comma-separated rate-limit rule ids, in the order they counted the request. */
  rate_limit_rule_ids: string;
  limited: 0 | 1;
  shaper_rule_id: string;
  shaped_bytes_in: number;
  shaped_bytes_out: number;
  cache_status: string;
}

const quotedNames = new WeakMap<readonly string[], string[]>();

/** `{"hygiene":0.004,…}` with microsecond precision; stages that did not run are left out. */
export function formatStageTimings(names: readonly string[], timings: readonly number[]): string {
  // The names array is the pipeline's, shared by every event: quote it once.
  let keys = quotedNames.get(names);
  if (keys === undefined) quotedNames.set(names, (keys = names.map((n) => `${JSON.stringify(n)}:`)));
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const t = timings[i];
    if (t === undefined) continue;
    if (out.length > 1) out += ",";
    out += keys[i]! + Math.round(t * 1000) / 1000;
  }
  return `${out}}`;
}

const COLUMNS = "at, request_id, listener_id, route_id, target_id, agent_id, method, host, path, status, bytes_in, bytes_out, duration_ms, error_kind, client_ip, answered_by, upgrade, stage_timings, rule_id, rule_action, rate_limit_rule_ids, limited, shaper_rule_id, shaped_bytes_in, shaped_bytes_out, cache_status";
const PER_ROW = 26;
/** Rows per multi-row INSERT: one statement step for many rows is ~3× cheaper than one per row. */
const ROWS_PER_STATEMENT = 32;

/**
 * Events as one flat array of primitives (PER_ROW values per event; the stage timings already as JSON):
 * cheap to hand to the writer thread (a structured clone of numbers and strings, no objects).
 */
export interface EncodedEvents {
  readonly count: number;
  readonly values: (string | number)[];
}

export function encodeEvents(events: readonly RequestEvent[]): EncodedEvents {
  const values: (string | number)[] = [];
  for (const e of events) {
    values.push(
      e.at,
      e.requestId,
      e.listenerId,
      e.routeId,
      e.targetId,
      e.agentId,
      e.method,
      e.host,
      e.path,
      e.status,
      e.bytesIn,
      e.bytesOut,
      e.durationMs,
      e.errorKind,
      e.clientIp,
      e.answeredBy,
      e.upgrade ? 1 : 0,
      formatStageTimings(e.stageNames, e.timings),
      e.ruleId,
      e.ruleAction,
      e.rateLimitRuleIds,
      e.limited ? 1 : 0,
      e.shaperRuleId,
      e.shapedBytesIn,
      e.shapedBytesOut,
      e.cacheStatus,
    );
  }
  return { count: events.length, values };
}

/** What ListRequestEvents filters on; every field optional. */
export interface EventFilter {
  readonly host?: string;
  readonly routeId?: string;
  /** 1–5: the status class (4 = 400–499). */
  readonly statusClass?: number;
  readonly errorCode?: string;
  readonly ruleId?: string;
  /** Epoch ms: at >= since, at < until. */
  readonly since?: number;
  readonly until?: number;
  /** Only events with a smaller id (the paging cursor). */
  readonly beforeId?: number;
}

export interface EventSummary {
  readonly requests: number;
  readonly clientErrors: number;
  readonly serverErrors: number;
  readonly warrenErrors: number;
}

/** Request events: batched inserts, pruning, and the reads of the UI and the API. */
export class EventsRepo {
  private readonly s;
  private readonly insertEncodedTx: (b: EncodedEvents) => void;
  private readonly searches = new Map<string, Statement<(string | number)[], EventRow>>();
  constructor(private readonly db: Db) {
    this.s = {
      insertOne: db.prepare(`INSERT INTO request_events (${COLUMNS}) VALUES (${Array(PER_ROW).fill("?").join(", ")})`),
      insertMany: db.prepare(`INSERT INTO request_events (${COLUMNS}) VALUES ${Array(ROWS_PER_STATEMENT).fill(`(${Array(PER_ROW).fill("?").join(", ")})`).join(", ")}`),
      pruneAge: db.prepare<[number]>("DELETE FROM request_events WHERE at < ?"),
      maxId: db.prepare<[], { m: number | null }>("SELECT MAX(id) AS m FROM request_events"),
      pruneIds: db.prepare<[number]>("DELETE FROM request_events WHERE id <= ?"),
      recent: db.prepare<[number], EventRow>("SELECT * FROM request_events ORDER BY id DESC LIMIT ?"),
      count: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM request_events"),
      summary: db.prepare<[number], { n: number; c: number | null; s: number | null; w: number | null }>(
        "SELECT COUNT(*) AS n, SUM(status BETWEEN 400 AND 499) AS c, SUM(status >= 500) AS s, SUM(error_kind != '') AS w FROM request_events WHERE at >= ?",
      ),
    };
    const { insertOne, insertMany } = this.s;
    const step = ROWS_PER_STATEMENT * PER_ROW;
    this.insertEncodedTx = db.transaction((b: EncodedEvents) => {
      const v = b.values;
      let i = 0;
      for (; i + step <= v.length; i += step) insertMany.run(v.slice(i, i + step));
      for (; i < v.length; i += PER_ROW) insertOne.run(v.slice(i, i + PER_ROW));
    });
  }

  /** Writes events encoded with encodeEvents (what the writer thread receives). */
  insertEncoded(b: EncodedEvents): void {
    this.insertEncodedTx(b);
  }

  insertBatch(events: readonly RequestEvent[]): void {
    this.insertEncodedTx(encodeEvents(events));
  }
  /** Drops events older than `before` and all but the newest `maxRows`; returns rows deleted. */
  prune(before: number, maxRows: number): number {
    let n = this.s.pruneAge.run(before).changes;
    const max = this.s.maxId.get()?.m;
    if (max !== null && max !== undefined && max > maxRows) n += this.s.pruneIds.run(max - maxRows).changes;
    return n;
  }
  /** Newest first, at most `limit`. The statement for each combination of filters is prepared once. */
  search(f: EventFilter, limit: number): EventRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.host) where.push("host = ? COLLATE NOCASE"), args.push(f.host);
    if (f.routeId) where.push("route_id = ?"), args.push(f.routeId);
    if (f.statusClass) where.push("status >= ? AND status < ?"), args.push(f.statusClass * 100, f.statusClass * 100 + 100);
    if (f.errorCode) where.push("error_kind = ?"), args.push(f.errorCode);
    if (f.ruleId) where.push("rule_id = ?"), args.push(f.ruleId);
    if (f.since !== undefined) where.push("at >= ?"), args.push(f.since);
    if (f.until !== undefined) where.push("at < ?"), args.push(f.until);
    if (f.beforeId !== undefined) where.push("id < ?"), args.push(f.beforeId);
    const sql = `SELECT * FROM request_events${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
    let st = this.searches.get(sql);
    if (st === undefined) this.searches.set(sql, (st = this.db.prepare<(string | number)[], EventRow>(sql)));
    args.push(limit);
    return st.all(...args);
  }

  /** Counts since `since` (epoch ms), over the `at` index. */
  summary(since: number): EventSummary {
    const r = this.s.summary.get(since)!;
    return { requests: r.n, clientErrors: r.c ?? 0, serverErrors: r.s ?? 0, warrenErrors: r.w ?? 0 };
  }

  recent(limit: number): EventRow[] {
    return this.s.recent.all(limit);
  }
  count(): number {
    return this.s.count.get()!.n;
  }
}
