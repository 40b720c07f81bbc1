-- How a run read the IdP, and why: full (first run, expired cursor, config change, requested,
-- reconcile due, no feed), incremental (a change feed since the saved cursor) or reevaluate (the
-- mirror again, after a change of filters or transforms; no IdP request).
ALTER TABLE dirsync.runs ADD COLUMN mode text CHECK (mode IN ('full', 'incremental', 'reevaluate'));
ALTER TABLE dirsync.runs ADD COLUMN mode_reason text;
-- What a held run's approval must advance together with its change set: the cursor the read
-- ended at, the staged digest, and the read fingerprint (the mirror is in the run's own tables).
ALTER TABLE dirsync.runs ADD COLUMN next_cursor text;
ALTER TABLE dirsync.runs ADD COLUMN staged_digest text;
ALTER TABLE dirsync.runs ADD COLUMN read_fingerprint text;
-- What approval does with the mirror: adopt the run's staged one, patch with its delta, or keep it.
ALTER TABLE dirsync.runs ADD COLUMN mirror_advance text CHECK (mirror_advance IN ('adopt', 'patch', 'keep'));
