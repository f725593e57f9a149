import type { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { EventSink, RequestEvent } from "../../proxy/index.ts";
import { encodeEvents } from "../store/events-repo.ts";
import { startModuleWorker } from "../../lib/module-worker.ts";
import type { WorkerReply, WorkerRequest } from "./event-store-worker.ts";

export interface EventWriterOptions {
  readonly retentionDays: number;
  readonly maxRows: number;
  /** Flush at least this often. */
  readonly flushEveryMs?: number;
  /** Flush as soon as this many are waiting. */
  readonly batchSize?: number;
  /** Past this many waiting (the disk is slower than traffic), new events are dropped and counted. */
  readonly maxQueued?: number;
}

type Pending = { resolve: (n: number) => void; reject: (e: Error) => void };
type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

/**
 * Collects request events in memory and hands them in batches to a writer thread with its own
 * SQLite connection (management/observe/event-store-worker.ts): inserting a row costs ~5 µs of
 * SQLite work, which on the event loop was 10 % of Warren's CPU under load. The request path only
 * appends to an array; batches leave on a timer or setImmediate. Prunes by age and row cap.
 */
export class EventWriter implements EventSink {
  private queue: RequestEvent[] = [];
  private scheduled = false;
  private dropped = 0;
  /** Events handed to the thread and not written yet: they count against maxQueued too. */
  private inFlight = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly pruneTimer: NodeJS.Timeout;
  private readonly batchSize: number;
  private readonly maxQueued: number;
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private closed: Promise<void> | undefined;

  constructor(
    databasePath: string,
    private readonly o: EventWriterOptions,
    private readonly log: Logger,
  ) {
    this.batchSize = o.batchSize ?? 128;
    this.maxQueued = o.maxQueued ?? 50_000;
    this.worker = startModuleWorker(new URL(`./event-store-worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url), { databasePath });
    // The writer thread must not keep the process alive on its own; close() ends it.
    this.worker.unref();
    this.worker.on("message", (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (r.ok) p?.resolve(r.n);
      else p?.reject(new Error(r.error));
    });
    this.worker.on("error", (err) => {
      this.log.error({ err }, "the request-event writer thread failed; events are no longer recorded");
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    this.timer = setInterval(() => void this.flush(), o.flushEveryMs ?? 250);
    this.timer.unref();
    this.pruneTimer = setInterval(() => void this.prune(), 10 * 60_000);
    this.pruneTimer.unref();
    void this.prune();
  }

  private send(m: Request): Promise<number> {
    const id = ++this.nextId;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...m, id } as WorkerRequest);
    });
  }

  record(e: RequestEvent): void {
    if (this.queue.length + this.inFlight >= this.maxQueued) {
      this.dropped++;
      return;
    }
    this.queue.push(e);
    if (this.queue.length >= this.batchSize && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  /** Hands what is queued to the writer thread; resolves once it is written. */
  async flush(): Promise<void> {
    this.scheduled = false;
    if (this.dropped > 0) {
      this.log.warn({ dropped: this.dropped }, "request events dropped: the writer fell behind");
      this.dropped = 0;
    }
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.inFlight += batch.length;
    try {
      await this.send({ kind: "insert", batch: encodeEvents(batch) });
      this.log.debug({ events: batch.length }, "request events written");
    } catch (e) {
      this.log.error({ err: (e as Error).message, lost: batch.length }, "could not write request events");
    } finally {
      this.inFlight -= batch.length;
    }
  }

  /** Deletes events past the retention and the row cap; resolves with how many. */
  async prune(now = Date.now()): Promise<number> {
    try {
      return await this.send({ kind: "prune", before: now - this.o.retentionDays * 86_400_000, maxRows: this.o.maxRows });
    } catch (e) {
      this.log.error({ err: (e as Error).message }, "could not prune request events");
      return 0;
    }
  }

  /** Writes what is still queued, then ends the writer thread. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      clearInterval(this.timer);
      clearInterval(this.pruneTimer);
      await this.flush();
      await this.send({ kind: "close" }).catch(() => 0);
      await this.worker.terminate();
    })();
    return this.closed;
  }
}
