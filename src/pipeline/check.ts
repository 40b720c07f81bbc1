/**
 * Check and select, in SQL over the staged snapshot: hold malformed and duplicate records, apply the
 * group filter, hold username collisions and nesting cycles, drop edges to unknown ids, and add the
 * local groups. The output is what the directory should hold (`final*`) and what must stay as it is
 * (`held*`); every decision that is not silent lands in `run_problems` with a reason.
 */
import type pg from 'pg';
import type { ConnectorConfig } from '../../config/schema.js';
import { selectorParams } from './filter.js';
import type { StageTables } from './stage.js';

/** At most this many problem rows per check and run: a broken IdP must not flood the database. */
const PROBLEM_ROWS_PER_CHECK = 1000;

export interface CheckCounts {
  heldUsers: number;
  heldGroups: number;
  skippedEdges: number;
  heldEdges: number;
  /** Users kept after filters, as the directory should hold them. */
  users: number;
  groups: number;
  edges: number;
  problems: number;
}

async function count(db: pg.PoolClient, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: string }>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

export async function checkSnapshot(
  db: pg.PoolClient,
  t: StageTables,
  cfg: ConnectorConfig,
): Promise<CheckCounts> {
  const c = cfg.name;
  const run = t.runId;
  const problem = (objectType: string, selectSql: string, params: unknown[] = []) =>
    db.query(
      `INSERT INTO dirsync.run_problems (run_id, object_type, external_id, reason, action, sample)
       SELECT $1::bigint, '${objectType}', external_id, reason, action, sample FROM (${selectSql}) p LIMIT ${PROBLEM_ROWS_PER_CHECK}`,
      [run, ...params],
    );

  await db.query(`ANALYZE ${t.users}; ANALYZE ${t.groups}; ANALYZE ${t.edges}`);

  // 1. Held records: malformed, or the same id more than once (we cannot tell which one is right).
  await db.query(`
    CREATE UNLOGGED TABLE ${t.heldUsers} AS
      SELECT external_id,
             -- A problem the connector reported about an id it also listed (a Graph group whose member
             -- list answers 404) says what happened; "duplicate id" would be our own artifact.
             CASE WHEN bool_or(problem IS NOT NULL) THEN min(problem)
                  WHEN count(*) > 1 THEN 'duplicate id: the snapshot has ' || count(*) || ' records with this id'
                  ELSE min(problem) END AS reason,
             (array_agg(sample) FILTER (WHERE sample IS NOT NULL))[1] AS sample
        FROM ${t.users} GROUP BY external_id
      HAVING count(*) > 1 OR bool_or(problem IS NOT NULL);
    ALTER TABLE ${t.heldUsers} ADD PRIMARY KEY (external_id);
    CREATE UNLOGGED TABLE ${t.heldGroups} AS
      SELECT external_id,
             -- A problem the connector reported about an id it also listed (a Graph group whose member
             -- list answers 404) says what happened; "duplicate id" would be our own artifact.
             CASE WHEN bool_or(problem IS NOT NULL) THEN min(problem)
                  WHEN count(*) > 1 THEN 'duplicate id: the snapshot has ' || count(*) || ' records with this id'
                  ELSE min(problem) END AS reason,
             (array_agg(sample) FILTER (WHERE sample IS NOT NULL))[1] AS sample
        FROM ${t.groups} GROUP BY external_id
      HAVING count(*) > 1 OR bool_or(problem IS NOT NULL);
    ALTER TABLE ${t.heldGroups} ADD PRIMARY KEY (external_id);
  `);

  // 2. Group filter: included groups are the selected ones and everything nested in them, minus the
  //    excluded ones and everything nested in those. With no include list every group is included.
  const inc = selectorParams(cfg.filters.groups.include);
  const exc = selectorParams(cfg.filters.groups.exclude);
  const hasInclude = cfg.filters.groups.include.length > 0;
  const matchSql = (p: number) =>
    `(g.external_id = ANY($${p}::text[]) OR lower(g.source_name) = ANY($${p + 1}::text[]) OR g.source_name ~* ANY($${p + 2}::text[]))`;
  await db.query(
    `CREATE UNLOGGED TABLE ${t.finalGroups} AS
     WITH RECURSIVE candidates AS (
       SELECT g.* FROM ${t.groups} g WHERE NOT EXISTS (SELECT 1 FROM ${t.heldGroups} h WHERE h.external_id = g.external_id)
     ),
     included(external_id) AS (
       SELECT g.external_id FROM candidates g WHERE NOT $1::boolean OR ${matchSql(2)}
       UNION
       SELECT e.member_id FROM included i JOIN ${t.edges} e ON e.group_id = i.external_id AND e.member_is_group
        WHERE EXISTS (SELECT 1 FROM candidates g WHERE g.external_id = e.member_id)
     ),
     excluded(external_id) AS (
       SELECT g.external_id FROM candidates g WHERE ${matchSql(5)}
       UNION
       SELECT e.member_id FROM excluded x JOIN ${t.edges} e ON e.group_id = x.external_id AND e.member_is_group
     )
     SELECT g.external_id, g.name, g.description, coalesce(g.attributes, '{}'::jsonb) AS attributes, false AS local
       FROM candidates g
      WHERE g.external_id IN (SELECT external_id FROM included)
        AND g.external_id NOT IN (SELECT external_id FROM excluded)`,
    [hasInclude, inc.ids, inc.names, inc.patterns, exc.ids, exc.names, exc.patterns],
  );
  await db.query(`ALTER TABLE ${t.finalGroups} ADD PRIMARY KEY (external_id)`);

  // 3. Users: not held, not filtered out, and (with an include list) a member of an included group.
  await db.query(
    `CREATE UNLOGGED TABLE ${t.finalUsers} AS
     SELECT u.external_id, u.username, u.username_key, u.email, u.display_name, u.given_name, u.family_name,
            u.active, coalesce(u.attributes, '{}'::jsonb) AS attributes
       FROM ${t.users} u
      WHERE NOT u.filtered
        AND NOT EXISTS (SELECT 1 FROM ${t.heldUsers} h WHERE h.external_id = u.external_id)
        AND (NOT $1::boolean OR EXISTS (
              SELECT 1 FROM ${t.edges} e JOIN ${t.finalGroups} g ON g.external_id = e.group_id
               WHERE NOT e.member_is_group AND e.member_id = u.external_id))`,
    [hasInclude],
  );
  await db.query(`ALTER TABLE ${t.finalUsers} ADD PRIMARY KEY (external_id)`);

  // 4. Username collisions (same name after Unicode NFKC and case folding), to a fixed point: a held
  //    existing user keeps its current name, which may in turn collide with another newcomer.
  //    The user that already owns a name in the directory keeps it; the others are held.
  for (let round = 0; round < 20; round++) {
    const { rowCount } = await db.query(
      `WITH claims AS (
         SELECT f.external_id, f.username_key AS key, true AS incoming FROM ${t.finalUsers} f
         UNION ALL
         SELECT l.external_id, lower(normalize(l.username, NFKC)), false
           FROM dirsync.users l
          WHERE l.connector = $1 AND NOT EXISTS (SELECT 1 FROM ${t.finalUsers} f WHERE f.external_id = l.external_id)
       ),
       dup AS (SELECT key, string_agg(external_id, ', ' ORDER BY external_id) AS ids FROM claims GROUP BY key HAVING count(*) > 1),
       losers AS (
         SELECT c.external_id, d.key, d.ids FROM claims c JOIN dup d ON d.key = c.key
          WHERE c.incoming
            AND NOT EXISTS (  -- the incumbent: already has this name in the directory and still claims it
              SELECT 1 FROM dirsync.users l
               WHERE l.connector = $1 AND l.external_id = c.external_id AND lower(normalize(l.username, NFKC)) = c.key
                 AND NOT EXISTS (SELECT 1 FROM claims o WHERE o.key = c.key AND NOT o.incoming))
       ),
       moved AS (
         DELETE FROM ${t.finalUsers} f USING losers x WHERE f.external_id = x.external_id
         RETURNING f.external_id, f.username, x.ids
       )
       INSERT INTO ${t.heldUsers} (external_id, reason, sample)
       SELECT external_id, 'username "' || username || '" is claimed by ' || ids || ' (equal after case folding and Unicode normalization)',
              NULL FROM moved
       ON CONFLICT (external_id) DO NOTHING`,
      [c],
    );
    if (!rowCount) break;
  }

  // 5. Edges: both ends selected. Edges to ids the snapshot does not have at all are reported and
  //    skipped; edges of held objects are left to the held objects (their live edges are kept).
  // One pass over the edges finds those with an end the snapshot does not have (hash joins; the
  // OR of three NOT EXISTS would be planned as a million correlated probes).
  await db.query(`
    CREATE UNLOGGED TABLE ${t.unknownEdges} AS
    SELECT e.group_id, e.member_is_group, e.member_id, g.external_id IS NULL AS no_group
      FROM ${t.edges} e
      LEFT JOIN (SELECT DISTINCT external_id FROM ${t.groups}) g ON g.external_id = e.group_id
      LEFT JOIN (SELECT DISTINCT external_id FROM ${t.users}) u ON NOT e.member_is_group AND u.external_id = e.member_id
      LEFT JOIN (SELECT DISTINCT external_id FROM ${t.groups}) mg ON e.member_is_group AND mg.external_id = e.member_id
     WHERE g.external_id IS NULL
        OR (NOT e.member_is_group AND u.external_id IS NULL)
        OR (e.member_is_group AND mg.external_id IS NULL)`);
  await problem(
    'membership',
    `SELECT group_id AS external_id,
            CASE WHEN no_group THEN 'membership in unknown group ' || group_id
                 ELSE 'membership of unknown ' || CASE WHEN member_is_group THEN 'group ' ELSE 'user ' END || member_id END AS reason,
            'skipped' AS action, jsonb_build_object('group', group_id, 'member', member_id) AS sample
       FROM ${t.unknownEdges} ORDER BY group_id, member_id`,
  );
  const skippedEdges = await count(db, `SELECT count(*) AS n FROM ${t.unknownEdges}`);
  await db.query(`
    CREATE UNLOGGED TABLE ${t.finalEdges} AS
    SELECT DISTINCT e.group_id, e.member_is_group, e.member_id FROM (
      SELECT e.group_id, e.member_is_group, e.member_id FROM ${t.edges} e
        JOIN ${t.finalGroups} g ON g.external_id = e.group_id
        JOIN ${t.finalUsers} u ON u.external_id = e.member_id
       WHERE NOT e.member_is_group
      UNION ALL
      SELECT e.group_id, e.member_is_group, e.member_id FROM ${t.edges} e
        JOIN ${t.finalGroups} g ON g.external_id = e.group_id
        JOIN ${t.finalGroups} m ON m.external_id = e.member_id
       WHERE e.member_is_group
    ) e;
    CREATE INDEX ON ${t.finalEdges} (group_id) WHERE member_is_group;
  `);

  // 6. Nesting cycles: an edge parent→child is in a cycle when child reaches parent. Such edges are
  //    held (never added, an existing one kept), which keeps the directory's nesting acyclic.
  await db.query(`
    CREATE UNLOGGED TABLE ${t.heldEdges} AS
    WITH RECURSIVE nest AS (SELECT group_id, member_id FROM ${t.finalEdges} WHERE member_is_group),
    reach(src, dst) AS (
      SELECT group_id, member_id FROM nest
      UNION
      SELECT r.src, n.member_id FROM reach r JOIN nest n ON n.group_id = r.dst
    )
    SELECT n.group_id, true AS member_is_group, n.member_id
      FROM nest n WHERE EXISTS (SELECT 1 FROM reach r WHERE r.src = n.member_id AND r.dst = n.group_id);
    DELETE FROM ${t.finalEdges} f USING ${t.heldEdges} h
     WHERE f.member_is_group AND f.group_id = h.group_id AND f.member_id = h.member_id;
  `);
  await problem(
    'membership',
    `SELECT h.group_id AS external_id,
            'group ' || h.member_id || ' in group ' || h.group_id || ' closes a nesting cycle; the edge is held' AS reason,
            'held' AS action, jsonb_build_object('group', h.group_id, 'member', h.member_id) AS sample
       FROM ${t.heldEdges} h ORDER BY 1`,
  );

  // 7. Local groups from config; every synced user joins them.
  if (cfg.localGroups.length > 0) {
    await db.query(
      `INSERT INTO ${t.finalGroups} (external_id, name, description, attributes, local)
       SELECT 'local:' || n, n, d, '{}'::jsonb, true FROM unnest($1::text[], $2::text[]) AS x(n, d)
       ON CONFLICT (external_id) DO NOTHING;
       `,
      [cfg.localGroups.map((g) => g.name), cfg.localGroups.map((g) => g.description)],
    );
    await db.query(
      `INSERT INTO ${t.finalEdges} (group_id, member_is_group, member_id)
       SELECT 'local:' || n, false, u.external_id FROM unnest($1::text[]) AS n CROSS JOIN ${t.finalUsers} u`,
      [cfg.localGroups.map((g) => g.name)],
    );
  }

  // 8. Report held users and groups: "held" when the directory has them (kept as they are),
  //    "skipped" when it does not (nothing is created).
  for (const [kind, held, live] of [
    ['user', t.heldUsers, 'dirsync.users'],
    ['group', t.heldGroups, 'dirsync.groups'],
  ] as const) {
    await problem(
      kind,
      `SELECT h.external_id, h.reason,
              CASE WHEN EXISTS (SELECT 1 FROM ${live} l WHERE l.connector = $2 AND l.external_id = h.external_id)
                   THEN 'held' ELSE 'skipped' END AS action,
              h.sample
         FROM ${held} h ORDER BY h.external_id`,
      [c],
    );
  }
  await problem(
    'membership',
    `SELECT group_id AS external_id, reason, 'skipped' AS action, sample FROM ${t.edgeProblems}`,
  );

  const n = (table: string) => count(db, `SELECT count(*) AS n FROM ${table}`);
  const heldUsers = await n(t.heldUsers);
  const heldGroups = await n(t.heldGroups);
  const heldEdges = await n(t.heldEdges);
  const users = await n(t.finalUsers);
  const groups = await n(t.finalGroups);
  const edges = await n(t.finalEdges);
  const edgeProblems = await n(t.edgeProblems);
  await db.query(`ANALYZE ${t.finalUsers}; ANALYZE ${t.finalGroups}; ANALYZE ${t.finalEdges}`);
  return {
    heldUsers,
    heldGroups,
    heldEdges,
    skippedEdges: skippedEdges + edgeProblems,
    users,
    groups,
    edges,
    problems: heldUsers + heldGroups + heldEdges + skippedEdges + edgeProblems,
  };
}
