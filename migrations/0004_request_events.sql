-- One row per public request, written in batches; pruned by age and by row count.
CREATE TABLE request_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  request_id  TEXT NOT NULL,
  listener_id TEXT NOT NULL DEFAULT '',
  route_id    TEXT NOT NULL DEFAULT '',
  target_id   TEXT NOT NULL DEFAULT '',
  agent_id    TEXT NOT NULL DEFAULT '',
  method      TEXT NOT NULL DEFAULT '',
  host        TEXT NOT NULL DEFAULT '',
  path        TEXT NOT NULL DEFAULT '',
  status      INTEGER NOT NULL,
  bytes_in    INTEGER NOT NULL DEFAULT 0,
  bytes_out   INTEGER NOT NULL DEFAULT 0,
  duration_ms REAL NOT NULL DEFAULT 0,
  error_kind  TEXT NOT NULL DEFAULT '',
  client_ip   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX request_events_at ON request_events(at);
