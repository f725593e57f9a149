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

const COLUMNS = "at, request_id, listener_id, route_id, target_id, agent_id, method, host, path, status, bytes_in, bytes_out, duration_ms, error_kind, client_ip, answered_by, upgrade, stage_timings";
const PER_ROW = 18;
/** Rows per multi-row INSERT: one statement step for many rows is ~3× cheaper than one per row. */
const ROWS_PER_STATEMENT = 32;

/**
 * Events as one flat array of primitives (18 values per event; the stage timings already as JSON):
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
    );
  }
  return { count: events.length, values };
}

/** Request events: batched inserts and pruning. */
export class EventsRepo {
  private readonly s;
  private readonly insertEncodedTx: (b: EncodedEvents) => void;
  constructor(db: Db) {
    this.s = {
      insertOne: db.prepare(`INSERT INTO request_events (${COLUMNS}) VALUES (${Array(PER_ROW).fill("?").join(", ")})`),
      insertMany: db.prepare(`INSERT INTO request_events (${COLUMNS}) VALUES ${Array(ROWS_PER_STATEMENT).fill(`(${Array(PER_ROW).fill("?").join(", ")})`).join(", ")}`),
      pruneAge: db.prepare<[number]>("DELETE FROM request_events WHERE at < ?"),
      maxId: db.prepare<[], { m: number | null }>("SELECT MAX(id) AS m FROM request_events"),
      pruneIds: db.prepare<[number]>("DELETE FROM request_events WHERE id <= ?"),
      recent: db.prepare<[number], EventRow>("SELECT * FROM request_events ORDER BY id DESC LIMIT ?"),
      count: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM request_events"),
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
  recent(limit: number): EventRow[] {
    return this.s.recent.all(limit);
  }
  count(): number {
    return this.s.count.get()!.n;
  }
}
