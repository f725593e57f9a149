-- Policies I: WAF rules and the response templates their answers use.
CREATE TABLE templates (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  kind        TEXT NOT NULL,
  -- TemplateSpec as proto JSON, validated before it is written.
  spec        TEXT NOT NULL,
  built_in    INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE waf_rules (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  priority    INTEGER NOT NULL,
  -- WafRuleSpec as proto JSON, validated before it is written.
  spec        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;

-- Which policy rule decided a request, and what it did.
ALTER TABLE request_events ADD COLUMN rule_id TEXT NOT NULL DEFAULT '';
ALTER TABLE request_events ADD COLUMN rule_action TEXT NOT NULL DEFAULT '';
