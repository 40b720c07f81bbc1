-- The schema of per-run staging tables, created once here: created on demand by each run, two
-- workers starting their first runs at once race on CREATE SCHEMA IF NOT EXISTS.
CREATE SCHEMA IF NOT EXISTS dirsync_stage;
