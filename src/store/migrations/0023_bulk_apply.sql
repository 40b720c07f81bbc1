-- Apply at scale: (1) an index for looking up a group's members by group, (2) set-based
-- references for the tables a first sync fills with a hundred thousand rows each.

-- (1) Lookups of a group's direct members by group alone (`WHERE group_id = $1`, or a join on
-- group_id: the deletion guard's per-group member count, the live edges of changed groups in diff,
-- a group's members in the API, the Crowd events of a renamed group) could use no index: both
-- indexes leading with group_id were partial (user members, group members), and a predicate on
-- group_id alone implies neither, so each such lookup read all of group_members (the guard's count
-- over ~5,000 changed groups took minutes at a million memberships).
--
-- The user-member unique index becomes a full one. Uniqueness is the same: NULLs are distinct in a
-- unique index, so group-member rows (user_id NULL) never conflict, exactly as when they were left
-- out; the index only gains the few group-member rows. No index is added, so inserts cost the same.
DROP INDEX dirsync.group_members_user_uq;
CREATE UNIQUE INDEX group_members_user_uq ON dirsync.group_members (group_id, user_id);

-- (2) Set-based references for the tables apply fills in bulk (as 0004 did for group_members). A
-- row-level foreign key checks, and key-share locks, the referenced row once per inserted row: a
-- first sync checked its directory 110,000 times (users, groups), its run 120,000 times (the
-- change log) and groups 27,000 times (the nesting closure). The same guarantees, once per
-- statement:
-- - an insert references only existing rows, which it locks FOR KEY SHARE (as a foreign key does,
--   so a concurrent delete of the directory or run waits for the inserting transaction);
-- - changing the reference of a row (nothing does) is checked the same way, row by row, and only
--   when the column is in the UPDATE's SET list;
-- - deleting a directory deletes its users and groups (and through their own triggers their
--   memberships and nesting closure), deleting a group its closure rows, deleting a run its change
--   log; TRUNCATE too.
ALTER TABLE dirsync.users DROP CONSTRAINT users_connector_fkey;
ALTER TABLE dirsync.groups DROP CONSTRAINT groups_connector_fkey;
ALTER TABLE dirsync.run_changes DROP CONSTRAINT run_changes_run_id_fkey;
ALTER TABLE dirsync.group_closure DROP CONSTRAINT group_closure_ancestor_id_fkey;
ALTER TABLE dirsync.group_closure DROP CONSTRAINT group_closure_descendant_id_fkey;

CREATE FUNCTION dirsync.check_connector_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing text;
BEGIN
  PERFORM 1 FROM dirsync.directories d WHERE d.connector IN (SELECT connector FROM new_rows) FOR KEY SHARE;
  SELECT n.connector INTO missing
    FROM (SELECT DISTINCT connector FROM new_rows) n
   WHERE NOT EXISTS (SELECT 1 FROM dirsync.directories d WHERE d.connector = n.connector)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '% row references directory %, which does not exist', TG_TABLE_NAME, missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER users_connector_insert AFTER INSERT ON dirsync.users
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dirsync.check_connector_refs();
CREATE TRIGGER groups_connector_insert AFTER INSERT ON dirsync.groups
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dirsync.check_connector_refs();

CREATE FUNCTION dirsync.check_connector_ref() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM dirsync.directories d WHERE d.connector = NEW.connector FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION '% row references directory %, which does not exist', TG_TABLE_NAME, NEW.connector
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER users_connector_update AFTER UPDATE OF connector ON dirsync.users
  FOR EACH ROW WHEN (OLD.connector IS DISTINCT FROM NEW.connector) EXECUTE FUNCTION dirsync.check_connector_ref();
CREATE TRIGGER groups_connector_update AFTER UPDATE OF connector ON dirsync.groups
  FOR EACH ROW WHEN (OLD.connector IS DISTINCT FROM NEW.connector) EXECUTE FUNCTION dirsync.check_connector_ref();

CREATE FUNCTION dirsync.directories_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM dirsync.users u USING old_directories o WHERE u.connector = o.connector;
  DELETE FROM dirsync.groups g USING old_directories o WHERE g.connector = o.connector;
  RETURN NULL;
END $$;
CREATE TRIGGER directories_cascade AFTER DELETE ON dirsync.directories
  REFERENCING OLD TABLE AS old_directories FOR EACH STATEMENT EXECUTE FUNCTION dirsync.directories_cascade();

