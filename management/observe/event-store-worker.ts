// The request-event writer's own thread: it holds its own connection to the database and does the
// inserts and pruning, so the event loop that serves requests never waits on SQLite.
import { parentPort, workerData } from "node:worker_threads";
import { openDatabase } from "../store/database.ts";
import { EventsRepo } from "../store/events-repo.ts";
import type { FromEventStore, ToEventStore } from "./event-store-protocol.ts";

const port = parentPort!;
const db = openDatabase((workerData as { databasePath: string }).databasePath);
const repo = new EventsRepo(db);
const reply = (m: FromEventStore) => port.postMessage(m);

port.on("message", (m: ToEventStore) => {
  try {
    if (m.op === "insert") {
      repo.insertBatch(m.events);
      reply({ op: "synced", id: m.id });
    }
    else if (m.op === "prune") reply({ op: "pruned", id: m.id, deleted: repo.prune(m.before, m.maxRows) });
    else if (m.op === "sync") reply({ op: "synced", id: m.id });
    else if (m.op === "close") {
      db.close();
      port.close();
    }
  } catch (e) {
    reply({ op: "failed", id: "id" in m ? m.id : 0, what: m.op, lost: m.op === "insert" ? m.events.length : 0, message: (e as Error).message });
  }
});
