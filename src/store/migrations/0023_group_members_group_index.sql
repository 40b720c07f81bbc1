-- Lookups of a group's direct members by group alone (`WHERE group_id = $1`, or a join on
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
