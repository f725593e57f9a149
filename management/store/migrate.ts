import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Db } from "./database.ts";
import { packageRoot } from "../../lib/package-info.ts";

export const MIGRATIONS_DIR = join(packageRoot(), "migrations");

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

const FILE_RE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = FILE_RE.exec(file);
    if (!m) continue;
    out.push({ version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, file), "utf8") });
  }
  out.forEach((m, i) => {
    if (m.version !== i + 1) throw new MigrationError(`migrations must be numbered 0001, 0002, … without gaps; found ${m.version} at position ${i + 1}`);
  });
  return out;
}

/**
 * Applies pending migrations in order, each in its own transaction, and records them.
 * Refuses a database written by a newer Warren: running old code on it could corrupt it.
 */
export function migrate(db: Db, migrations: readonly Migration[] = loadMigrations()): { applied: number[] } {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const row = db.prepare("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").get() as { v: number };
  const known = migrations.length;
  if (row.v > known) {
    throw new MigrationError(
      `database schema version ${row.v} is newer than this Warren supports (${known}); run a newer Warren or restore a backup`,
    );
  }
  const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= row.v) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    })();
    applied.push(m.version);
  }
  return { applied };
}
