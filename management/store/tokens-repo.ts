import type { Db } from "./database.ts";
import type { RoleName } from "./users-repo.ts";

export interface TokenRow {
  id: string;
  token_hash: string;
  prefix: string;
  name: string;
  user_id: string;
  role: RoleName;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
}

export type TokenListRow = TokenRow & { username: string };

export class TokensRepo {
  private readonly s;
  constructor(db: Db) {
    this.s = {
      insert: db.prepare(
        "INSERT INTO api_tokens (id, token_hash, prefix, name, user_id, role, created_at, expires_at) VALUES (@id, @token_hash, @prefix, @name, @user_id, @role, @created_at, @expires_at)",
      ),
      byHash: db.prepare<[string], TokenRow>("SELECT * FROM api_tokens WHERE token_hash = ?"),
      byId: db.prepare<[string], TokenListRow>(
        "SELECT t.*, u.username FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?",
      ),
      list: db.prepare<[], TokenListRow>(
        "SELECT t.*, u.username FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.created_at, t.id",
      ),
      touch: db.prepare<[number, string]>("UPDATE api_tokens SET last_used_at = ? WHERE id = ?"),
      delete: db.prepare<[string]>("DELETE FROM api_tokens WHERE id = ?"),
    };
  }

  insert(row: Omit<TokenRow, "last_used_at">): void {
    this.s.insert.run(row);
  }
  byTokenHash(hash: string): TokenRow | undefined {
    return this.s.byHash.get(hash);
  }
  byId(id: string): TokenListRow | undefined {
    return this.s.byId.get(id);
  }
  list(): TokenListRow[] {
    return this.s.list.all();
  }
  touch(id: string, now: number): void {
    this.s.touch.run(now, id);
  }
  delete(id: string): boolean {
    return this.s.delete.run(id).changes > 0;
  }
}
