/**
 * Check and select, in SQL over the staged snapshot: hold malformed and duplicate records, apply the
 * group filter, hold username collisions and nesting cycles, drop edges to unknown ids, and add the
 * local groups. The output is what the directory should hold (`final*`) and what must stay as it is
 * (`held*`); every decision that is not silent lands in `run_problems` with a reason.
 */
import type pg from 'pg';
import type { ConnectorConfig } from '../../config/schema.js';
import { selectorParams } from './filter.js';
import { PROBLEM_ROWS_PER_CHECK } from './limits.js';
import type { StageTables } from './stage.js';
import { MAX_NESTING_DEPTH, nestingToHold } from './nesting.js';
import type { Scope } from './scope.js';
import { mirrorTables } from '../store/mirror.js';
import { keySkeleton, usernameKey } from './username.js';

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

/**
 * Stores the username key and skeleton of this connector's users that have none yet (rows written
 * before migration 0007), so both sides of a comparison use the same function.
 */
async function backfillUsernameKeys(db: pg.PoolClient, connector: string): Promise<void> {
  const { rows } = await db.query<{ id: string; username: string }>(
    `SELECT id, username FROM dirsync.users
      WHERE connector = $1 AND (username_key IS NULL OR username_skeleton IS NULL)`,
    [connector],
  );
  if (rows.length === 0) return;
  const keys = rows.map((r) => usernameKey(r.username));
  await db.query(
    `UPDATE dirsync.users u SET username_key = x.k, username_skeleton = x.s
       FROM unnest($1::bigint[], $2::text[], $3::text[]) AS x(id, k, s) WHERE u.id = x.id`,
    [rows.map((r) => r.id), keys, keys.map(keySkeleton)],
  );
}

async function count(db: pg.PoolClient, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: string }>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

/** SQL for the mirror key of a directory id (store/mirror.ts `mirrorId`; the ids here have no text fault). */
const mirrorIdSql = (id: string) => `CASE WHEN left(${id}, 1) = '"' THEN to_json(${id})::text ELSE ${id} END`;

/**
 * Out-of-scope ends, for an incremental run evaluated in scope (scope.ts): a record outside the
 * scope is decided as the last apply decided it, so it exists when the mirror has it, and it is
 * selected when the directory holds it (users: and does not count it as missing).
 */
function outOfScope(scope: Scope, connector: string) {
  const mirror = mirrorTables(scope.mirrorRunId).objects;
  const c = connector.replaceAll("'", "''");
  const known = (type: 'user' | 'group', set: string) => (id: string) =>
    `(NOT EXISTS (SELECT 1 FROM ${set} s WHERE s.id = ${id})
      AND EXISTS (SELECT 1 FROM ${mirror} o WHERE o.object_type = '${type}' AND o.external_id = ${mirrorIdSql(id)}))`;
  return {
    knownUser: known('user', scope.users),
    knownGroup: known('group', scope.groups),
    selectedUser: (id: string) =>
      `(NOT EXISTS (SELECT 1 FROM ${scope.users} s WHERE s.id = ${id})
        AND EXISTS (SELECT 1 FROM dirsync.users l WHERE l.connector = '${c}'
                     AND l.external_id = ${id} AND l.missing_since IS NULL))`,
    selectedGroup: (id: string) =>
      `(NOT EXISTS (SELECT 1 FROM ${scope.groups} s WHERE s.id = ${id})
        AND EXISTS (SELECT 1 FROM dirsync.groups l WHERE l.connector = '${c}'
                     AND l.external_id = ${id}))`,
  };
}

