import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { EventSink, RequestEvent } from "../../proxy/observe/request-event.ts";
import type { FromEventStore, ToEventStore } from "./event-store-protocol.ts";

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

const WORKER_URL = new URL("./event-store-worker.mjs", import.meta.url);

/**
 * Collects request events in memory and hands them, a batch at a time, to a worker thread that
 * writes each batch in one transaction on its own database connection, and prunes by age and row
 * cap. The request path only pushes onto an array; the event loop never waits on SQLite.
 */
export class EventWriter implements EventSink {
  private queue: RequestEvent[] = [];
  private scheduled = false;
  private dropped = 0;
  /** Events handed to the worker and not yet confirmed by a sync; bounds what a stalled worker holds. */
  private inWorker = 0;
  private nextId = 1;
  private readonly waiting = new Map<number, (m: FromEventStore) => void>();
  private readonly worker: Worker;
  private exited = false;
  private readonly exitedPromise: Promise<void>;
  private readonly timer: NodeJS.Timeout;
  private readonly pruneTimer: NodeJS.Timeout;
  private readonly batchSize: number;
  private readonly maxQueued: number;

  constructor(
    databasePath: string,
    private readonly o: EventWriterOptions,
    private readonly log: Logger,
  ) {
    this.batchSize = o.batchSize ?? 256;
    this.maxQueued = o.maxQueued ?? 50_000;
    this.worker = new Worker(WORKER_URL, { workerData: { databasePath } });
    // Never what keeps the process alive; close() ends it.
    this.worker.unref();
    this.worker.on("message", (m: FromEventStore) => this.onMessage(m));
    this.worker.on("error", (err) => this.log.error({ err: err.message }, "request event writer failed"));
    this.exitedPromise = new Promise((resolve) =>
      this.worker.once("exit", () => {
        this.exited = true;
        for (const settle of this.waiting.values()) settle({ op: "failed", id: 0, what: "exit", lost: 0, message: "the event writer exited" });
        this.waiting.clear();
        resolve();
      }),
    );
    this.timer = setInterval(() => this.flush(), o.flushEveryMs ?? 250);
    this.timer.unref();
    this.pruneTimer = setInterval(() => void this.prune(), 10 * 60_000);
    this.pruneTimer.unref();
    void this.prune();
  }

  record(e: RequestEvent): void {
    if (this.queue.length + this.inWorker >= this.maxQueued) {
      this.dropped++;
      return;
    }
    this.queue.push(e);
    if (this.queue.length >= this.batchSize && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Hands what is queued to the worker (which writes it in one transaction). */
  flush(): void {
    this.scheduled = false;
    if (this.dropped > 0) {
      this.log.warn({ dropped: this.dropped }, "request events dropped: the writer fell behind");
      this.dropped = 0;
    }
    if (this.queue.length === 0 || this.exited) return;
    const events = this.queue;
    this.queue = [];
    this.inWorker += events.length;
    // The worker's answer releases the events from the bound above.
    void this.request((id) => ({ op: "insert", id, events })).then(() => (this.inWorker -= events.length));
  }

  /** Resolves once everything recorded so far is in the database. */
  async sync(): Promise<void> {
    this.flush();
    await this.request((id) => ({ op: "sync", id }));
  }

  /** Deletes events past the retention and the row cap; resolves with how many went. */
  async prune(now = Date.now()): Promise<number> {
    const m = await this.request((id) => ({ op: "prune", id, before: now - this.o.retentionDays * 86_400_000, maxRows: this.o.maxRows }));
    return m.op === "pruned" ? m.deleted : 0;
  }

  /** Writes what is queued, then stops the worker. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.pruneTimer);
    if (this.exited) return;
    this.flush();
    // Unref'd so far; now the process must stay up until the last batch is written.
    this.worker.ref();
    this.send({ op: "close" });
    await this.exitedPromise;
  }

  private send(m: ToEventStore): void {
    if (!this.exited) this.worker.postMessage(m);
  }

  private request(make: (id: number) => ToEventStore): Promise<FromEventStore> {
    if (this.exited) return Promise.resolve({ op: "failed", id: 0, what: "exit", lost: 0, message: "the event writer exited" });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.send(make(id));
    });
  }

  private onMessage(m: FromEventStore): void {
    if (m.op === "failed") {
      this.log.error({ err: m.message, lost: m.lost }, m.what === "prune" ? "could not prune request events" : "could not write request events");
    }
    const settle = this.waiting.get(m.id);
    if (settle) {
      this.waiting.delete(m.id);
      settle(m);
    }
  }
}
