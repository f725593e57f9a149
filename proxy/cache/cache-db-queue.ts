// The request path's side of the disk tier's SQLite writes: operations are appended to an array and
// leave in batches (setImmediate once a batch is full, a timer otherwise) for the writer thread.
// Nothing here waits for SQLite. Losing a batch is safe: the tier reconciles rows with body files at
// start (a row without its file, or a file without its row, is deleted).
import type { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { startModuleWorker } from "../../lib/module-worker.ts";
import type { CacheDbOp } from "./cache-db.ts";
import type { CacheDbReply, CacheDbRequest } from "./cache-db-worker.ts";

type Pending = { resolve: (dbBytes: number) => void; reject: (e: Error) => void };
type Request = CacheDbRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

export interface CacheDbQueueOptions {
  readonly flushEveryMs?: number;
  readonly batchSize?: number;
  /** Past this many waiting operations (the disk is slower than traffic) new ones are dropped. */
  readonly maxQueued?: number;
  /** The database's size after each batch. */
  readonly onSize?: (bytes: number) => void;
  readonly log?: Logger;
}

export class CacheDbQueue {
  private ops: CacheDbOp[] = [];
  /** key → [gen, accessedAt]: only the last access per key is written. */
  private touches = new Map<string, [string, number]>();
  private scheduled = false;
  private dropped = 0;
  private readonly worker: Worker;
  private readonly timer: NodeJS.Timeout;
  private readonly batchSize: number;
  private readonly maxQueued: number;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private writing: Promise<void> = Promise.resolve();
  private closed: Promise<void> | undefined;

  constructor(
    dbPath: string,
    private readonly o: CacheDbQueueOptions = {},
  ) {
    this.batchSize = o.batchSize ?? 128;
    this.maxQueued = o.maxQueued ?? 100_000;
    const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
    this.worker = startModuleWorker(new URL(`./cache-db-worker${ext}`, import.meta.url), { path: dbPath });
    this.worker.unref();
    this.worker.on("message", (r: CacheDbReply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (r.ok) p?.resolve(r.dbBytes);
      else p?.reject(new Error(r.error));
    });
    this.worker.on("error", (err) => {
      this.o.log?.error({ err }, "the cache index writer thread failed; cache entries are no longer persisted");
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    this.timer = setInterval(() => void this.flush(), o.flushEveryMs ?? 500);
    this.timer.unref();
  }

  put(op: CacheDbOp): void {
    if (this.ops.length >= this.maxQueued) {
      this.dropped++;
      return;
    }
    this.ops.push(op);
    if (this.ops.length >= this.batchSize && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  touch(key: string, gen: string, at: number): void {
    const t = this.touches.get(key);
    if (t !== undefined) {
      t[0] = gen;
      t[1] = at;
    } else if (this.touches.size < this.maxQueued) this.touches.set(key, [gen, at]);
  }

  private send(m: Request): Promise<number> {
    const id = ++this.nextId;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...m, id } as CacheDbRequest);
    });
  }

  /** Hands what is queued to the writer thread; resolves once it (and every earlier batch) is written. */
  flush(): Promise<void> {
    this.scheduled = false;
    if (this.dropped > 0) {
      this.o.log?.warn({ dropped: this.dropped }, "cache index writes dropped: the writer fell behind");
      this.dropped = 0;
    }
    if (this.ops.length > 0 || this.touches.size > 0) {
      const ops = this.ops;
      const touches = [...this.touches].map(([k, [g, at]]) => [k, g, at] as const);
      this.ops = [];
      this.touches = new Map();
      const sent = this.send({ kind: "write", ops, touches }).then(
        (bytes) => this.o.onSize?.(bytes),
        (e: Error) => this.o.log?.error({ err: e.message, lost: ops.length }, "could not write cache index rows"),
      );
      this.writing = this.writing.then(() => sent);
    }
    return this.writing;
  }

  /** Writes what is queued, then ends the writer thread. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      clearInterval(this.timer);
      await this.flush();
      await this.send({ kind: "close" }).catch(() => 0);
      await this.worker.terminate();
    })();
    return this.closed;
  }
}
