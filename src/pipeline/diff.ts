/**
 * Diff: set-based SQL between what the directory should hold (check.ts) and what it holds. The
 * result is three diff tables that apply executes as they are, so an approved run applies exactly
 * the change set that was shown for approval.
 */
import type pg from 'pg';
import type { ConnectorConfig } from '../../config/schema.js';
import type { StageTables } from './stage.js';

export interface ChangeCounts {
  users: { create: number; update: number; deactivate: number; reactivate: number; delete: number };
  groups: { create: number; update: number; delete: number };
  memberships: { add: number; remove: number };
}

export interface DiffResult {
  counts: ChangeCounts;
  /** Users newly missing from the IdP (deactivated or deleted by this run). */
  userRemovals: number;
  groupRemovals: number;
  membershipRemovals: number;
  /** What the directory holds now, for percentage thresholds. */
  existing: { users: number; groups: number; memberships: number };
}

export function emptyCounts(): ChangeCounts {
  return {
    users: { create: 0, update: 0, deactivate: 0, reactivate: 0, delete: 0 },
    groups: { create: 0, update: 0, delete: 0 },
    memberships: { add: 0, remove: 0 },
  };
}

const userObj = (a: string, missing: string) => `jsonb_build_object(
  'username', ${a}.username, 'email', ${a}.email, 'displayName', ${a}.display_name,
  'givenName', ${a}.given_name, 'familyName', ${a}.family_name, 'active', ${a}.active,
  'attributes', ${a}.attributes, 'missing', ${missing})`;
const groupObj = (a: string) =>
  `jsonb_build_object('name', ${a}.name, 'description', ${a}.description, 'attributes', ${a}.attributes, 'local', ${a}.local)`;

/** `deleteAfter` in ms, or -1 for never. */
function graceMs(cfg: ConnectorConfig): number {
  return cfg.deletion.deleteAfter === 'never' ? -1 : cfg.deletion.deleteAfter;
}

