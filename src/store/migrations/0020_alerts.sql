-- Alerts. alert_state remembers, per connector and condition, whether it is firing, so each
-- transition (fire, recover) is sent once however many workers evaluate it. alert_outbox holds
-- what is to be sent, per receiver, until it is delivered or given up: a slow or dead receiver is
-- retried with backoff from here and never delays a sync.
CREATE TABLE dirsync.alert_state (
  connector text NOT NULL,
  -- failing | stale | held
  condition text NOT NULL,
  firing boolean NOT NULL DEFAULT false,
  -- What fired it: the held run's id, the last failed run's id, ...
  ref text,
  changed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connector, condition)
);

CREATE TABLE dirsync.alert_outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- webhook:<index> | email
  channel text NOT NULL,
  event jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  next_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  failed_at timestamptz,
  last_error text
);
CREATE INDEX alert_outbox_due_idx ON dirsync.alert_outbox (next_at) WHERE sent_at IS NULL AND failed_at IS NULL;
