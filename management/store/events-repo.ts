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
}

/** `{"hygiene":0.004,…}` with microsecond precision; stages that did not run are left out. */
export function formatStageTimings(names: readonly string[], timings: readonly number[]): string {
  let out = "{";
  for (let i = 0; i < names.length; i++) {
    const t = timings[i];
    if (t === undefined) continue;
    if (out.length > 1) out += ",";
    out += `${JSON.stringify(names[i])}:${Math.round(t * 1000) / 1000}`;
  }
  return `${out}}`;
}

/** Request events: batched inserts and pruning. */
export class EventsRepo {
  private readonly s;
  private readonly insertMany: (events: readonly RequestEvent[]) => void;
  constructor(db: Db) {
    this.s = {
      insert: db.prepare(
        "INSERT INTO request_events (at, request_id, listener_id, route_id, target_id, agent_id, method, host, path, status, bytes_in, bytes_out, duration_ms, error_kind, client_ip, answered_by, upgrade, stage_timings) VALUES (@at, @requestId, @listenerId, @routeId, @targetId, @agentId, @method, @host, @path, @status, @bytesIn, @bytesOut, @durationMs, @errorKind, @clientIp, @answeredBy, @upgrade, @stageTimings)",
      ),
      pruneAge: db.prepare<[number]>("DELETE FROM request_events WHERE at < ?"),
      maxId: db.prepare<[], { m: number | null }>("SELECT MAX(id) AS m FROM request_events"),
      pruneIds: db.prepare<[number]>("DELETE FROM request_events WHERE id <= ?"),
      recent: db.prepare<[number], EventRow>("SELECT * FROM request_events ORDER BY id DESC LIMIT ?"),
      count: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM request_events"),
    };
    const insert = this.s.insert;
    this.insertMany = db.transaction((events: readonly RequestEvent[]) => {
      for (const e of events) {
        insert.run({
          at: e.at,
          requestId: e.requestId,
          listenerId: e.listenerId,
          routeId: e.routeId,
          targetId: e.targetId,
          agentId: e.agentId,
          method: e.method,
          host: e.host,
          path: e.path,
          status: e.status,
          bytesIn: e.bytesIn,
          bytesOut: e.bytesOut,
          durationMs: e.durationMs,
          errorKind: e.errorKind,
          clientIp: e.clientIp,
          answeredBy: e.answeredBy,
          upgrade: e.upgrade ? 1 : 0,
          stageTimings: formatStageTimings(e.stageNames, e.timings),
        });
      }
    });
  }

  insertBatch(events: readonly RequestEvent[]): void {
    this.insertMany(events);
  }
  /** Drops events older than `before` and all but the newest `maxRows`; returns rows deleted. */
  prune(before: number, maxRows: number): number {
    let n = this.s.pruneAge.run(before).changes;
    const max = this.s.maxId.get()?.m;
    if (max !== null && max !== undefined && max > maxRows) n += this.s.pruneIds.run(max - maxRows).changes;
    return n;
  }
  recent(limit: number): EventRow[] {
    return this.s.recent.all(limit);
  }
  count(): number {
    return this.s.count.get()!.n;
  }
}
