-- Which pipeline stage answered each request, whether it was an upgrade, and each stage's time
-- (JSON object: stage name → milliseconds), DESIGN.md §5 stage 11.
ALTER TABLE request_events ADD COLUMN answered_by TEXT NOT NULL DEFAULT '';
ALTER TABLE request_events ADD COLUMN upgrade INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_events ADD COLUMN stage_timings TEXT NOT NULL DEFAULT '{}';
