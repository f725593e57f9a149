-- Public listeners and their routes (a route's spec, targets included, is one validated JSON document).
CREATE TABLE listeners (
  id                    TEXT PRIMARY KEY,
  name                  TEXT NOT NULL UNIQUE,
  bind_address          TEXT NOT NULL DEFAULT '',
  port                  INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
  protocol              TEXT NOT NULL CHECK (protocol IN ('http', 'https')),
  enabled               INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  accept_proxy_protocol INTEGER NOT NULL DEFAULT 0 CHECK (accept_proxy_protocol IN (0, 1)),
  tls_cert_pem          TEXT NOT NULL DEFAULT '',
  tls_key_pem           TEXT NOT NULL DEFAULT '',
  created_at            INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL
) STRICT;

CREATE TABLE routes (
  id          TEXT PRIMARY KEY,
  listener_id TEXT NOT NULL REFERENCES listeners(id) ON DELETE RESTRICT,
  name        TEXT NOT NULL DEFAULT '',
  priority    INTEGER NOT NULL DEFAULT 0,
  is_default  INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
  spec        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX routes_listener ON routes(listener_id);
CREATE UNIQUE INDEX routes_one_default ON routes(listener_id) WHERE is_default = 1;

-- Small facts about this database, e.g. whether first-start seeding has happened.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
