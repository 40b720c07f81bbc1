/**
 * Diff: set-based SQL between what the directory should hold (check.ts) and what it holds. The
 * result is three diff tables that apply executes as they are, so an approved run applies exactly
 * the change set that was shown for approval.
 */
import type pg from 'pg';
import type { ConnectorConfig } from '../../config/schema.js';
import type { Scope } from './scope.js';
import type { StageTables } from './stage.js';

export interface ChangeCounts {
  users: { create: number; update: number; deactivate: number; reactivate: number; delete: number };
  groups: { create: number; update: number; delete: number };
  memberships: { add: number; remove: number };
}

/** Records of one object type the connector could not read (no usable id, wrongly typed fields). */
export interface Unreadable {
  records: number;
  /** One of them, for the guard's reason: "id: reason" (or "(no id): reason"). */
  example: string;
}

/** A group that loses a share of its direct members in this run. */
export interface GroupLoss {
  group: string;
  name: string;
  removed: number;
  /** Direct members (users and groups) the group has now. */
  members: number;
}

export interface DiffResult {
  counts: ChangeCounts;
  /**
   * Users this run takes away: newly missing from the IdP (deactivated or deleted), and users the
   * IdP now says are inactive (active → inactive for any reason: disabled, suspended, ...).
   */
  userRemovals: number;
  /**
   * Of `userRemovals`, those of users who were already inactive (a disabled account that leaves
   * the IdP). The users limit is a share of the users a run could take away: the active ones, and
   * the inactive ones it does remove (see guard.ts).
   */
  inactiveUserRemovals: number;
  groupRemovals: number;
  membershipRemovals: number;
  /** What the directory holds now: users not missing, of them the active ones, groups, memberships. */
  existing: { users: number; activeUsers: number; groups: number; memberships: number };
  /** Users not missing, and active users, once this diff applies (recorded for the next run in scope). */
  usersAfter: number;
  activeUsersAfter: number;
  /**
   * Memberships once this diff applies. Not just `existing + add - remove`: a deleted group or
   * user takes along, by cascade, edges the diff keeps (a held cycle edge, a held group's edge).
   */
  membershipsAfter: number;
  /**
   * Object types of which the snapshot has unreadable records: the snapshot may lack objects of
   * that type that the IdP has, so absence proves nothing (see guard.ts).
   */
  unreadable: Partial<Record<'users' | 'groups' | 'memberships', Unreadable>>;
  /** Groups losing members, largest share first (at most 20; see guard.ts for the limits). */
  groupLosses: GroupLoss[];
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
  /** Compare every group's members, ignoring the stored digests. */
  fullResync = false,
  /** Diff only this scope (an incremental run; see scope.ts): what is outside it stays as it is. */
  scope: Scope | null = null,
): Promise<DiffResult> {
  const c = cfg.name;
  // In scope, `live` is read per row through the indexes; a full diff reads it once, whole.
  const liveCte = scope ? 'NOT MATERIALIZED' : '';
  // Who can go missing: in scope, users in it, and users already missing (their grace period runs),
  // each found through an index; a full diff looks at every live user.
  const mayGo = scope
    ? `(SELECT l.* FROM ${scope.users} s JOIN dirsync.users l ON l.connector = $1 AND l.external_id = s.id
        UNION
        SELECT l.* FROM dirsync.users l WHERE l.connector = $1 AND l.missing_since IS NOT NULL)`
    : 'live';
  // Users. A user missing from the IdP is deactivated and remembered as missing; it is deleted once
  // the grace period has passed (at once with deleteAfter: 0s, never with "never").
  await db.query(
    `CREATE UNLOGGED TABLE ${t.diffUsers} AS
     WITH live AS ${liveCte} (SELECT * FROM dirsync.users WHERE connector = $1)
     SELECT 'create'::text AS op, NULL::bigint AS id, f.external_id, f.username, f.username_key, f.username_skeleton,
            f.email, f.display_name,
            f.given_name, f.family_name, f.active, f.attributes, false AS missing, false AS removal,
            NULL::jsonb AS before, ${userObj('f', 'false')} AS after
       FROM ${t.finalUsers} f
      WHERE NOT EXISTS (SELECT 1 FROM live l WHERE l.external_id = f.external_id)
     UNION ALL
     SELECT CASE WHEN f.active AND (NOT l.active OR l.missing_since IS NOT NULL) THEN 'reactivate'
                 WHEN NOT f.active AND l.active THEN 'deactivate'
                 ELSE 'update' END,
            l.id, f.external_id, f.username, f.username_key, f.username_skeleton, f.email, f.display_name,
            f.given_name, f.family_name,
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
            l.id, l.external_id, l.username, l.username_key, l.username_skeleton, l.email, l.display_name,
            l.given_name, l.family_name,
            false, l.attributes, true, l.missing_since IS NULL,
            ${userObj('l', 'l.missing_since IS NOT NULL')},
            CASE WHEN $2::bigint = 0 OR ($2::bigint > 0 AND l.missing_since <= now() - $2::bigint * interval '1 millisecond')
                 THEN NULL ELSE jsonb_build_object('active', false, 'missing', true) END
       FROM ${mayGo} l
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
     WITH live AS ${liveCte} (SELECT * FROM dirsync.groups WHERE connector = $1)
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
        AND NOT EXISTS (SELECT 1 FROM ${t.heldGroups} h WHERE h.external_id = l.external_id)
        ${scope ? `AND (l.local OR EXISTS (SELECT 1 FROM ${scope.groups} s WHERE s.id = l.external_id))` : ''}`,
    [c],
  );
  if (scope) await diffScopedEdges(db, t, c, scope);
  else await diffAllEdges(db, t, c, fullResync);

  // Fresh tables have no statistics: without them the planner guesses nested loops for apply.
  await db.query(`ANALYZE ${t.diffUsers}; ANALYZE ${t.diffGroups}; ANALYZE ${t.diffEdges}`);
  return summarize(db, t, cfg, scope?.after ?? { users: null, activeUsers: null, memberships: null });
}

