import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../../management/store/database.ts";
import { MigrationError, loadMigrations, migrate } from "../../../management/store/migrate.ts";

const tmpDb = () => join(mkdtempSync(join(tmpdir(), "warren-db-")), "w.db");

describe("migrations", () => {
  it("applies every migration once, in order, and records it", () => {
    const db = openDatabase(tmpDb());
    const all = loadMigrations();
    assert.deepEqual(migrate(db).applied, all.map((m) => m.version));
    assert.deepEqual(migrate(db).applied, [], "second run applies nothing");
    const rows = db.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[];
    assert.deepEqual(rows.map((r) => r.version), all.map((m) => m.version));
    db.close();
  });

  it("rolls back a failing migration as a whole", () => {
    const db = openDatabase(tmpDb());
    const ms = [
      { version: 1, name: "ok", sql: "CREATE TABLE a (x INTEGER);" },
      { version: 2, name: "broken", sql: "CREATE TABLE b (x INTEGER); INSERT INTO nope VALUES (1);" },
    ];
    assert.throws(() => migrate(db, ms));
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as { name: string }[]).map((r) => r.name);
    assert.ok(tables.includes("a") && !tables.includes("b"), "the broken migration left nothing behind");
    db.close();
  });

  it("refuses a database newer than the code", () => {
    const db = openDatabase(tmpDb());
    migrate(db, [{ version: 1, name: "a", sql: "" }, { version: 2, name: "b", sql: "" }]);
    assert.throws(() => migrate(db, [{ version: 1, name: "a", sql: "" }]), (e: unknown) => e instanceof MigrationError && /newer than this Warren/.test(e.message));
    db.close();
  });

  it("creates the database file 0600 with WAL and foreign keys on", () => {
    const path = tmpDb();
    const db = openDatabase(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(db.pragma("foreign_keys", { simple: true }), 1);
    db.close();
  });
});
