-- A held run that can never be approved any more (the directory moved on since its change set was
-- computed: a newer run or approval applied) is closed as `superseded` and its diff tables dropped,
-- instead of waiting for approval for ever.
ALTER TABLE dirsync.runs DROP CONSTRAINT IF EXISTS runs_status_check;
ALTER TABLE dirsync.runs ADD CONSTRAINT runs_status_check
  CHECK (status IN ('running', 'succeeded', 'failed', 'needs_approval', 'approved', 'rejected', 'superseded'));