/** Keeps a live edge the snapshot does not select: of a held object, or a held (cycle) edge. */
const removable = (t: StageTables) => `
        NOT EXISTS (SELECT 1 FROM ${t.heldGroups} h WHERE h.external_id = l.group_id)
        AND NOT (l.member_is_group AND EXISTS (SELECT 1 FROM ${t.heldGroups} h WHERE h.external_id = l.member_id))
        AND NOT (NOT l.member_is_group AND EXISTS (SELECT 1 FROM ${t.heldUsers} h WHERE h.external_id = l.member_id))
        AND NOT EXISTS (SELECT 1 FROM ${t.heldEdges} h WHERE l.member_is_group AND h.group_id = l.group_id AND h.member_id = l.member_id)`;

/** The membership diff of every group whose member set changed (all of them on a full resync). */
async function diffAllEdges(
  db: pg.PoolClient,
  t: StageTables,
  c: string,
  fullResync: boolean,
): Promise<void> {
  // Memberships. Each group's desired member set has a digest (count and sum of 64-bit hashes of
  // the member keys: order-independent, so no sort of a million rows); a group whose digest equals
  // the one stored at the last apply has exactly the members it had, and its edges are not compared
  // at all. Only changed groups (or all, for a full resync) are diffed, on external ids.
  await db.query(
    `CREATE UNLOGGED TABLE ${t.diffDigests} AS
     SELECT g.external_id AS group_id,
            coalesce(count(f.member_id) || ':' || sum(hashtextextended(
              CASE WHEN f.member_is_group THEN 'g:' ELSE 'u:' END || f.member_id, 0)::numeric), '0:0') AS digest,
            false AS tainted
       FROM ${t.finalGroups} g LEFT JOIN ${t.finalEdges} f ON f.group_id = g.external_id
      GROUP BY g.external_id`,
  );
  await db.query(
    `CREATE UNLOGGED TABLE ${t.changedGroups} AS
     SELECT d.group_id FROM ${t.diffDigests} d
       LEFT JOIN dirsync.groups l ON l.connector = $1 AND l.external_id = d.group_id
      WHERE $2::boolean OR l.members_digest IS DISTINCT FROM d.digest
     UNION
     SELECT l.external_id FROM dirsync.groups l
      WHERE l.connector = $1 AND NOT EXISTS (SELECT 1 FROM ${t.diffDigests} d WHERE d.group_id = l.external_id)
        AND NOT EXISTS (SELECT 1 FROM ${t.heldGroups} h WHERE h.external_id = l.external_id)`,
    [c, fullResync],
  );
  await db.query(`ANALYZE ${t.changedGroups}`);

  await diffChangedEdges(db, t, c);
  // A group that keeps an edge the snapshot does not have (a held member, a held cycle edge) does
  // not hold exactly its desired set: store no digest for it, so the next run compares it again.
  const { rows: heldRows } = await db.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${t.heldUsers}) OR EXISTS (SELECT 1 FROM ${t.heldGroups})
         OR EXISTS (SELECT 1 FROM ${t.heldEdges}) AS any`,
  );
  if (heldRows[0]?.any) {
    await db.query(
      `UPDATE ${t.diffDigests} d SET tainted = true
      WHERE d.group_id IN (
        SELECT g.external_id FROM ${t.changedGroups} cg
          JOIN dirsync.groups g ON g.connector = $1 AND g.external_id = cg.group_id
          JOIN dirsync.group_members m ON m.group_id = g.id
          LEFT JOIN dirsync.users u ON u.id = m.user_id
          LEFT JOIN dirsync.groups mg ON mg.id = m.member_group_id
         WHERE (m.user_id IS NOT NULL AND EXISTS (SELECT 1 FROM ${t.heldUsers} h WHERE h.external_id = u.external_id))
            OR (m.member_group_id IS NOT NULL AND EXISTS (SELECT 1 FROM ${t.heldGroups} h WHERE h.external_id = mg.external_id))
            OR (m.member_group_id IS NOT NULL AND EXISTS (SELECT 1 FROM ${t.heldEdges} h
                                                          WHERE h.group_id = g.external_id AND h.member_id = mg.external_id)))`,
      [c],
    );
  }
  // Only digests that change are kept, so an unchanged re-sync writes nothing.
  await db.query(
    `DELETE FROM ${t.diffDigests} d
      WHERE d.group_id NOT IN (SELECT group_id FROM ${t.changedGroups})
         OR EXISTS (SELECT 1 FROM dirsync.groups l WHERE l.connector = $1 AND l.external_id = d.group_id
                     AND l.members_digest IS NOT DISTINCT FROM CASE WHEN d.tainted THEN NULL ELSE d.digest END)`,
    [c],
  );
}

/**
 * The membership diff of the changed groups (diffAllEdges), in id space: the desired edges are
 * resolved to the ids of their ends (an end the directory does not have yet resolves to NULL and
 * is an addition), the live edges are taken as they are stored, and both are matched on three
 * fixed-width keys by hashing. Matching on external ids instead sorted millions of text triples
 * under the database's collation. Edges of held objects and held (cycle) edges are kept: they are
 * never removed. External ids are looked up only for the edges that go.
 */
async function diffChangedEdges(db: pg.PoolClient, t: StageTables, c: string): Promise<void> {
  await db.query(
    `CREATE UNLOGGED TABLE ${t.liveEdges} AS
     SELECT m.group_id AS group_pk, m.member_group_id IS NOT NULL AS member_is_group,
            coalesce(m.user_id, m.member_group_id) AS member_pk
       FROM ${t.changedGroups} cg
       JOIN dirsync.groups g ON g.connector = $1 AND g.external_id = cg.group_id
       JOIN dirsync.group_members m ON m.group_id = g.id`,
    [c],
  );
  const { rows: none } = await db.query<{ empty: boolean }>(
    `SELECT NOT EXISTS (SELECT 1 FROM ${t.liveEdges}) AS empty`,
  );
  if (none[0]?.empty) {
    // Nothing to compare with (a first sync, or only new groups): every desired edge is an addition.
    await db.query(
      `CREATE UNLOGGED TABLE ${t.diffEdges} AS
       SELECT 'add'::text AS op, NULL::bigint AS group_pk, NULL::bigint AS member_pk, f.group_id, f.member_is_group, f.member_id
         FROM ${t.finalEdges} f JOIN ${t.changedGroups} cg ON cg.group_id = f.group_id`,
    );
    return;
  }
  await db.query(
    `CREATE UNLOGGED TABLE ${t.desiredEdges} AS
     SELECT f.group_id, f.member_is_group, f.member_id, g.id AS group_pk,
            CASE WHEN f.member_is_group THEN mg.id ELSE u.id END AS member_pk
       FROM ${t.finalEdges} f
       JOIN ${t.changedGroups} cg ON cg.group_id = f.group_id
       LEFT JOIN dirsync.groups g ON g.connector = $1 AND g.external_id = f.group_id
       LEFT JOIN dirsync.users u ON NOT f.member_is_group AND u.connector = $1 AND u.external_id = f.member_id
       LEFT JOIN dirsync.groups mg ON f.member_is_group AND mg.connector = $1 AND mg.external_id = f.member_id`,
    [c],
  );
  await db.query(`ANALYZE ${t.desiredEdges}; ANALYZE ${t.liveEdges}`);
  const same = (a: string, b: string) =>
    `${a}.group_pk = ${b}.group_pk AND ${a}.member_is_group = ${b}.member_is_group AND ${a}.member_pk = ${b}.member_pk`;
  // The edges that go are found first, on ids alone (materialized: planned inside a join with the
  // directory's tables, a misestimate of one row turned this anti-join into a nested loop over
  // every pair of edges).
  await db.query(
    `CREATE UNLOGGED TABLE ${t.diffEdges} AS
     WITH gone AS MATERIALIZED (
       SELECT x.* FROM ${t.liveEdges} x WHERE NOT EXISTS (SELECT 1 FROM ${t.desiredEdges} d WHERE ${same('d', 'x')})
     )
     SELECT 'add'::text AS op, NULL::bigint AS group_pk, NULL::bigint AS member_pk, d.group_id, d.member_is_group, d.member_id
       FROM ${t.desiredEdges} d
      WHERE NOT EXISTS (SELECT 1 FROM ${t.liveEdges} l WHERE ${same('l', 'd')})
     UNION ALL
     SELECT 'remove', l.group_pk, l.member_pk, l.group_id, l.member_is_group, l.member_id
       FROM (SELECT x.group_pk, x.member_pk, g.external_id AS group_id, x.member_is_group,
                    CASE WHEN x.member_is_group THEN mg.external_id ELSE u.external_id END AS member_id
               FROM gone x
               JOIN dirsync.groups g ON g.id = x.group_pk
               LEFT JOIN dirsync.users u ON NOT x.member_is_group AND u.id = x.member_pk
               LEFT JOIN dirsync.groups mg ON x.member_is_group AND mg.id = x.member_pk) l
      WHERE ${removable(t)}`,
  );
}

/**
 * The membership diff of a scope: the live edges in it (every edge of a user in it and of a group
 * whose list is in it, and its single edges) against the selected edges check.ts staged for the same scope. A group whose
 * edges the scope touched loses its stored member-set digest (apply stores NULL for a tainted
 * row), so the next full run compares it again rather than trusting a digest of part of a set.
 */
async function diffScopedEdges(db: pg.PoolClient, t: StageTables, c: string, s: Scope): Promise<void> {
  const memberCols = 'm.group_id, m.user_id, m.member_group_id';
  await db.query(
    `CREATE UNLOGGED TABLE ${t.diffEdges} AS
     WITH scoped AS (
       SELECT ${memberCols} FROM ${s.lists} sg
         JOIN dirsync.groups g ON g.connector = $1 AND g.external_id = sg.id
         JOIN dirsync.group_members m ON m.group_id = g.id
       UNION
       SELECT ${memberCols} FROM ${s.users} su
         JOIN dirsync.users u ON u.connector = $1 AND u.external_id = su.id
         JOIN dirsync.group_members m ON m.user_id = u.id
       UNION
       SELECT ${memberCols} FROM ${s.lists} sg
         JOIN dirsync.groups g ON g.connector = $1 AND g.external_id = sg.id
         JOIN dirsync.group_members m ON m.member_group_id = g.id
       UNION
       SELECT ${memberCols} FROM ${s.pairs} p
         JOIN dirsync.groups g ON g.connector = $1 AND g.external_id = p.group_id
         JOIN dirsync.users u ON NOT p.member_is_group AND u.connector = $1 AND u.external_id = p.member_id
         JOIN dirsync.group_members m ON m.group_id = g.id AND m.user_id = u.id
       UNION
       SELECT ${memberCols} FROM ${s.pairs} p
         JOIN dirsync.groups g ON g.connector = $1 AND g.external_id = p.group_id
         JOIN dirsync.groups mg ON p.member_is_group AND mg.connector = $1 AND mg.external_id = p.member_id
         JOIN dirsync.group_members m ON m.group_id = g.id AND m.member_group_id = mg.id
     ),
     live AS MATERIALIZED (
       SELECT m.group_id AS group_pk, coalesce(m.user_id, m.member_group_id) AS member_pk,
              g.external_id AS group_id, m.member_group_id IS NOT NULL AS member_is_group,
              coalesce(u.external_id, mg.external_id) AS member_id
         FROM scoped m
         JOIN dirsync.groups g ON g.id = m.group_id
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
        AND ${removable(t)}`,
    [c],
  );
  await db.query(
    `CREATE UNLOGGED TABLE ${t.diffDigests} AS
     SELECT g.external_id AS group_id, NULL::text AS digest, true AS tainted
       FROM dirsync.groups g
      WHERE g.connector = $1 AND g.members_digest IS NOT NULL
        AND (g.external_id IN (SELECT group_id FROM ${t.diffEdges})
             OR g.external_id IN (SELECT id FROM ${s.lists}))`,
    [c],
  );
}

/** Counts, what the directory holds now, unreadable types and group losses, for the guard. */
async function summarize(
  db: pg.PoolClient,
  t: StageTables,
  cfg: ConnectorConfig,
  /** What the directory holds, when known without counting (Scope.after). */
  known: Scope['after'],
): Promise<DiffResult> {
  const c = cfg.name;

  const { rows } = await db.query<{ object: string; op: string; n: string; removals: string }>(
    `SELECT 'users' AS object, op, count(*) AS n, count(*) FILTER (WHERE removal OR op = 'deactivate') AS removals FROM ${t.diffUsers} GROUP BY op
     UNION ALL SELECT 'groups', op, count(*), count(*) FILTER (WHERE op = 'delete') FROM ${t.diffGroups} GROUP BY op
     UNION ALL SELECT 'memberships', op, count(*), count(*) FILTER (WHERE op = 'remove') FROM ${t.diffEdges} GROUP BY op`,
  );
  // Users not missing once this diff applies: created ones and returning missing ones join them,
  // removals (missing from now on, or deleted while not missing) leave. Active users: created
  // active ones and reactivated ones join them; removals of active users leave (a deactivation's
  // `before` holds `active: true`; a user going missing has its whole record there).
  const { rows: moved } = await db.query<{ n: string; active: string; inactive_removals: string }>(
    `SELECT count(*) FILTER (WHERE op = 'create') + count(*) FILTER (WHERE NOT missing AND before->>'missing' = 'true')
            - count(*) FILTER (WHERE removal) AS n,
            count(*) FILTER (WHERE op = 'create' AND active) + count(*) FILTER (WHERE op = 'reactivate')
            - count(*) FILTER (WHERE (removal OR op = 'deactivate') AND before->>'active' = 'true') AS active,
            count(*) FILTER (WHERE (removal OR op = 'deactivate') AND before->>'active' IS DISTINCT FROM 'true')
              AS inactive_removals
       FROM ${t.diffUsers}`,
  );
  const counts = emptyCounts();
  const removals = { users: 0, groups: 0, memberships: 0 };
  for (const r of rows) {
    (counts[r.object as keyof ChangeCounts] as Record<string, number>)[r.op] = Number(r.n);
    removals[r.object as keyof typeof removals] += Number(r.removals);
  }
  const { rows: ex } = await db.query<{ users: string; active: string; groups: string; memberships: string }>(
    `WITH counted AS (
       SELECT count(*) AS users, count(*) FILTER (WHERE active) AS active
         FROM dirsync.users WHERE connector = $1 AND missing_since IS NULL
          AND ($3::bigint IS NULL OR $4::bigint IS NULL))
     SELECT coalesce($3::bigint, (SELECT users FROM counted)) AS users,
            coalesce($4::bigint, (SELECT active FROM counted)) AS active,
            (SELECT count(*) FROM dirsync.groups WHERE connector = $1) AS groups,
            coalesce($2::bigint, (SELECT count(*) FROM dirsync.group_members m JOIN dirsync.groups g ON g.id = m.group_id
                                   WHERE g.connector = $1)) AS memberships`,
    [c, known.memberships, known.users, known.activeUsers],
  );
  const e = ex[0] as { users: string; active: string; groups: string; memberships: string };
  // Edges the deletions take along that the diff does not remove itself (see membershipsAfter),
  // found through the indexes from the few deleted rows (an OR of the three lookups scanned every
  // membership).
  const deletions = counts.groups.delete + counts.users.delete;
  const { rows: cascade } =
    deletions === 0
      ? { rows: [{ n: '0' }] }
      : await db.query<{ n: string }>(
          `WITH gone AS (
             SELECT m.group_id, m.user_id, m.member_group_id
               FROM ${t.diffGroups} d JOIN dirsync.group_members m ON m.group_id = d.id WHERE d.op = 'delete'
             UNION
             SELECT m.group_id, m.user_id, m.member_group_id
               FROM ${t.diffGroups} d JOIN dirsync.group_members m ON m.member_group_id = d.id WHERE d.op = 'delete'
             UNION
             SELECT m.group_id, m.user_id, m.member_group_id
               FROM ${t.diffUsers} d JOIN dirsync.group_members m ON m.user_id = d.id WHERE d.op = 'delete')
           SELECT count(*) AS n FROM gone m
            WHERE NOT EXISTS (SELECT 1 FROM ${t.diffEdges} d
                               WHERE d.op = 'remove' AND d.group_pk = m.group_id
                                 AND d.member_pk = coalesce(m.user_id, m.member_group_id)
                                 AND d.member_is_group = (m.member_group_id IS NOT NULL))`,
        );

  const unreadable: DiffResult['unreadable'] = {};
  const { rows: bad } = await db.query<{ object_type: string; n: string; example: string }>(
    `SELECT object_type, count(*) AS n,
            min(coalesce(external_id, '(no id)') || ': ' || reason) AS example
       FROM ${t.edgeProblems} GROUP BY object_type`,
  );
  for (const b of bad) {
    const kind = ({ user: 'users', group: 'groups', membership: 'memberships' } as const)[
      b.object_type as 'user' | 'group' | 'membership'
    ];
    if (kind) unreadable[kind] = { records: Number(b.n), example: b.example };
  }

  // Per-group losses: removed direct members against the group's direct members now, for groups
  // that stay. Only groups of at least `minMembers` can trip the per-group limit, so smaller ones
  // are not even listed.
  const { rows: losses } = await db.query<{
    group_id: string;
    name: string;
    removed: string;
    members: string;
  }>(
    `WITH removed AS (
       SELECT group_pk, group_id, count(*) AS removed FROM ${t.diffEdges} e
        WHERE op = 'remove'
          -- A deleted group loses every member by being deleted: the groups limit governs that.
          AND NOT EXISTS (SELECT 1 FROM ${t.diffGroups} d WHERE d.op = 'delete' AND d.id = e.group_pk)
        GROUP BY 1, 2
     )
     SELECT r.group_id, g.name, r.removed, m.members
       FROM removed r
       JOIN dirsync.groups g ON g.id = r.group_pk
       -- Two counts, one per partial index (users, groups): a single count by group_id matches
       -- neither index, and the planner then scanned every membership once per group.
       CROSS JOIN LATERAL (
         SELECT (SELECT count(*) FROM dirsync.group_members gm WHERE gm.group_id = r.group_pk AND gm.user_id IS NOT NULL)
              + (SELECT count(*) FROM dirsync.group_members gm WHERE gm.group_id = r.group_pk AND gm.member_group_id IS NOT NULL)
                AS members) m
      WHERE m.members >= $1
      ORDER BY r.removed::numeric / m.members DESC, r.removed DESC, r.group_id
      LIMIT 20`,
    [cfg.guard.groupMembers.minMembers],
  );
  return {
    unreadable,
    groupLosses: losses.map((l) => ({
      group: l.group_id,
      name: l.name,
      removed: Number(l.removed),
      members: Number(l.members),
    })),
    counts,
    userRemovals: removals.users,
    inactiveUserRemovals: Number(moved[0]?.inactive_removals ?? 0),
    groupRemovals: removals.groups,
    membershipRemovals: removals.memberships,
    existing: {
      users: Number(e.users),
      activeUsers: Number(e.active),
      groups: Number(e.groups),
      memberships: Number(e.memberships),
    },
    usersAfter: Number(e.users) + Number(moved[0]?.n ?? 0),
    activeUsersAfter: Number(e.active) + Number(moved[0]?.active ?? 0),
    membershipsAfter:
      Number(e.memberships) + counts.memberships.add - counts.memberships.remove - Number(cascade[0]?.n ?? 0),
  };
}
