-- Users the IdP no longer has (or the filters leave out) wait out their grace period with
-- missing_since set. An incremental run evaluated in scope (src/pipeline/scope.ts) still has to
-- delete those whose grace ran out, and the unchanged fast path asks whether any did: both look
-- them up through this index instead of reading every user.
CREATE INDEX users_missing_idx ON dirsync.users (connector, missing_since) WHERE missing_since IS NOT NULL;