-- DELETE, not TRUNCATE, in the TRUNCATE cascades: a table that the firing TRUNCATE also names
-- cannot be truncated again inside it (deleting from it, empty by then, costs nothing).
CREATE FUNCTION dirsync.directories_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM dirsync.users;
  DELETE FROM dirsync.groups;
  RETURN NULL;
END $$;
CREATE TRIGGER directories_truncate AFTER TRUNCATE ON dirsync.directories
  FOR EACH STATEMENT EXECUTE FUNCTION dirsync.directories_truncate();

CREATE FUNCTION dirsync.check_run_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing bigint;
BEGIN
  PERFORM 1 FROM dirsync.runs r WHERE r.id IN (SELECT run_id FROM new_changes) FOR KEY SHARE;
  SELECT n.run_id INTO missing
    FROM (SELECT DISTINCT run_id FROM new_changes) n
   WHERE NOT EXISTS (SELECT 1 FROM dirsync.runs r WHERE r.id = n.run_id)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'run_changes row references run %, which does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER run_changes_run_insert AFTER INSERT ON dirsync.run_changes
  REFERENCING NEW TABLE AS new_changes FOR EACH STATEMENT EXECUTE FUNCTION dirsync.check_run_refs();
CREATE TRIGGER run_changes_run_update AFTER UPDATE ON dirsync.run_changes
  REFERENCING NEW TABLE AS new_changes FOR EACH STATEMENT EXECUTE FUNCTION dirsync.check_run_refs();

CREATE FUNCTION dirsync.runs_cascade_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM dirsync.run_changes c USING old_runs o WHERE c.run_id = o.id;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_cascade_changes AFTER DELETE ON dirsync.runs
  REFERENCING OLD TABLE AS old_runs FOR EACH STATEMENT EXECUTE FUNCTION dirsync.runs_cascade_changes();

CREATE FUNCTION dirsync.runs_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM dirsync.run_changes;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_truncate AFTER TRUNCATE ON dirsync.runs
  FOR EACH STATEMENT EXECUTE FUNCTION dirsync.runs_truncate();

-- The nesting closure (written only by apply's rebuild, which holds the directory's apply lock).
CREATE FUNCTION dirsync.check_closure_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  PERFORM 1 FROM dirsync.groups g
   WHERE g.id IN (SELECT ancestor_id FROM new_closure UNION SELECT descendant_id FROM new_closure)
     FOR KEY SHARE;
  SELECT n.ancestor_id, n.descendant_id INTO bad
    FROM new_closure n
   WHERE NOT EXISTS (SELECT 1 FROM dirsync.groups g WHERE g.id = n.ancestor_id)
      OR NOT EXISTS (SELECT 1 FROM dirsync.groups g WHERE g.id = n.descendant_id)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'group_closure row (% contains %) references a missing group', bad.ancestor_id, bad.descendant_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER group_closure_refs_insert AFTER INSERT ON dirsync.group_closure
  REFERENCING NEW TABLE AS new_closure FOR EACH STATEMENT EXECUTE FUNCTION dirsync.check_closure_refs();
CREATE TRIGGER group_closure_refs_update AFTER UPDATE ON dirsync.group_closure
  REFERENCING NEW TABLE AS new_closure FOR EACH STATEMENT EXECUTE FUNCTION dirsync.check_closure_refs();

CREATE FUNCTION dirsync.groups_cascade_closure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM dirsync.group_closure c USING old_groups o WHERE c.ancestor_id = o.id;
  DELETE FROM dirsync.group_closure c USING old_groups o WHERE c.descendant_id = o.id;
  RETURN NULL;
END $$;
CREATE TRIGGER groups_cascade_closure AFTER DELETE ON dirsync.groups
  REFERENCING OLD TABLE AS old_groups FOR EACH STATEMENT EXECUTE FUNCTION dirsync.groups_cascade_closure();

CREATE FUNCTION dirsync.groups_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM dirsync.group_closure;
  DELETE FROM dirsync.group_members;
  RETURN NULL;
END $$;
CREATE TRIGGER groups_truncate AFTER TRUNCATE ON dirsync.groups
  FOR EACH STATEMENT EXECUTE FUNCTION dirsync.groups_truncate();
