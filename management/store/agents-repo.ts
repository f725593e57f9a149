import type { Db } from "./database.ts";

export interface AgentRow {
  id: string;
  name: string;
  /** JSON object of user labels. */
  labels: string;
  enabled: 0 | 1;
  require_mtls: 0 | 1;
  token_hash: string;
  created_at: number;
  updated_at: number;
  last_seen_at: number | null;
  last_remote_addr: string;
  reported_version: string;
  reported_hostname: string;
}

/**
 * Serials are stored as lower-case hex without leading zeros: X509Certificate.serialNumber and the
 * PKI's own hex spell the same number differently (a random serial may start with a 0 nibble).
 */
export function normalizeSerial(s: string): string {
  return s.toLowerCase().replace(/^0+(?=.)/, "");
}

export interface AgentCertRow {
  serial: string;
  agent_id: string;
  not_before: number;
  not_after: number;
  issued_at: number;
  revoked_at: number | null;
  revoke_reason: string;
}

/** Agents and their issued certificates: one aggregate. */
export class AgentsRepo {
  private readonly s;
  constructor(private readonly db: Db) {
    this.s = {
      all: db.prepare<[], AgentRow>("SELECT * FROM agents ORDER BY name"),
      byId: db.prepare<[string], AgentRow>("SELECT * FROM agents WHERE id = ?"),
      byName: db.prepare<[string], AgentRow>("SELECT * FROM agents WHERE name = ?"),
      insert: db.prepare(
        "INSERT INTO agents (id, name, labels, enabled, require_mtls, token_hash, created_at, updated_at) VALUES (@id, @name, @labels, @enabled, @require_mtls, @token_hash, @created_at, @updated_at)",
      ),
      update: db.prepare(
        "UPDATE agents SET name = @name, labels = @labels, enabled = @enabled, require_mtls = @require_mtls, updated_at = @updated_at WHERE id = @id",
      ),
      setToken: db.prepare<[string, number, string]>("UPDATE agents SET token_hash = ?, updated_at = ? WHERE id = ?"),
      seen: db.prepare(
        "UPDATE agents SET last_seen_at = @at, last_remote_addr = @remote, reported_version = @version, reported_hostname = @hostname WHERE id = @id",
      ),
      delete: db.prepare<[string]>("DELETE FROM agents WHERE id = ?"),
      insertCert: db.prepare(
        "INSERT INTO agent_certificates (serial, agent_id, not_before, not_after, issued_at) VALUES (@serial, @agent_id, @not_before, @not_after, @issued_at)",
      ),
      certBySerial: db.prepare<[string], AgentCertRow>("SELECT * FROM agent_certificates WHERE serial = ?"),
      revokeCerts: db.prepare<[number, string, string]>(
        "UPDATE agent_certificates SET revoked_at = ?, revoke_reason = ? WHERE agent_id = ? AND revoked_at IS NULL",
      ),
    };
  }

  list(): AgentRow[] {
    return this.s.all.all();
  }
  byId(id: string): AgentRow | undefined {
    return this.s.byId.get(id);
  }
  byName(name: string): AgentRow | undefined {
    return this.s.byName.get(name);
  }
  insert(row: Omit<AgentRow, "last_seen_at" | "last_remote_addr" | "reported_version" | "reported_hostname">): void {
    this.s.insert.run(row);
  }
  update(row: Pick<AgentRow, "id" | "name" | "labels" | "enabled" | "require_mtls" | "updated_at">): void {
    this.s.update.run(row);
  }
  setTokenHash(id: string, hash: string, now: number): void {
    this.s.setToken.run(hash, now, id);
  }
  recordSeen(id: string, at: number, remote: string, version: string, hostname: string): void {
    this.s.seen.run({ id, at, remote, version, hostname });
  }
  delete(id: string): boolean {
    return this.s.delete.run(id).changes > 0;
  }
  insertCertificate(row: Omit<AgentCertRow, "revoked_at" | "revoke_reason">): void {
    this.s.insertCert.run({ ...row, serial: normalizeSerial(row.serial) });
  }
  /** Any spelling of the serial (upper or lower case, with or without leading zeros) finds the row. */
  certificate(serial: string): AgentCertRow | undefined {
    return this.s.certBySerial.get(normalizeSerial(serial));
  }
  revokeCertificates(agentId: string, now: number, reason: string): number {
    return this.s.revokeCerts.run(now, reason, agentId).changes;
  }
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}
