// Answers from a stored entry into a client's response chain: the stored headers with Age and
// Cache-Status, a 304 when the client's own validators match, no body for HEAD.
import { rawHeaderValue } from "../headers.ts";
import { BodyPlayer, ChunkPlayer, headerObject, type Downstream } from "./downstream.ts";
import { notModified, notModifiedHeaders } from "./semantics.ts";
import type { CacheRequest } from "./exchange.ts";
import type { StoredEntry } from "./types.ts";

/** Returns the status the client gets. */
export function playEntry(down: Downstream, req: CacheRequest, entry: StoredEntry, headers: readonly string[], ageSeconds: number, cacheStatus: string | undefined): number {
  const extra = ["age", String(Math.max(0, Math.floor(ageSeconds)))];
  if (cacheStatus !== undefined) extra.push("cache-status", cacheStatus);
  if (notModified(req.headers, rawHeaderValue(headers, "etag"), rawHeaderValue(headers, "last-modified"))) {
    down.start(304, headerObject([...notModifiedHeaders(headers), ...extra]));
    down.end();
    return 304;
  }
  const status = entry.meta.status;
  down.start(status, headerObject([...headers, ...extra]));
  if (req.method === "HEAD" || status === 204 || status === 304) {
    down.end();
    return status;
  }
  // A body in memory is played straight from its chunks: no stream, and a small one goes out in the
  // same tick as the head (one write).
  if (entry.chunks !== undefined) new ChunkPlayer(down, entry.chunks);
  else new BodyPlayer(down, entry.open());
  return status;
}
