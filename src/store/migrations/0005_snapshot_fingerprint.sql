-- The unchanged-snapshot fast path: a run whose snapshot (and relevant config) is byte-for-byte the
-- one the last apply came from, against a directory nobody has changed since, has nothing to do.
ALTER TABLE dirsync.directories ADD COLUMN snapshot_fingerprint text;
-- The run whose apply stored the fingerprint, and the directory version that apply produced.
ALTER TABLE dirsync.directories ADD COLUMN fingerprint_run_id bigint;
ALTER TABLE dirsync.directories ADD COLUMN fingerprint_version bigint;
