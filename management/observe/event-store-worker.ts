// The request-event writer thread: its own SQLite connection to the same database (WAL lets it
// write beside the main thread), so inserting and pruning events never blocks the event loop that
// serves requests. Every message is answered with its id.
import { parentPort, workerData } from "node:worker_threads";
import { openDatabase } from "../store/database.ts";
import { EventsRepo, type EncodedEvents } from "../store/events-repo.ts";

export type WorkerRequest =
  | { readonly id: number; readonly kind: "insert"; readonly batch: EncodedEvents }
  | { readonly id: number; readonly kind: "prune"; readonly before: number; readonly maxRows: number }
  | { readonly id: number; readonly kind: "close" };

export type WorkerReply = { readonly id: number; readonly ok: true; readonly n: number } | { readonly id: number; readonly ok: false; readonly error: string };

const { databasePath } = workerData as { databasePath: string };
const db = openDatabase(databasePath);
const repo = new EventsRepo(db);
const port = parentPort!;

port.on("message", (m: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    if (m.kind === "insert") {
      repo.insertEncoded(m.batch);
      reply = { id: m.id, ok: true, n: m.batch.count };
    } else if (m.kind === "prune") {
      reply = { id: m.id, ok: true, n: repo.prune(m.before, m.maxRows) };
    } else {
      db.close();
      reply = { id: m.id, ok: true, n: 0 };
      port.postMessage(reply);
      port.close();
      return;
    }
  } catch (e) {
    reply = { id: m.id, ok: false, error: (e as Error).message };
  }
  port.postMessage(reply);
});
