-- The change log (run_changes) is kept for changeLog.retention (see config/schema.ts), then pruned
-- run by run. A pruned run keeps its row (status, counts, figures): only its change detail goes, and
-- changes_pruned_at says when, so history shows "detail pruned" instead of "nothing changed", and a
-- Crowd event token that needs a pruned run expires instead of missing its changes.
ALTER TABLE dirsync.runs ADD COLUMN changes_pruned_at timestamptz;

-- The pruner's look-up: finished runs whose detail is still there, oldest first.
CREATE INDEX runs_unpruned_idx ON dirsync.runs (finished_at, id) WHERE changes_pruned_at IS NULL;
