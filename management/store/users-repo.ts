import type { Db } from "./database.ts";

export type RoleName = "admin" | "viewer";

export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  role: RoleName;
  disabled: 0 | 1;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
}

export class UsersRepo {
  private readonly s;
  constructor(private readonly db: Db) {
    this.s = {
      count: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM users"),
      all: db.prepare<[], UserRow>("SELECT * FROM users ORDER BY username"),
      byId: db.prepare<[string], UserRow>("SELECT * FROM users WHERE id = ?"),
      byName: db.prepare<[string], UserRow>("SELECT * FROM users WHERE username = ?"),
      insert: db.prepare(
        "INSERT INTO users (id, username, password_hash, role, disabled, created_at, updated_at) VALUES (@id, @username, @password_hash, @role, @disabled, @created_at, @updated_at)",
      ),
      update: db.prepare("UPDATE users SET role = @role, disabled = @disabled, updated_at = @updated_at WHERE id = @id"),
      setPassword: db.prepare<[string, number, string]>("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?"),
      touchLogin: db.prepare<[number, string]>("UPDATE users SET last_login_at = ? WHERE id = ?"),
      delete: db.prepare<[string]>("DELETE FROM users WHERE id = ?"),
      activeAdmins: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0"),
    };
  }

  count(): number {
    return this.s.count.get()!.n;
  }
  list(): UserRow[] {
    return this.s.all.all();
  }
  byId(id: string): UserRow | undefined {
    return this.s.byId.get(id);
  }
  byUsername(username: string): UserRow | undefined {
    return this.s.byName.get(username);
  }
  insert(u: Omit<UserRow, "last_login_at">): void {
    this.s.insert.run(u);
  }
  update(id: string, role: RoleName, disabled: boolean, now: number): void {
    this.s.update.run({ id, role, disabled: disabled ? 1 : 0, updated_at: now });
  }
  setPassword(id: string, hash: string, now: number): void {
    this.s.setPassword.run(hash, now, id);
  }
  touchLogin(id: string, now: number): void {
    this.s.touchLogin.run(now, id);
  }
  delete(id: string): void {
    this.s.delete.run(id);
  }
  countActiveAdmins(): number {
    return this.s.activeAdmins.get()!.n;
  }
  /** Runs fn in one transaction (immediate, so concurrent writers from the CLI serialize cleanly). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}
