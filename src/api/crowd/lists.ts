/**
 * The SQL of every list resource (memberships, nesting, search), in Crowd's order (by name,
 * case-insensitively), filtered to what the application's directories resolve to.
 * `$1` is the directories; `$2` the id of the user or group asked about; further values follow.
 */
import { GROUP_COLUMNS, groupWins, inDirs, USER_COLUMNS, userOrder, userWins } from './store.js';

export type Relation =
  | 'user-groups-direct'
  | 'user-groups-nested'
  | 'group-users-direct'
  | 'group-users-nested'
  | 'group-children-direct'
  | 'group-children-nested'
  | 'group-parents-direct'
  | 'group-parents-nested';

/** Which entity a relation lists. */
export const LISTS: Record<Relation, 'user' | 'group'> = {
  'user-groups-direct': 'group',
  'user-groups-nested': 'group',
  'group-users-direct': 'user',
  'group-users-nested': 'user',
  'group-children-direct': 'group',
  'group-children-nested': 'group',
  'group-parents-direct': 'group',
  'group-parents-nested': 'group',
};

const GROUP_ORDER = ' ORDER BY lower(g.name), g.id';

/**
 * The rows of a relation; `nameParam` (e.g. `$3`) narrows it to one name (a membership check).
 */
export function relationSql(rel: Relation, dirs: readonly string[], nameParam: string | null): string {
  const uName = nameParam ? ` AND u.username_lower = lower(${nameParam})` : '';
  const gName = nameParam ? ` AND lower(g.name) = lower(${nameParam})` : '';
  const users = (from: string) =>
    `SELECT ${USER_COLUMNS} FROM dirsync.users u WHERE u.id IN (${from}) AND ${inDirs('u', dirs)} AND ${userWins('u', dirs)}${uName}${userOrder('u', dirs)}`;
  const groups = (from: string) =>
    `SELECT ${GROUP_COLUMNS} FROM dirsync.groups g WHERE g.id IN (${from}) AND ${inDirs('g', dirs)} AND ${groupWins('g', dirs)}${gName}${GROUP_ORDER}`;
  switch (rel) {
    case 'user-groups-direct':
      return groups('SELECT m.group_id FROM dirsync.group_members m WHERE m.user_id = $2');
    case 'user-groups-nested':
      return groups(
        `SELECT c.ancestor_id FROM dirsync.group_members m
           JOIN dirsync.group_closure c ON c.descendant_id = m.group_id WHERE m.user_id = $2`,
      );
    case 'group-users-direct':
      return users(
        'SELECT m.user_id FROM dirsync.group_members m WHERE m.group_id = $2 AND m.user_id IS NOT NULL',
      );
    case 'group-users-nested':
      return users(
        `SELECT m.user_id FROM dirsync.group_closure c
           JOIN dirsync.group_members m ON m.group_id = c.descendant_id
          WHERE c.ancestor_id = $2 AND m.user_id IS NOT NULL`,
      );
    case 'group-children-direct':
      return groups(
        'SELECT m.member_group_id FROM dirsync.group_members m WHERE m.group_id = $2 AND m.member_group_id IS NOT NULL',
      );
    case 'group-children-nested':
      return groups(
        'SELECT c.descendant_id FROM dirsync.group_closure c WHERE c.ancestor_id = $2 AND c.descendant_id <> $2',
      );
    case 'group-parents-direct':
      return groups('SELECT m.group_id FROM dirsync.group_members m WHERE m.member_group_id = $2');
    case 'group-parents-nested':
      return groups(
        'SELECT c.ancestor_id FROM dirsync.group_closure c WHERE c.descendant_id = $2 AND c.ancestor_id <> $2',
      );
  }
}

/** Search: every resolved user (or group) matching `where` (values from `$2` on). */
export function searchSql(entity: 'user' | 'group', dirs: readonly string[], where: string): string {
  if (entity === 'user') {
    return `SELECT ${USER_COLUMNS} FROM dirsync.users u
             WHERE ${inDirs('u', dirs)} AND ${userWins('u', dirs)} AND (${where})${userOrder('u', dirs)}`;
  }
  return `SELECT ${GROUP_COLUMNS} FROM dirsync.groups g
           WHERE ${inDirs('g', dirs)} AND ${groupWins('g', dirs)} AND (${where})${GROUP_ORDER}`;
}

/**
 * The membership document: each resolved group with its direct user and group members' names.
 * Per group, the members come from the primary-key and partial indexes of group_members. The
 * names come as JSON arrays: node-postgres parses those with JSON.parse, where a text[] goes
 * through a JavaScript array parser that cost a second of CPU per million memberships.
 */
export function membershipSql(dirs: readonly string[]): string {
  return `SELECT g.name,
            (SELECT coalesce(json_agg(u.username ORDER BY u.username_lower), '[]')
               FROM dirsync.group_members m JOIN dirsync.users u ON u.id = m.user_id
              WHERE m.group_id = g.id AND m.user_id IS NOT NULL AND ${userWins('u', dirs)}) AS users,
            (SELECT coalesce(json_agg(c.name ORDER BY lower(c.name)), '[]')
               FROM dirsync.group_members m JOIN dirsync.groups c ON c.id = m.member_group_id
              WHERE m.group_id = g.id AND m.member_group_id IS NOT NULL AND ${groupWins('c', dirs)}) AS groups
       FROM dirsync.groups g
      WHERE ${inDirs('g', dirs)} AND ${groupWins('g', dirs)}${GROUP_ORDER}`;
}