export async function diffSnapshot(
  db: pg.PoolClient,
  t: StageTables,
  cfg: ConnectorConfig,
): Promise<DiffResult> {
  const c = cfg.name;
  // Users. A user missing from the IdP is deactivated and remembered as missing; it is deleted once
  // the grace period has passed (at once with deleteAfter: 0s, never with "never").
  await db.query(
    `CREATE UNLOGGED TABLE ${t.diffUsers} AS
     WITH live AS (SELECT * FROM dirsync.users WHERE connector = $1)
     SELECT 'create'::text AS op, NULL::bigint AS id, f.external_id, f.username, f.email, f.display_name,
            f.given_name, f.family_name, f.active, f.attributes, false AS missing, false AS removal,
            NULL::jsonb AS before, ${userObj('f', 'false')} AS after
       FROM ${t.finalUsers} f
      WHERE NOT EXISTS (SELECT 1 FROM live l WHERE l.external_id = f.external_id)
     UNION ALL
     SELECT CASE WHEN f.active AND (NOT l.active OR l.missing_since IS NOT NULL) THEN 'reactivate'
                 WHEN NOT f.active AND l.active THEN 'deactivate'
                 ELSE 'update' END,
            l.id, f.external_id, f.username, f.email, f.display_name, f.given_name, f.family_name,
            f.active, f.attributes, false, false,
            dirsync.jsonb_delta(${userObj('l', 'l.missing_since IS NOT NULL')}, ${userObj('f', 'false')}),
            dirsync.jsonb_delta(${userObj('f', 'false')}, ${userObj('l', 'l.missing_since IS NOT NULL')})
       FROM ${t.finalUsers} f JOIN live l ON l.external_id = f.external_id
      WHERE l.missing_since IS NOT NULL
         OR (l.username, l.email, l.display_name, l.given_name, l.family_name, l.active, l.attributes)
            IS DISTINCT FROM (f.username, f.email, f.display_name, f.given_name, f.family_name, f.active, f.attributes)
     UNION ALL
     SELECT CASE WHEN $2::bigint = 0 OR ($2::bigint > 0 AND l.missing_since <= now() - $2::bigint * interval '1 millisecond')
                 THEN 'delete' ELSE 'deactivate' END,
            l.id, l.external_id, l.username, l.email, l.display_name, l.given_name, l.family_name,
            false, l.attributes, true, l.missing_since IS NULL,
            ${userObj('l', 'l.missing_since IS NOT NULL')},
            CASE WHEN $2::bigint = 0 OR ($2::bigint > 0 AND l.missing_since <= now() - $2::bigint * interval '1 millisecond')
                 THEN NULL ELSE jsonb_build_object('active', false, 'missing', true) END
       FROM live l
      WHERE NOT EXISTS (SELECT 1 FROM ${t.finalUsers} f WHERE f.external_id = l.external_id)
        AND NOT EXISTS (SELECT 1 FROM ${t.heldUsers} h WHERE h.external_id = l.external_id)
        AND (l.missing_since IS NULL
             OR ($2::bigint >= 0 AND l.missing_since <= now() - $2::bigint * interval '1 millisecond'))`,
    [c, graceMs(cfg)],
  );

  // Groups: created, renamed/redescribed, or deleted when the IdP (or the config, for local
  // groups) no longer has them. Held groups stay as they are.
  await db.query(
    `CREATE UNLOGGED TABLE ${t.diffGroups} AS
     WITH live AS (SELECT * FROM dirsync.groups WHERE connector = $1)
     SELECT 'create'::text AS op, NULL::bigint AS id, f.external_id, f.name, f.description, f.attributes, f.local,
            NULL::jsonb AS before, ${groupObj('f')} AS after
       FROM ${t.finalGroups} f WHERE NOT EXISTS (SELECT 1 FROM live l WHERE l.external_id = f.external_id)
     UNION ALL
     SELECT 'update', l.id, f.external_id, f.name, f.description, f.attributes, f.local,
            dirsync.jsonb_delta(${groupObj('l')}, ${groupObj('f')}), dirsync.jsonb_delta(${groupObj('f')}, ${groupObj('l')})
       FROM ${t.finalGroups} f JOIN live l ON l.external_id = f.external_id
      WHERE (l.name, l.description, l.attributes, l.local) IS DISTINCT FROM (f.name, f.description, f.attributes, f.local)
     UNION ALL
     SELECT 'delete', l.id, l.external_id, l.name, l.description, l.attributes, l.local, ${groupObj('l')}, NULL
       FROM live l
      WHERE NOT EXISTS (SELECT 1 FROM ${t.finalGroups} f WHERE f.external_id = l.external_id)
        AND NOT EXISTS (SELECT 1 FROM ${t.heldGroups} h WHERE h.external_id = l.external_id)`,
    [c],
  );

  // Memberships: compared on external ids. Edges of held objects and held (cycle) edges are kept.
  await db.query(
    `CREATE UNLOGGED TABLE ${t.diffEdges} AS
     WITH live AS (
       SELECT m.group_id AS group_pk, coalesce(m.user_id, m.member_group_id) AS member_pk,
              g.external_id AS group_id, m.member_group_id IS NOT NULL AS member_is_group,
              coalesce(u.external_id, mg.external_id) AS member_id
         FROM dirsync.group_members m
         JOIN dirsync.groups g ON g.id = m.group_id AND g.connector = $1
         LEFT JOIN dirsync.users u ON u.id = m.user_id
         LEFT JOIN dirsync.groups mg ON mg.id = m.member_group_id
     )
     SELECT 'add'::text AS op, NULL::bigint AS group_pk, NULL::bigint AS member_pk, f.group_id, f.member_is_group, f.member_id
       FROM ${t.finalEdges} f
      WHERE NOT EXISTS (SELECT 1 FROM live l
                         WHERE l.group_id = f.group_id AND l.member_is_group = f.member_is_group AND l.member_id = f.member_id)
     UNION ALL
     SELECT 'remove', l.group_pk, l.member_pk, l.group_id, l.member_is_group, l.member_id
       FROM live l
      WHERE NOT EXISTS (SELECT 1 FROM ${t.finalEdges} f
                         WHERE f.group_id = l.group_id AND f.member_is_group = l.member_is_group AND f.member_id = l.member_id)
        AND NOT EXISTS (SELECT 1 FROM ${t.heldGroups} h WHERE h.external_id = l.group_id)
        AND NOT (l.member_is_group AND EXISTS (SELECT 1 FROM ${t.heldGroups} h WHERE h.external_id = l.member_id))
        AND NOT (NOT l.member_is_group AND EXISTS (SELECT 1 FROM ${t.heldUsers} h WHERE h.external_id = l.member_id))
        AND NOT EXISTS (SELECT 1 FROM ${t.heldEdges} h WHERE l.member_is_group AND h.group_id = l.group_id AND h.member_id = l.member_id)`,
    [c],
  );

  const { rows } = await db.query<{ object: string; op: string; n: string; removals: string }>(
    `SELECT 'users' AS object, op, count(*) AS n, count(*) FILTER (WHERE removal) AS removals FROM ${t.diffUsers} GROUP BY op
     UNION ALL SELECT 'groups', op, count(*), count(*) FILTER (WHERE op = 'delete') FROM ${t.diffGroups} GROUP BY op
     UNION ALL SELECT 'memberships', op, count(*), count(*) FILTER (WHERE op = 'remove') FROM ${t.diffEdges} GROUP BY op`,
  );
  const counts = emptyCounts();
  const removals = { users: 0, groups: 0, memberships: 0 };
  for (const r of rows) {
    (counts[r.object as keyof ChangeCounts] as Record<string, number>)[r.op] = Number(r.n);
    removals[r.object as keyof typeof removals] += Number(r.removals);
  }
  const { rows: ex } = await db.query<{ users: string; groups: string; memberships: string }>(
    `SELECT (SELECT count(*) FROM dirsync.users WHERE connector = $1 AND missing_since IS NULL) AS users,
            (SELECT count(*) FROM dirsync.groups WHERE connector = $1) AS groups,
            (SELECT count(*) FROM dirsync.group_members m JOIN dirsync.groups g ON g.id = m.group_id WHERE g.connector = $1) AS memberships`,
    [c],
  );
  const e = ex[0] as { users: string; groups: string; memberships: string };
  return {
    counts,
    userRemovals: removals.users,
    groupRemovals: removals.groups,
    membershipRemovals: removals.memberships,
    existing: { users: Number(e.users), groups: Number(e.groups), memberships: Number(e.memberships) },
  };
}
