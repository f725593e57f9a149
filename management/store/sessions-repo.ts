import type { Db } from "./database.ts";
import type { UserRow } from "./users-repo.ts";

export interface SessionRow {
  id: string;
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  last_seen_at: number;
  revoked_at: number | null;
  peer_ip: string;
  user_agent: string;
}

export type SessionWithUser = SessionRow & { user: UserRow };

export class SessionsRepo {
  private readonly s;
  constructor(db: Db) {
    this.s = {
      insert: db.prepare(
        "INSERT INTO sessions (id, token_hash, user_id, created_at, expires_at, last_seen_at, peer_ip, user_agent) VALUES (@id, @token_hash, @user_id, @created_at, @expires_at, @last_seen_at, @peer_ip, @user_agent)",
      ),
      byHash: db.prepare<[string], SessionRow>("SELECT * FROM sessions WHERE token_hash = ?"),
      touch: db.prepare<[number, string]>("UPDATE sessions SET last_seen_at = ? WHERE id = ?"),
      revoke: db.prepare<[number, string]>("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
      revokeUser: db.prepare<[number, string]>("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL"),
      revokeUserExcept: db.prepare<[number, string, string]>(
        "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND id <> ? AND revoked_at IS NULL",
      ),
      purge: db.prepare<[number, number]>("DELETE FROM sessions WHERE expires_at < ? OR (revoked_at IS NOT NULL AND revoked_at < ?)"),
    };
  }

  insert(row: Omit<SessionRow, "revoked_at">): void {
    this.s.insert.run(row);
  }
  byTokenHash(hash: string): SessionRow | undefined {
    return this.s.byHash.get(hash);
  }
  touch(id: string, now: number): void {
    this.s.touch.run(now, id);
  }
  revoke(id: string, now: number): boolean {
    return this.s.revoke.run(now, id).changes > 0;
  }
  /** Revokes every live session of a user, optionally keeping one; returns how many were revoked. */
  revokeAllForUser(userId: string, now: number, exceptSessionId?: string): number {
    const r = exceptSessionId ? this.s.revokeUserExcept.run(now, userId, exceptSessionId) : this.s.revokeUser.run(now, userId);
    return r.changes;
  }
  /** Drops expired sessions and ones revoked before `revokedBefore` (kept a while for forensics). */
  purge(now: number, revokedBefore: number): number {
    return this.s.purge.run(now, revokedBefore).changes;
  }
}
