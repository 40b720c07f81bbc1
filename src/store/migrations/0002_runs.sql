-- Run history and the exact change log of every run.
CREATE TABLE dirsync.runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  connector text NOT NULL,
  kind text NOT NULL,
  -- cli, schedule, manual (sync now), approve
  trigger text NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'needs_approval', 'approved', 'rejected')),
  phase text NOT NULL DEFAULT 'starting',
  dry_run boolean NOT NULL DEFAULT false,
  full_resync boolean NOT NULL DEFAULT false,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  -- Milliseconds per phase: {"fetch": 1234, "diff": 56, ...}
  phase_ms jsonb NOT NULL DEFAULT '{}',
  -- What the snapshot held: {"users": n, "groups": n, "edges": n, "problems": n, "filtered_users": n}
  snapshot jsonb NOT NULL DEFAULT '{}',
  -- Changes per object and operation: {"users": {"create": n, ...}, "groups": {...}, "memberships": {...}}
  counts jsonb NOT NULL DEFAULT '{}',
  -- Live progress while running: {"phase": "...", "done": n, "total": n}
  progress jsonb,
  requests integer NOT NULL DEFAULT 0,
  throttled integer NOT NULL DEFAULT 0,
  -- Why the deletion guard held the run: [{"kind": "users", "removals": n, "existing": n, "limit": "..."}]
  guard jsonb,
  -- Directory version the diff was computed against (approval refuses if it moved).
  base_version bigint,
  error_code text,
  error_message text,
  job_id text,
  attempt integer,
  worker text,
  resolved_at timestamptz,
  resolved_by text
);
CREATE INDEX runs_connector_idx ON dirsync.runs (connector, id DESC);
CREATE INDEX runs_status_idx ON dirsync.runs (status) WHERE status IN ('running', 'needs_approval');

CREATE TABLE dirsync.run_changes (
  run_id bigint NOT NULL REFERENCES dirsync.runs (id) ON DELETE CASCADE,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  object_type text NOT NULL CHECK (object_type IN ('user', 'group', 'membership')),
  operation text NOT NULL CHECK (operation IN ('create', 'update', 'deactivate', 'reactivate', 'delete', 'add', 'remove')),
  -- The user's or group's external id; for a membership, the group's.
  external_id text NOT NULL,
  -- Username or group name, for people reading the log.
  label text,
  member_type text CHECK (member_type IN ('user', 'group')),
  member_external_id text,
  member_label text,
  before jsonb,
  after jsonb,
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX run_changes_kind_idx ON dirsync.run_changes (run_id, object_type, operation);

-- Records that were reported and held (or skipped) instead of applied.
CREATE TABLE dirsync.run_problems (
  run_id bigint NOT NULL REFERENCES dirsync.runs (id) ON DELETE CASCADE,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  object_type text NOT NULL,
  external_id text,
  reason text NOT NULL,
  -- held: the existing object is kept as it is; skipped: nothing existed, nothing is created.
  action text NOT NULL CHECK (action IN ('held', 'skipped')),
  sample jsonb,
  PRIMARY KEY (run_id, seq)
);
