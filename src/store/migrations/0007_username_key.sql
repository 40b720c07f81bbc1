-- The key and TR39 skeleton usernames are compared by (src/pipeline/username.ts): full Unicode case
-- folding, default-ignorables removed, trimmed. Computed in JS (Postgres 15 has no case folding),
-- stored here so both sides of a comparison use the same function. Rows written before this
-- migration get theirs at their connector's next check (NULL until then).
ALTER TABLE dirsync.users ADD COLUMN username_key text;
ALTER TABLE dirsync.users ADD COLUMN username_skeleton text;
CREATE INDEX users_username_key_idx ON dirsync.users (connector, username_key);
CREATE INDEX users_username_skeleton_idx ON dirsync.users (connector, username_skeleton);
