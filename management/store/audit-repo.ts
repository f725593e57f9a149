import type { Db } from "./database.ts";

export interface AuditEntry {
  at: number;
  actor_kind: "user" | "token" | "agent" | "anonymous" | "cli" | "system";
  actor_id: string;
  actor_name: string;
  method: string;
  target_id: string;
  /** "ok" or the error code. */
  outcome: string;
  peer_ip: string;
  detail: string;
}

export type AuditRow = AuditEntry & { id: number };

export class AuditRepo {
  private readonly s;
  constructor(db: Db) {
    this.s = {
      insert: db.prepare(
        "INSERT INTO audit_log (at, actor_kind, actor_id, actor_name, method, target_id, outcome, peer_ip, detail) VALUES (@at, @actor_kind, @actor_id, @actor_name, @method, @target_id, @outcome, @peer_ip, @detail)",
      ),
      recent: db.prepare<[number], AuditRow>("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?"),
    };
  }

  insert(e: AuditEntry): void {
    this.s.insert.run(e);
  }
  recent(limit: number): AuditRow[] {
    return this.s.recent.all(limit);
  }
}
