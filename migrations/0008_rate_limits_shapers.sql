-- Policies II: rate-limit rules and traffic shapers.
CREATE TABLE rate_limit_rules (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  priority    INTEGER NOT NULL,
  -- RateLimitRuleSpec as proto JSON, validated before it is written.
  spec        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE shaper_rules (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  priority    INTEGER NOT NULL,
  -- ShaperRuleSpec as proto JSON, validated before it is written.
  spec        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;

-- The rate-limit rules that counted a request (comma-separated ids), whether one denied it, and
-- the shaper that paced it with the bytes that waited in each direction.
ALTER TABLE request_events ADD COLUMN rate_limit_rule_ids TEXT NOT NULL DEFAULT '';
ALTER TABLE request_events ADD COLUMN limited INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_events ADD COLUMN shaper_rule_id TEXT NOT NULL DEFAULT '';
ALTER TABLE request_events ADD COLUMN shaped_bytes_in INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_events ADD COLUMN shaped_bytes_out INTEGER NOT NULL DEFAULT 0;
