-- History of one user or group across runs (dirsync history, the user and group pages) looks
-- changes up by the object's external id. Membership rows are found through their member arrays,
-- which a history query scans only for the connector's membership rows.
CREATE INDEX run_changes_external_id_idx ON dirsync.run_changes (external_id);

-- The directory's size after each run (users, active users, groups), for the size-over-time chart:
-- counted when the run finishes, so it is what applications saw at that moment.
ALTER TABLE dirsync.runs ADD COLUMN figures jsonb;
