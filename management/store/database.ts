import Database from "better-sqlite3";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";

export type Db = Database.Database;

const PRIVATE_FILE = 0o600;

/**
 * Opens (creating if needed) the SQLite file with the settings Warren relies on: WAL so readers
 * (the CLI, backups) never block the server, NORMAL sync (safe with WAL), enforced foreign keys,
 * and a busy timeout so a concurrent `warren users reset-password` waits instead of failing.
 */
export function openDatabase(path: string): Db {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) {
    // Create the file with private permissions before SQLite touches it, so it is never world-readable.
    closeSync(openSync(path, "a", PRIVATE_FILE));
  }
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  tightenModes(path);
  return db;
}

/** SQLite creates -wal and -shm with the umask; keep every file of the database 0600. */
export function tightenModes(path: string): void {
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(f)) chmodSync(f, PRIVATE_FILE);
  }
}
