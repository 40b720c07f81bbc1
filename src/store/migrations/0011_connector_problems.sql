-- Problems a worker found with a connector's configuration at start (a missing env var or secret
-- file, a schedule the queue refused). The worker runs the other connectors; the API and dashboard
-- show these on the connector. One row per connector, replaced at every worker start.
CREATE TABLE dirsync.connector_problems (
  connector text PRIMARY KEY,
  -- [{"path": "connectors[2].auth.token", "reason": "environment variable X is not set"}]
  problems jsonb NOT NULL,
  reported_by text,
  reported_at timestamptz NOT NULL DEFAULT now()
);
