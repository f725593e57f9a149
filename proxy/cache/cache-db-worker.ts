// The disk tier's SQLite writer thread: rows are written here, in batches, so the event loop that
// serves requests never waits for SQLite. Every message is answered with its id and the database's
// size on disk (which counts against the disk budget).
import { parentPort, workerData } from "node:worker_threads";
import { cacheDbBytes, cacheDbWriter, openCacheDb, type CacheDbOp } from "./cache-db.ts";

export type CacheDbRequest =
  | { readonly id: number; readonly kind: "write"; readonly ops: readonly CacheDbOp[]; readonly touches: readonly (readonly [string, string, number])[] }
  | { readonly id: number; readonly kind: "close" };

export type CacheDbReply = { readonly id: number; readonly ok: true; readonly dbBytes: number } | { readonly id: number; readonly ok: false; readonly error: string };

const { path } = workerData as { path: string };
const db = openCacheDb(path);
const write = cacheDbWriter(db);
const port = parentPort!;

port.on("message", (m: CacheDbRequest) => {
  let reply: CacheDbReply;
  try {
    if (m.kind === "write") {
      write(m.ops, m.touches);
      reply = { id: m.id, ok: true, dbBytes: cacheDbBytes(path) };
    } else {
      db.close();
      port.postMessage({ id: m.id, ok: true, dbBytes: cacheDbBytes(path) } satisfies CacheDbReply);
      port.close();
      return;
    }
  } catch (e) {
    reply = { id: m.id, ok: false, error: (e as Error).message };
  }
  port.postMessage(reply);
});