/** The nesting graph holds are decided on: group-in-group edges between staged groups not held. */
async function nestingEdges(db: pg.PoolClient, t: StageTables): Promise<{ parent: string; child: string }[]> {
  const { rows } = await db.query<{ parent: string; child: string }>(
    `SELECT DISTINCT e.group_id AS parent, e.member_id AS child FROM ${t.edges} e
      WHERE e.member_is_group
        AND EXISTS (SELECT 1 FROM ${t.groups} g WHERE g.external_id = e.group_id)
        AND EXISTS (SELECT 1 FROM ${t.groups} g WHERE g.external_id = e.member_id)
        AND NOT EXISTS (SELECT 1 FROM ${t.heldGroups} h WHERE h.external_id IN (e.group_id, e.member_id))`,
  );
  return rows;
}

export async function checkSnapshot(
  db: pg.PoolClient,
  t: StageTables,
  cfg: ConnectorConfig,
  /** Evaluate only this scope (an incremental run; see scope.ts); the rest is as the directory holds it. */
  scope: Scope | null = null,
  /** The stage staged no edge twice (stage.ts `edgeRuns`): the final edges need no DISTINCT. */
  edgesDistinct = false,
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

  // 1b. Nesting the directory can hold (see nesting.ts): edges that close a cycle or nest deeper than
  //     the limit are held before anything follows nesting, so the filter, the closure and effective
  //     membership all see the same groups. A held edge is never added; an existing one is kept.
  await db.query(`
    CREATE INDEX ON ${t.edges} (group_id) WHERE member_is_group;
    CREATE UNLOGGED TABLE ${t.heldEdges} (group_id text NOT NULL, member_is_group boolean NOT NULL,
                                          member_id text NOT NULL, reason text NOT NULL);`);
  // In scope, scope.ts carries the last apply's holds, or decides them again over the whole
  // nesting graph when the feed moved it.
  const heldNest = scope ? scope.heldNest : nestingToHold(await nestingEdges(db, t));
  if (heldNest.length > 0) {
    await db.query(
      `INSERT INTO ${t.heldEdges} (group_id, member_is_group, member_id, reason)
       SELECT p, true, c, CASE WHEN w = 'cycle'
                               THEN 'group ' || c || ' in group ' || p || ' closes a nesting cycle; the edge is held'
                               ELSE 'group ' || c || ' in group ' || p || ' would nest groups deeper than '
                                    || $4::int || ' levels; the edge is held' END
         FROM unnest($1::text[], $2::text[], $3::text[]) AS x(p, c, w)`,
      [
        heldNest.map((e) => e.parent),
        heldNest.map((e) => e.child),
        heldNest.map((e) => e.why),
        MAX_NESTING_DEPTH,
      ],
    );
  }
  await db.query(`ANALYZE ${t.heldEdges}`);
  const nestSql = (from: string) =>
    `JOIN ${t.edges} e ON e.group_id = ${from}.external_id AND e.member_is_group
       AND NOT EXISTS (SELECT 1 FROM ${t.heldEdges} h WHERE h.group_id = e.group_id AND h.member_id = e.member_id)`;

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
       SELECT e.member_id FROM included i ${nestSql('i')}
        WHERE EXISTS (SELECT 1 FROM candidates g WHERE g.external_id = e.member_id)
     ),
     excluded(external_id) AS (
       SELECT g.external_id FROM candidates g WHERE ${matchSql(5)}
       UNION
       SELECT e.member_id FROM excluded x ${nestSql('x')}
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
     SELECT u.external_id, u.username, u.username_key, u.username_skeleton, u.email, u.display_name, u.given_name, u.family_name,
            u.active, coalesce(u.attributes, '{}'::jsonb) AS attributes
       FROM ${t.users} u
      WHERE NOT u.filtered
        AND NOT EXISTS (SELECT 1 FROM ${t.heldUsers} h WHERE h.external_id = u.external_id)
        AND (NOT $1::boolean OR EXISTS (
              SELECT 1 FROM ${t.edges} e JOIN ${t.finalGroups} g ON g.external_id = e.group_id
               WHERE NOT e.member_is_group AND e.member_id = u.external_id))`,
    [hasInclude],
  );
  // Statistics now: the collision queries below group and join on these keys, and without them the
  // planner assumes 200 distinct names and sorts where it should hash.
  await db.query(`ALTER TABLE ${t.finalUsers} ADD PRIMARY KEY (external_id); ANALYZE ${t.finalUsers}`);

  // 3b. Users whose active state the IdP does not say (active IS NULL): an existing user keeps its
  //     state (never deactivated nor reactivated on a guess), a new one is created as
  //     `filters.users.activeUnknown` says or held. Both are reported.
  await problem(
    'user',
    `SELECT f.external_id, 'the IdP does not say whether the account is enabled; its active state is kept as it is' AS reason,
            'held' AS action, NULL::jsonb AS sample
       FROM ${t.finalUsers} f JOIN dirsync.users l ON l.connector = $2 AND l.external_id = f.external_id
      WHERE f.active IS NULL ORDER BY f.external_id`,
    [c],
  );
  await db.query(
    `UPDATE ${t.finalUsers} f SET active = l.active
       FROM dirsync.users l WHERE f.active IS NULL AND l.connector = $1 AND l.external_id = f.external_id`,
    [c],
  );
  const unknownActive = cfg.filters.users.activeUnknown;
  if (unknownActive === 'hold') {
    await db.query(
      `WITH moved AS (DELETE FROM ${t.finalUsers} f WHERE f.active IS NULL RETURNING f.external_id)
       INSERT INTO ${t.heldUsers} (external_id, reason, sample)
       SELECT external_id, 'the IdP does not say whether the account is enabled; a new user is created once it does'
                || ' (or set filters.users.activeUnknown)', NULL FROM moved
       ON CONFLICT (external_id) DO NOTHING`,
    );
  } else {
    await db.query(`UPDATE ${t.finalUsers} SET active = $1 WHERE active IS NULL`, [
      unknownActive === 'active',
    ]);
  }

  // 4. Username collisions (same key: case folding, Unicode normalization, invisible characters and
  //    surrounding white space ignored; see username.ts), to a fixed point: a held existing user
  //    keeps its current name, which may in turn collide with another newcomer. The user that already
  //    owns a name in the directory keeps it; the others are held. Then names that only look alike
  //    (equal TR39 skeletons, different keys, one of them not ASCII): a newcomer to a name is held
  //    when an existing user that keeps its name looks the same.
  await backfillUsernameKeys(db, c);
  for (let round = 0; round < 20; round++) {
    const { rowCount: collided } = await db.query(
      `WITH candidates AS (
         -- Only names the snapshot claims can collide: those it claims twice, and those a user of
         -- the directory outside the snapshot's final set holds (in scope, the directory's other
         -- names are not even read: the index on the key finds the few that matter). Grouping all
         -- claims instead sorted every name under the database's collation.
         SELECT username_key FROM ${t.finalUsers} GROUP BY username_key HAVING count(*) > 1
         UNION
         SELECT f.username_key FROM ${t.finalUsers} f
           JOIN dirsync.users l ON l.connector = $1 AND l.username_key = f.username_key AND l.external_id <> f.external_id
          WHERE NOT EXISTS (SELECT 1 FROM ${t.finalUsers} o WHERE o.external_id = l.external_id)
       ),
       claims AS (
         SELECT f.external_id, f.username_key AS key, true AS incoming FROM ${t.finalUsers} f
          WHERE f.username_key IN (SELECT username_key FROM candidates)
         UNION ALL
         SELECT l.external_id, l.username_key, false
           FROM dirsync.users l
          WHERE l.connector = $1 AND l.username_key IN (SELECT username_key FROM candidates)
            AND NOT EXISTS (SELECT 1 FROM ${t.finalUsers} f WHERE f.external_id = l.external_id)
       ),
       dup AS (SELECT key, string_agg(external_id, ', ' ORDER BY external_id) AS ids FROM claims GROUP BY key HAVING count(*) > 1),
       losers AS (
         SELECT c.external_id, d.key, d.ids FROM claims c JOIN dup d ON d.key = c.key
          WHERE c.incoming
            AND NOT EXISTS (  -- the incumbent: already has this name in the directory and still claims it
              SELECT 1 FROM dirsync.users l
               WHERE l.connector = $1 AND l.external_id = c.external_id AND l.username_key = c.key
                 AND NOT EXISTS (SELECT 1 FROM claims o WHERE o.key = c.key AND NOT o.incoming))
       ),
       moved AS (
         DELETE FROM ${t.finalUsers} f USING losers x WHERE f.external_id = x.external_id
         RETURNING f.external_id, f.username, x.ids
       )
       INSERT INTO ${t.heldUsers} (external_id, reason, sample)
       SELECT external_id, 'username "' || username || '" is claimed by ' || ids || ' (equal after case folding, Unicode normalization and removing invisible characters and surrounding white space)',
              NULL FROM moved
       ON CONFLICT (external_id) DO NOTHING`,
      [c],
    );
    const { rowCount: confused } = await db.query(
      `WITH keeps AS (  -- names that stay in the directory: of users not in the snapshot's final set, and of incumbents
         SELECT l.external_id, l.username, l.username_key AS key, l.username_skeleton AS skeleton
           FROM dirsync.users l
          WHERE l.connector = $1
            AND NOT EXISTS (SELECT 1 FROM ${t.finalUsers} f WHERE f.external_id = l.external_id
                             AND f.username_key IS DISTINCT FROM l.username_key)
            AND l.username_skeleton IN (SELECT username_skeleton FROM ${t.finalUsers})
       ),
       losers AS (
         SELECT DISTINCT ON (f.external_id) f.external_id, f.username, k.username AS other, k.external_id AS other_id
           FROM ${t.finalUsers} f
           JOIN keeps k ON k.skeleton = f.username_skeleton AND k.key <> f.username_key AND k.external_id <> f.external_id
          WHERE (octet_length(f.username_key) <> char_length(f.username_key) OR octet_length(k.key) <> char_length(k.key))
            AND NOT EXISTS (SELECT 1 FROM dirsync.users l  -- already has this very name: it keeps it
                             WHERE l.connector = $1 AND l.external_id = f.external_id AND l.username_key = f.username_key)
          ORDER BY f.external_id, k.external_id
       ),
       moved AS (
         DELETE FROM ${t.finalUsers} f USING losers x WHERE f.external_id = x.external_id
         RETURNING f.external_id, x.username, x.other, x.other_id
       )
       INSERT INTO ${t.heldUsers} (external_id, reason, sample)
       SELECT external_id, 'username "' || username || '" is confusable with "' || other || '" of ' || other_id
                || ' (the same Unicode TR39 skeleton: they look alike)',
              jsonb_build_object('username', username, 'confusableWith', other)
         FROM moved
       ON CONFLICT (external_id) DO NOTHING`,
      [c],
    );
    if (!collided && !confused) break;
  }

  // 5. Edges: both ends selected. Edges to ids the snapshot does not have at all are reported and
  //    skipped; edges of held objects are left to the held objects (their live edges are kept).
  // One pass over the edges finds those with an end the snapshot does not have (hash joins; the
  // OR of three NOT EXISTS would be planned as a million correlated probes).
  const out = scope ? outOfScope(scope, c) : null;
  const known = (present: string, type: 'user' | 'group', id: string) =>
    out ? `(${present} OR ${type === 'user' ? out.knownUser(id) : out.knownGroup(id)})` : present;
  await db.query(`
    CREATE UNLOGGED TABLE ${t.unknownEdges} AS
    SELECT * FROM (
      SELECT e.group_id, e.member_is_group, e.member_id,
             NOT ${known('g.external_id IS NOT NULL', 'group', 'e.group_id')} AS no_group,
             NOT CASE WHEN e.member_is_group THEN ${known('mg.external_id IS NOT NULL', 'group', 'e.member_id')}
                      ELSE ${known('u.external_id IS NOT NULL', 'user', 'e.member_id')} END AS no_member
        FROM ${t.edges} e
        LEFT JOIN (SELECT DISTINCT external_id FROM ${t.groups}) g ON g.external_id = e.group_id
        LEFT JOIN (SELECT DISTINCT external_id FROM ${t.users}) u ON NOT e.member_is_group AND u.external_id = e.member_id
        LEFT JOIN (SELECT DISTINCT external_id FROM ${t.groups}) mg ON e.member_is_group AND mg.external_id = e.member_id
       WHERE g.external_id IS NULL
          OR (NOT e.member_is_group AND u.external_id IS NULL)
          OR (e.member_is_group AND mg.external_id IS NULL)) x
     WHERE no_group OR no_member`);
  await problem(
    'membership',
    `SELECT group_id AS external_id,
            CASE WHEN no_group THEN 'membership in unknown group ' || group_id
                 ELSE 'membership of unknown ' || CASE WHEN member_is_group THEN 'group ' ELSE 'user ' END || member_id END AS reason,
            'skipped' AS action, jsonb_build_object('group', group_id, 'member', member_id) AS sample
       FROM ${t.unknownEdges} ORDER BY group_id, member_id`,
  );
  const skippedEdges = await count(db, `SELECT count(*) AS n FROM ${t.unknownEdges}`);
  const distinct = edgesDistinct ? '' : 'DISTINCT';
  const selected = (final: string, other: string | undefined, id: string) =>
    `(EXISTS (SELECT 1 FROM ${final} f WHERE f.external_id = ${id})${other ? ` OR ${other}` : ''})`;
  await db.query(
    out
      ? `CREATE UNLOGGED TABLE ${t.finalEdges} AS
         SELECT ${distinct} e.group_id, e.member_is_group, e.member_id FROM ${t.edges} e
          WHERE ${selected(t.finalGroups, out.selectedGroup('e.group_id'), 'e.group_id')}
            AND CASE WHEN e.member_is_group THEN ${selected(t.finalGroups, out.selectedGroup('e.member_id'), 'e.member_id')}
                     ELSE ${selected(t.finalUsers, out.selectedUser('e.member_id'), 'e.member_id')} END;
         CREATE INDEX ON ${t.finalEdges} (group_id) WHERE member_is_group;`
      : `
    CREATE UNLOGGED TABLE ${t.finalEdges} AS
    SELECT ${distinct} e.group_id, e.member_is_group, e.member_id FROM (
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
  `,
  );

  // 6. Held nesting edges (1b) stay out of the final set, reported where the parent group is synced
  //    (with an include list, the child and its members may be left out because of the cut).
  await db.query(`
    DELETE FROM ${t.finalEdges} f USING ${t.heldEdges} h
     WHERE f.member_is_group AND f.group_id = h.group_id AND f.member_id = h.member_id;
  `);
  await problem(
    'membership',
    `SELECT h.group_id AS external_id, h.reason, 'held' AS action,
            jsonb_build_object('group', h.group_id, 'member', h.member_id) AS sample
       FROM ${t.heldEdges} h
      WHERE EXISTS (SELECT 1 FROM ${t.finalGroups} g WHERE g.external_id = h.group_id)
      ORDER BY h.group_id, h.member_id`,
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
  // Records the connector could not map and that have no held row: memberships, and users or
  // groups without a usable id. Each is filed under its own object type.
  for (const kind of ['user', 'group', 'membership'] as const) {
    await problem(
      kind,
      `SELECT external_id, reason, 'skipped' AS action, sample FROM ${t.edgeProblems}
        WHERE object_type = $2 AND NOT held`,
      [kind],
    );
  }

  // 9. In scope: what the last apply reported about records outside the scope still holds.
  if (scope) await carryProblems(db, scope, run);

  const n = (table: string) => count(db, `SELECT count(*) AS n FROM ${table}`);
  const heldUsers = await n(t.heldUsers);
  const heldGroups = await n(t.heldGroups);
  const heldEdges = await count(
    db,
    `SELECT count(*) AS n FROM ${t.heldEdges} h
      WHERE EXISTS (SELECT 1 FROM ${t.finalGroups} g WHERE g.external_id = h.group_id)`,
  );
  // In scope, the records outside it are the directory's: selected users (not missing) and groups.
  // The directory's users outside the scope: the count the last run recorded, less those in scope
  // (counting them all would read every user).
  const users =
    (await n(t.finalUsers)) +
    (scope
      ? scope.after.users !== null
        ? scope.after.users -
          (await count(
            db,
            `SELECT count(*) AS n FROM ${scope.users} s
               JOIN dirsync.users l ON l.connector = $1 AND l.external_id = s.id AND l.missing_since IS NULL`,
            [c],
          ))
        : await count(
            db,
            `SELECT count(*) AS n FROM dirsync.users l WHERE l.connector = $1 AND l.missing_since IS NULL
                AND NOT EXISTS (SELECT 1 FROM ${scope.users} s WHERE s.id = l.external_id)`,
            [c],
          )
      : 0);
  const groups =
    (await n(t.finalGroups)) +
    (scope
      ? await count(
          db,
          `SELECT count(*) AS n FROM dirsync.groups l WHERE l.connector = $1 AND NOT l.local
              AND NOT EXISTS (SELECT 1 FROM ${scope.groups} s WHERE s.id = l.external_id)`,
          [c],
        )
      : 0);
  const edges = await n(t.finalEdges);
  const edgeProblems = await count(
    db,
    `SELECT count(*) AS n FROM ${t.edgeProblems} WHERE object_type = 'membership'`,
  );
  await db.query(`ANALYZE ${t.finalUsers}; ANALYZE ${t.finalGroups}; ANALYZE ${t.finalEdges}`);
  const skipped = skippedEdges + edgeProblems;
  // In scope, the problems include those carried over from the last run: count the rows written.
  const problems = scope
    ? await count(db, `SELECT count(*) AS n FROM dirsync.run_problems WHERE run_id = $1`, [run])
    : heldUsers +
      heldGroups +
      heldEdges +
      skipped +
      (await count(
        db,
        `SELECT count(*) AS n FROM ${t.edgeProblems} WHERE object_type <> 'membership' AND NOT held`,
      ));
  return { heldUsers, heldGroups, heldEdges, skippedEdges: skipped, users, groups, edges, problems };
}

/**
 * Copies the previous run's problems about records outside the scope: they were decided then and
 * stand (records inside it were reported afresh above). Problems without an id are re-read from
 * the mirror every run, so they are not copied.
 */
async function carryProblems(db: pg.PoolClient, scope: Scope, run: number): Promise<void> {
  await db.query(
    `INSERT INTO dirsync.run_problems (run_id, object_type, external_id, reason, action, sample)
     SELECT $2::bigint, p.object_type, p.external_id, p.reason, p.action, p.sample
       FROM dirsync.run_problems p
      WHERE p.run_id = $1 AND p.external_id IS NOT NULL
        AND NOT (p.object_type = 'user' AND EXISTS (SELECT 1 FROM ${scope.users} s WHERE s.id = p.external_id))
        AND NOT (p.object_type = 'group' AND EXISTS (SELECT 1 FROM ${scope.groups} s WHERE s.id = p.external_id))
        AND NOT (p.object_type = 'membership' AND (
              EXISTS (SELECT 1 FROM ${scope.lists} s WHERE s.id = p.external_id)
           OR EXISTS (SELECT 1 FROM ${scope.users} s WHERE s.id = p.sample->>'member')
           OR EXISTS (SELECT 1 FROM ${scope.lists} s WHERE s.id = p.sample->>'member')
           OR EXISTS (SELECT 1 FROM ${scope.pairs} s WHERE s.group_id = p.external_id AND s.member_id = p.sample->>'member')))
      ORDER BY p.seq`,
    [scope.previousRun, run],
  );
}
