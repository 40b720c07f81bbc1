-- The connector space: per connector, the IdP's records exactly as the connector mapped them,
-- before filters and transforms. A full run stages a new mirror and the apply transaction adopts
-- it (ALTER TABLE ... SET SCHEMA: no copy); an incremental run patches the current one in place.
-- Mirror tables are named after the run that staged them: dirsync_mirror.r<run>_mo (objects) and
-- r<run>_me (direct edges); directories.mirror_run_id says which ones are current.
CREATE SCHEMA IF NOT EXISTS dirsync_mirror;

-- The run whose staged mirror is current (NULL: no mirror yet, the next run reads in full).
ALTER TABLE dirsync.directories ADD COLUMN mirror_run_id bigint;
-- Order-independent digest of the staged (transformed) snapshot the last apply came from, so an
-- empty change feed can take the unchanged fast path without deriving the snapshot again.
ALTER TABLE dirsync.directories ADD COLUMN staged_digest text;
-- Hash of the config that decides what a read returns (IdP settings, pushed-down filters): when it
-- changes, the mirror no longer matches what the IdP would return and the next run reads in full.
ALTER TABLE dirsync.directories ADD COLUMN read_fingerprint text;
-- When the mirror last came from a full read (the reconcile schedule counts from here).
ALTER TABLE dirsync.directories ADD COLUMN last_full_at timestamptz;
