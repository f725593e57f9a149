import type { Logger } from "pino";
import type { EventSink, RequestEvent } from "../../proxy/index.ts";
import type { EventsRepo } from "../store/events-repo.ts";

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

/**
 * Collects request events in memory and writes them in one transaction per batch, off the request
 * path (a timer or setImmediate, never inside a request). Prunes by age and row cap periodically.
 */
export class EventWriter implements EventSink {
  private queue: RequestEvent[] = [];
  private scheduled = false;
  private dropped = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly pruneTimer: NodeJS.Timeout;
  private readonly batchSize: number;
  private readonly maxQueued: number;

  constructor(
    private readonly repo: EventsRepo,
    private readonly o: EventWriterOptions,
    private readonly log: Logger,
  ) {
    // Small batches: a write blocks the event loop (≈10 µs a row), so 128 rows keep each pause near
    // 1 ms instead of adding several ms to the requests that arrive during a large one.
    this.batchSize = o.batchSize ?? 128;
    this.maxQueued = o.maxQueued ?? 50_000;
    this.timer = setInterval(() => this.flush(), o.flushEveryMs ?? 250);
    this.timer.unref();
    this.pruneTimer = setInterval(() => this.prune(), 10 * 60_000);
    this.pruneTimer.unref();
    this.prune();
  }

  record(e: RequestEvent): void {
    if (this.queue.length >= this.maxQueued) {
      this.dropped++;
      return;
    }
    this.queue.push(e);
    if (this.queue.length >= this.batchSize && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    try {
      this.repo.insertBatch(batch);
      this.log.debug({ events: batch.length }, "request events written");
    } catch (e) {
      this.log.error({ err: (e as Error).message, lost: batch.length }, "could not write request events");
    }
    if (this.dropped > 0) {
      this.log.warn({ dropped: this.dropped }, "request events dropped: the writer fell behind");
      this.dropped = 0;
    }
  }

  prune(now = Date.now()): number {
    try {
      return this.repo.prune(now - this.o.retentionDays * 86_400_000, this.o.maxRows);
    } catch (e) {
      this.log.error({ err: (e as Error).message }, "could not prune request events");
      return 0;
    }
  }

  close(): void {
    clearInterval(this.timer);
    clearInterval(this.pruneTimer);
    this.flush();
  }
}
