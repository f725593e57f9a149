-- Public TLS (DESIGN.md §6): the certificates each HTTPS listener serves by SNI, the ACME accounts
-- that issue some of them, and the DNS credentials DNS-01 challenges use. Private keys, account keys,
-- EAB keys and DNS secrets are sealed at rest (store/secret-columns.ts).
CREATE TABLE acme_accounts (
  id             TEXT PRIMARY KEY,
  directory_url  TEXT NOT NULL,
  email          TEXT NOT NULL,
  key_pem        TEXT NOT NULL,
  account_url    TEXT NOT NULL,
  eab_key_id     TEXT NOT NULL DEFAULT '',
  created_at     INTEGER NOT NULL,
  UNIQUE (directory_url, email)
) STRICT;

CREATE TABLE dns_credentials (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  provider    TEXT NOT NULL,
  -- Provider settings as a JSON object of strings (not secret).
  settings    TEXT NOT NULL,
  secret      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE tls_certificates (
  id                 TEXT PRIMARY KEY,
  listener_id        TEXT NOT NULL REFERENCES listeners(id) ON DELETE CASCADE,
  source             TEXT NOT NULL CHECK (source IN ('upload', 'files', 'self_signed', 'acme')),
  -- JSON array of the DNS names (and *.wildcards) it serves.
  names              TEXT NOT NULL,
  -- The chain served (leaf first) and its key; empty until an ACME certificate is first issued.
  cert_pem           TEXT NOT NULL DEFAULT '',
  key_pem            TEXT NOT NULL DEFAULT '',
  cert_file          TEXT NOT NULL DEFAULT '',
  key_file           TEXT NOT NULL DEFAULT '',
  acme_account_id    TEXT REFERENCES acme_accounts(id) ON DELETE RESTRICT,
  challenge          TEXT NOT NULL DEFAULT '',
  dns_credential_id  TEXT REFERENCES dns_credentials(id) ON DELETE RESTRICT,
  status             TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'renewing', 'error')),
  last_error         TEXT NOT NULL DEFAULT '',
  failures           INTEGER NOT NULL DEFAULT 0,
  -- ms since the epoch; 0 = none.
  not_before         INTEGER NOT NULL DEFAULT 0,
  not_after          INTEGER NOT NULL DEFAULT 0,
  next_renewal_at    INTEGER NOT NULL DEFAULT 0,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL
) STRICT;

CREATE INDEX tls_certificates_listener ON tls_certificates (listener_id);

-- Per HTTPS listener: the lowest TLS version it accepts ('1.2' or '1.3').
ALTER TABLE listeners ADD COLUMN tls_min_version TEXT NOT NULL DEFAULT '1.2';
