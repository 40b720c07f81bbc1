-- History of one user or group across runs (dirsync history, the user and group pages) looks
-- changes up by the object's external id. Membership rows are found through their member arrays,
-- which a history query scans only for the connector's membership rows.
CREATE INDEX run_changes_external_id_idx ON dirsync.run_changes (external_id);
