-- The HTTP cache's rules (its settings are one proto JSON value in meta, key cache_settings), and
-- what the cache did for each request.
CREATE TABLE cache_rules (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  priority    INTEGER NOT NULL,
  -- CacheRuleSpec as proto JSON, validated before it is written.
  spec        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;

ALTER TABLE request_events ADD COLUMN cache_status TEXT NOT NULL DEFAULT '';
