-- The synchronized directory: what applications read. Every connector is its own namespace.
CREATE SCHEMA IF NOT EXISTS dirsync;

CREATE TABLE dirsync.directories (
  connector text PRIMARY KEY,
  kind text NOT NULL,
  -- Bumped by every apply; a held run remembers the version it was computed against.
  version bigint NOT NULL DEFAULT 0,
  -- Connector state for incremental sync (e.g. delta links), written in the apply transaction.
  cursor jsonb,
  last_success_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dirsync.users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  connector text NOT NULL REFERENCES dirsync.directories (connector) ON DELETE CASCADE,
  external_id text NOT NULL,
  username text NOT NULL,
  username_lower text GENERATED ALWAYS AS (lower(username)) STORED,
  email text,
  display_name text,
  given_name text,
  family_name text,
  active boolean NOT NULL,
  attributes jsonb NOT NULL DEFAULT '{}',
  -- When the IdP stopped returning this user; the user is deleted once the grace period ends.
  missing_since timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deactivated_at timestamptz,
  CONSTRAINT users_external_id_unique UNIQUE (connector, external_id),
  -- Deferrable so one apply can swap two usernames.
  CONSTRAINT users_username_unique UNIQUE (connector, username_lower) DEFERRABLE INITIALLY IMMEDIATE
);

CREATE TABLE dirsync.groups (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  connector text NOT NULL REFERENCES dirsync.directories (connector) ON DELETE CASCADE,
  external_id text NOT NULL,
  name text NOT NULL,
  description text,
  -- Local groups come from config (every synced user joins them), not from the IdP.
  local boolean NOT NULL DEFAULT false,
  attributes jsonb NOT NULL DEFAULT '{}',
  -- md5 over the sorted direct member keys, so a re-sync can skip groups whose members did not change.
  members_digest text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT groups_external_id_unique UNIQUE (connector, external_id)
);
CREATE INDEX groups_name_idx ON dirsync.groups (connector, lower(name));

-- Direct edges. A member is a user or a group (nested groups).
CREATE TABLE dirsync.group_members (
  group_id bigint NOT NULL REFERENCES dirsync.groups (id) ON DELETE CASCADE,
  user_id bigint REFERENCES dirsync.users (id) ON DELETE CASCADE,
  member_group_id bigint REFERENCES dirsync.groups (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT group_members_one_member CHECK ((user_id IS NULL) <> (member_group_id IS NULL))
);
CREATE UNIQUE INDEX group_members_user_uq ON dirsync.group_members (group_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX group_members_group_uq ON dirsync.group_members (group_id, member_group_id) WHERE member_group_id IS NOT NULL;
CREATE INDEX group_members_user_idx ON dirsync.group_members (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX group_members_member_group_idx ON dirsync.group_members (member_group_id) WHERE member_group_id IS NOT NULL;

-- Reflexive-transitive closure of group nesting (ancestor contains descendant), rebuilt in the
-- apply transaction whenever nesting changes. Small (groups x depth), so effective membership is a
-- plain join that the planner can filter by user or group.
CREATE TABLE dirsync.group_closure (
  connector text NOT NULL,
  ancestor_id bigint NOT NULL REFERENCES dirsync.groups (id) ON DELETE CASCADE,
  descendant_id bigint NOT NULL REFERENCES dirsync.groups (id) ON DELETE CASCADE,
  depth int NOT NULL,
  PRIMARY KEY (descendant_id, ancestor_id)
);
CREATE INDEX group_closure_ancestor_idx ON dirsync.group_closure (ancestor_id);

-- Every user's transitive membership: a user is in a group when it is a direct member of that group
-- or of any group nested in it (at any depth). Cycle-safe because the closure is.
CREATE VIEW dirsync.effective_group_members AS
SELECT DISTINCT g.connector, c.ancestor_id AS group_id, m.user_id
FROM dirsync.group_members m
JOIN dirsync.group_closure c ON c.descendant_id = m.group_id
JOIN dirsync.groups g ON g.id = c.ancestor_id
WHERE m.user_id IS NOT NULL;

-- Convenience views with external ids and names, for applications and the dashboard.
CREATE VIEW dirsync.user_memberships AS
SELECT g.connector, g.id AS group_id, g.external_id AS group_external_id, g.name AS group_name,
       u.id AS user_id, u.external_id AS user_external_id, u.username
FROM dirsync.group_members m
JOIN dirsync.groups g ON g.id = m.group_id
JOIN dirsync.users u ON u.id = m.user_id;

CREATE VIEW dirsync.group_nesting AS
SELECT p.connector, p.id AS parent_id, p.external_id AS parent_external_id, p.name AS parent_name,
       c.id AS child_id, c.external_id AS child_external_id, c.name AS child_name
FROM dirsync.group_members m
JOIN dirsync.groups p ON p.id = m.group_id
JOIN dirsync.groups c ON c.id = m.member_group_id;
