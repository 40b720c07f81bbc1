-- Last access of each Crowd application (crowd.applications in the config), for the dashboard.
-- Written at most once a minute per application by the Crowd API, never with any secret.
CREATE TABLE dirsync.crowd_access (
  application text PRIMARY KEY,
  last_access_at timestamptz NOT NULL,
  last_address text,
  requests bigint NOT NULL DEFAULT 0
);

-- The event resource (incremental sync of the applications) reads, per connector, the applied runs
-- after a position in finish order.
CREATE INDEX runs_applied_idx ON dirsync.runs (connector, finished_at, id)
  WHERE status IN ('succeeded', 'approved') AND NOT dry_run;
