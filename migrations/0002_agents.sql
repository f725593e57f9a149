-- Agents (remote hosts that dial in) and the client certificates issued to them.
CREATE TABLE agents (
  id                TEXT PRIMARY KEY,
  name              TEXT NOT NULL UNIQUE,
  labels            TEXT NOT NULL DEFAULT '{}',
  enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  require_mtls      INTEGER NOT NULL DEFAULT 0 CHECK (require_mtls IN (0, 1)),
  token_hash        TEXT NOT NULL UNIQUE,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  last_seen_at      INTEGER,
  last_remote_addr  TEXT NOT NULL DEFAULT '',
  reported_version  TEXT NOT NULL DEFAULT '',
  reported_hostname TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE agent_certificates (
  serial        TEXT PRIMARY KEY,
  agent_id      TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  not_before    INTEGER NOT NULL,
  not_after     INTEGER NOT NULL,
  issued_at     INTEGER NOT NULL,
  revoked_at    INTEGER,
  revoke_reason TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX agent_certificates_agent ON agent_certificates(agent_id);
