// The disk tier's own small SQLite file (<cache dir>/cache.db): one row per stored body, written only
// after the body file is in place. The tier reads it once at start to rebuild its in-memory index;
// afterwards only the writer thread (cache-db-worker.ts) touches it.
import Database from "better-sqlite3";
import { chmodSync, closeSync, existsSync, openSync, statSync } from "node:fs";
import type { EntryMeta } from "./types.ts";

export type CacheDb = Database.Database;

/** Bumped when the table changes: an older file is dropped and rebuilt (it is a cache). */
const SCHEMA_VERSION = 1;

/** One write the tier hands to the writer thread, in order. */
export type CacheDbOp =
  | { readonly op: "put"; readonly gen: string; readonly meta: EntryMeta; readonly accessedAt: number }
  | { readonly op: "delete"; readonly key: string; readonly gen: string };

/** A stored entry as read back at start. */
export interface CacheRow {
  readonly gen: string;
  readonly meta: EntryMeta;
  readonly accessedAt: number;
}

export function openCacheDb(path: string): CacheDb {
  if (!existsSync(path)) closeSync(openSync(path, "a", 0o600));
  const db = new Database(path);
  try {
    prepare(db);
  } catch (e) {
    db.close();
    throw e;
  }
  for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  return db;
}

function prepare(db: CacheDb): void {
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  // Keep the WAL small: its bytes count against the disk budget.
  db.pragma("wal_autocheckpoint = 64");
  db.pragma(`journal_size_limit = ${256 * 1024}`);
  if ((db.pragma("user_version", { simple: true }) as number) !== SCHEMA_VERSION) {
    db.exec(`
      DROP TABLE IF EXISTS cache_entries;
      CREATE TABLE cache_entries (
        key TEXT PRIMARY KEY,
        gen TEXT NOT NULL,
        primary_key TEXT NOT NULL,
        vary TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        host TEXT NOT NULL,
        path TEXT NOT NULL,
        url TEXT NOT NULL,
        status INTEGER NOT NULL,
        headers TEXT NOT NULL,
        policy TEXT NOT NULL,
        size INTEGER NOT NULL,
        stored_at INTEGER NOT NULL,
        accessed_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }
}

interface RawRow {
  key: string;
  gen: string;
  primary_key: string;
  vary: string;
  rule_id: string;
  host: string;
  path: string;
  url: string;
  status: number;
  headers: string;
  policy: string;
  size: number;
  stored_at: number;
  accessed_at: number;
}

/** Every row, least recently used first. Rows that do not parse are deleted. */
export function loadRows(db: CacheDb): CacheRow[] {
  const out: CacheRow[] = [];
  const bad: string[] = [];
  for (const r of db.prepare("SELECT * FROM cache_entries ORDER BY accessed_at, stored_at").iterate() as IterableIterator<RawRow>) {
    try {
      const meta: EntryMeta = {
        key: r.key,
        primary: r.primary_key,
        vary: JSON.parse(r.vary) as string[],
        ruleId: r.rule_id,
        host: r.host,
        path: r.path,
        url: r.url,
        status: r.status,
        headers: JSON.parse(r.headers) as string[],
        policy: JSON.parse(r.policy) as Record<string, unknown>,
        size: r.size,
        storedAt: r.stored_at,
      };
      out.push({ gen: r.gen, meta, accessedAt: r.accessed_at });
    } catch {
      bad.push(r.key);
    }
  }
  deleteKeys(db, bad);
  return out;
}

export function deleteKeys(db: CacheDb, keys: readonly string[]): void {
  if (keys.length === 0) return;
  const del = db.prepare("DELETE FROM cache_entries WHERE key = ?");
  db.transaction(() => {
    for (const k of keys) del.run(k);
  })();
}

/** The statements the writer thread runs, prepared once. */
export function cacheDbWriter(db: CacheDb) {
  const put = db.prepare(`
    INSERT INTO cache_entries (key, gen, primary_key, vary, rule_id, host, path, url, status, headers, policy, size, stored_at, accessed_at)
    VALUES (@key, @gen, @primary, @vary, @ruleId, @host, @path, @url, @status, @headers, @policy, @size, @storedAt, @accessedAt)
    ON CONFLICT (key) DO UPDATE SET gen = excluded.gen, primary_key = excluded.primary_key, vary = excluded.vary,
      rule_id = excluded.rule_id, host = excluded.host, path = excluded.path, url = excluded.url, status = excluded.status,
      headers = excluded.headers, policy = excluded.policy, size = excluded.size, stored_at = excluded.stored_at,
      accessed_at = excluded.accessed_at`);
  // Both match the generation: an older file's delete or touch never hits the row of a newer body.
  const del = db.prepare("DELETE FROM cache_entries WHERE key = ? AND gen = ?");
  const touch = db.prepare("UPDATE cache_entries SET accessed_at = ? WHERE key = ? AND gen = ?");
  return db.transaction((ops: readonly CacheDbOp[], touches: readonly (readonly [string, string, number])[]) => {
    for (const o of ops) {
      if (o.op === "delete") {
        del.run(o.key, o.gen);
        continue;
      }
      const m = o.meta;
      put.run({
        key: m.key,
        gen: o.gen,
        primary: m.primary,
        vary: JSON.stringify(m.vary),
        ruleId: m.ruleId,
        host: m.host,
        path: m.path,
        url: m.url,
        status: m.status,
        headers: JSON.stringify(m.headers),
        policy: JSON.stringify(m.policy),
        size: m.size,
        storedAt: m.storedAt,
        accessedAt: o.accessedAt,
      });
    }
    for (const [key, gen, at] of touches) touch.run(at, key, gen);
  });
}

/** Bytes the database occupies (file, WAL, shared memory): they count against the disk budget. */
export function cacheDbBytes(path: string): number {
  let n = 0;
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      n += statSync(f).size;
    } catch {
      // not there (yet)
    }
  }
  return n;
}
