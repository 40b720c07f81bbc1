-- Bulk-friendly integrity for membership edges.
--
-- Row-level foreign keys check (and key-share lock) the referenced row once per inserted edge: a
-- first sync of a million memberships spent most of its time there. The same guarantees are kept
-- set-based: one anti-join per statement for inserted edges, one delete per statement for cascades.
-- Every writer of these tables is the apply transaction, which holds the connector's apply lock, so
-- the referenced rows cannot vanish concurrently.
ALTER TABLE dirsync.group_members DROP CONSTRAINT group_members_group_id_fkey;
ALTER TABLE dirsync.group_members DROP CONSTRAINT group_members_user_id_fkey;
ALTER TABLE dirsync.group_members DROP CONSTRAINT group_members_member_group_id_fkey;

CREATE FUNCTION dirsync.group_members_check_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  SELECT n.group_id, n.user_id, n.member_group_id INTO bad
    FROM new_edges n
   WHERE NOT EXISTS (SELECT 1 FROM dirsync.groups g WHERE g.id = n.group_id)
      OR (n.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dirsync.users u WHERE u.id = n.user_id))
      OR (n.member_group_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dirsync.groups g WHERE g.id = n.member_group_id))
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'group_members row (group %, user %, group member %) references a missing user or group',
      bad.group_id, bad.user_id, bad.member_group_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER group_members_refs_insert AFTER INSERT ON dirsync.group_members
  REFERENCING NEW TABLE AS new_edges FOR EACH STATEMENT EXECUTE FUNCTION dirsync.group_members_check_refs();
CREATE TRIGGER group_members_refs_update AFTER UPDATE ON dirsync.group_members
  REFERENCING NEW TABLE AS new_edges FOR EACH STATEMENT EXECUTE FUNCTION dirsync.group_members_check_refs();

CREATE FUNCTION dirsync.users_cascade_edges() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM dirsync.group_members m USING old_users o WHERE m.user_id = o.id;
  RETURN NULL;
END $$;
CREATE TRIGGER users_cascade_edges AFTER DELETE ON dirsync.users
  REFERENCING OLD TABLE AS old_users FOR EACH STATEMENT EXECUTE FUNCTION dirsync.users_cascade_edges();

CREATE FUNCTION dirsync.groups_cascade_edges() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM dirsync.group_members m USING old_groups o WHERE m.group_id = o.id;
  DELETE FROM dirsync.group_members m USING old_groups o WHERE m.member_group_id = o.id;
  RETURN NULL;
END $$;
CREATE TRIGGER groups_cascade_edges AFTER DELETE ON dirsync.groups
  REFERENCING OLD TABLE AS old_groups FOR EACH STATEMENT EXECUTE FUNCTION dirsync.groups_cascade_edges();

-- Membership changes are recorded per group and operation, with the members as arrays: a first
-- sync of a million edges writes ten thousand change rows, not a million, and the log still names
-- every member.
ALTER TABLE dirsync.run_changes ADD COLUMN member_ids text[];
ALTER TABLE dirsync.run_changes ADD COLUMN member_labels text[];
ALTER TABLE dirsync.run_changes DROP COLUMN member_external_id;
ALTER TABLE dirsync.run_changes DROP COLUMN member_label;
COMMENT ON COLUMN dirsync.run_changes.member_ids IS
  'membership changes: external ids of the members added to or removed from the group (member_type says users or groups)';
