/**
 * Scope: what an incremental run re-evaluates, so that its database work grows with the change and
 * not with the directory.
 *
 * A full evaluation (check → diff over the whole derived snapshot) decides every record from the
 * record itself and a little global context. When the config that decides evaluation is the one of
 * the last apply and nobody moved the directory since, every record the feed did not touch would be
 * decided exactly as it was then, and the directory already holds that decision. So an incremental
 * run stages and decides only:
 *
 * - users: those the feed touched, and those the last apply held or reported (a held record is
 *   decided again each run: a collision may have gone away);
 * - groups: the same; of these, a group whose own decision may change what its edges are (new,
 *   removed, reported by the last apply, or possibly becoming held or released) has its whole
 *   member list in scope (`lists`); any other group's record is decided again, not its edges;
 * - memberships: every edge of a user in scope, every edge to or from a group whose list is in
 *   scope, the single edges the feed added or removed, and, for a member list the feed re-read in
 *   full, the edges by which it differs from the mirror's.
 * Everything outside the scope counts as what the directory holds (check.ts and diff.ts read the
 * live tables for it), so the same SQL decides in-scope records as a full run would.
 *
 * Global rules: cycle and depth holds depend on the whole nesting graph, which is small (group-in-
 * group edges only); when the feed moves nesting, the holds are decided again over all of it
 * (`nestingHolds`) and each edge whose hold changed is in scope. A group include or exclude filter
 * follows nesting through the whole org, and a group in nesting that may become held or released
 * changes the graph itself: the run then derives the whole snapshot as before (the reason is
 * logged and recorded as a figure).
 */
import type pg from 'pg';
import type { ConnectorConfig } from '../../config/schema.js';
import {
  keptEdgesWhere,
  mirrorId,
  mirrorIdOf,
  mirrorStageTables,
  mirrorTables,
  type MirrorPatch,
} from '../store/mirror.js';
import { nestingToHold, type HeldNestEdge } from './nesting.js';
import { PROBLEM_ROWS_PER_CHECK } from './limits.js';
import { groupTextFault, STAGE_SCHEMA } from './stage.js';
import { compileTransforms } from './transform.js';
import { textFault } from './text.js';
import { snapshotFingerprint } from './unchanged.js';

/** The tables of one run's scope: ids as the directory has them (`id`) and as the mirror keys them (`mid`). */
export interface Scope {
  /** Users decided again: `(id, mid)`. */
  users: string;
  /** Groups whose records are decided again: `(id, mid)`. */
  groups: string;
  /**
   * Groups whose whole member lists are in scope (a subset of `groups`): `(id, mid)`. Only a
   * group whose own decision may change what its edges are needs its list: a group created or
   * removed, one the last apply reported, one whose held state may change. Another group's record
   * is decided again, and of its edges only those the feed changed are.
   */
  lists: string;
  /** Single edges the feed added or removed: `(group_id, member_is_group, member_id)`. */
  pairs: string;
  /** The run whose problems describe what the directory holds now (held records, skipped edges). */
  previousRun: number;
  /**
   * What the directory held after that run applied, as it recorded it (evaluate.ts): users not
   * missing, active users and memberships. Counting them again would read the whole directory.
   * Null when the run did not record them.
   */
  after: { users: number | null; activeUsers: number | null; memberships: number | null };
  /**
   * Nesting edges to hold: the last apply's, or, when the feed moved nesting, decided again over
   * the whole nesting graph of the patched mirror.
   */
  heldNest: HeldNestEdge[];
  /** The mirror the scope is read from, and the run's delta that patches it. */
  mirrorRunId: number;
  deltaRunId: number;
}

export function scopeTables(runId: number) {
  const t = (n: string) => `${STAGE_SCHEMA}.r${runId}_${n}`;
  return { users: t('su'), groups: t('sg'), lists: t('sl'), pairs: t('sp') };
}

export type ScopeDecision = { scope: Scope } | { scope: null; reason: string };

interface DirectoryFingerprint {
  snapshot_fingerprint: string | null;
  fingerprint_run_id: string | null;
  same_version: boolean;
}

/**
 * Decides whether this incremental run can be evaluated in scope, and if so stages the scope. The
 * delta tables (`stageMirrorPatch`) must exist.
 */
export async function planScope(
  pool: pg.Pool,
  cfg: ConnectorConfig,
  runId: number,
  mirrorRunId: number,
  stagedDigest: string | null,
  patch: MirrorPatch,
): Promise<ScopeDecision> {
  const no = (reason: string): ScopeDecision => ({ scope: null, reason });
  if (cfg.filters.groups.include.length > 0 || cfg.filters.groups.exclude.length > 0) {
    return no('a group include or exclude filter follows nesting through the whole org');
  }
  // The directory is what the last apply made it with this very config: same fingerprint (config
  // that decides evaluation, and the snapshot digest the mirror stands for), same version.
  const { rows } = await pool.query<DirectoryFingerprint>(
    `SELECT snapshot_fingerprint, fingerprint_run_id, version = fingerprint_version AS same_version
       FROM dirsync.directories WHERE connector = $1`,
    [cfg.name],
  );
  const d = rows[0];
  if (
    stagedDigest === null ||
    !d?.fingerprint_run_id ||
    !d.same_version ||
    d.snapshot_fingerprint !== snapshotFingerprint(cfg, stagedDigest)
  ) {
    return no('the config or the directory changed since the last apply');
  }
  const previousRun = Number(d.fingerprint_run_id);
  // The previous run's problems name every record it held. A capped list may not: decide all.
  const { rows: capped } = await pool.query<{ capped: boolean }>(
    `SELECT coalesce(max(n), 0) >= $2 AS capped FROM (
       SELECT count(*) AS n FROM dirsync.run_problems WHERE run_id = $1 GROUP BY object_type) c`,
    [previousRun, PROBLEM_ROWS_PER_CHECK],
  );
  if (capped[0]?.capped) return no('the last apply reported too many problems to name every held record');
  // A record whose id Postgres cannot store is reported without an id, so the scope cannot name
  // it; deciding the whole snapshot finds it again (and keeps its type incomplete for the guard).
  const { rows: idless } = await pool.query<{ any: boolean }>(
    // The reasons stage.ts gives such records.
    `SELECT EXISTS (SELECT 1 FROM dirsync.run_problems WHERE run_id = $1 AND external_id IS NULL
                     AND (reason LIKE 'the id %' OR reason LIKE 'a membership id %')) AS any`,
    [previousRun],
  );
  if (idless[0]?.any) return no('the last apply held a record whose id cannot be stored');
  // What the last apply reported: held and skipped records, and the nesting edges it held (with
  // why: its reason says which, as check.ts worded it).
  const { rows: held } = await pool.query<{
    object_type: string;
    external_id: string;
    action: string;
    parent: string | null;
    child: string | null;
    cycle: boolean;
  }>(
    `SELECT object_type, external_id, action, sample->>'group' AS parent, sample->>'member' AS child,
            reason LIKE '%closes a nesting cycle%' AS cycle
       FROM dirsync.run_problems WHERE run_id = $1 AND external_id IS NOT NULL`,
    [previousRun],
  );
  const heldBefore = [...new Set(held.filter((h) => h.object_type === 'group').map((h) => h.external_id))];
  const nestBefore = new Map<string, HeldNestEdge>();
  for (const h of held) {
    if (h.object_type !== 'membership' || h.action !== 'held' || h.parent === null || h.child === null)
      continue;
    nestBefore.set(`${h.parent}\u0000${h.child}`, {
      parent: h.parent,
      child: h.child,
      why: h.cycle ? 'cycle' : 'depth',
    });
  }
  const heldMayChange = mayChangeHeld(cfg, patch, heldBefore);
  const nesting = await nestingChange(pool, mirrorRunId, runId, heldMayChange.map(mirrorId));
  if (nesting === 'held') {
    return no('a group taking part in nesting may become held or released, which changes the nesting graph');
  }

  const users = new Set<string>();
  const groups = new Set<string>();
  const lists = new Set<string>();
  for (const o of patch.objects) (o.objectType === 'user' ? users : groups).add(o.externalId);
  for (const p of patch.purge) (p.isGroup ? lists : users).add(p.id);
  for (const h of held) {
    if (h.object_type === 'user') users.add(h.external_id);
    else lists.add(h.external_id);
  }
  for (const g of heldMayChange) lists.add(g);
  for (const g of await newGroups(pool, mirrorRunId, runId)) lists.add(g);

  // Nesting as the last apply found it keeps its holds. Nesting moved: its holds are decided again
  // over the whole nesting graph (small: group-in-group edges only), and every edge whose hold
  // changed is decided again, with its parent group (which reports it).
  const before = [...nestBefore.values()];
  let heldNest = before;
  const heldAgain: [string, string][] = [];
  if (nesting === 'moved') {
    heldNest = await nestingHolds(pool, mirrorRunId, runId, heldBefore);
    // A hold that came, went or changed its reason is reported afresh.
    const key = (e: HeldNestEdge) => `${e.parent}\u0000${e.child}\u0000${e.why}`;
    const was = new Set(before.map(key));
    const now = new Set(heldNest.map(key));
    for (const e of [...heldNest, ...before]) {
      if (was.has(key(e)) !== now.has(key(e))) heldAgain.push([e.parent, e.child]);
    }
    for (const [parent] of heldAgain) lists.add(parent);
  }
  for (const g of lists) groups.add(g);

  const pairs = new Map<string, [string, boolean, string]>();
  const pair = (groupId: string, isGroup: boolean, memberId: string) =>
    pairs.set(JSON.stringify([groupId, isGroup, memberId]), [groupId, isGroup, memberId]);
  // A group whose member list the feed re-read in full (a reset) brings the edges that differ
  // from the mirror's list, not the whole list: its other edges are decided as they were.
  const resets = new Set(patch.resets.filter((g) => !lists.has(g)));
  for (const e of [...patch.edgeAdditions, ...patch.edgeRemovals]) {
    if (!resets.has(e.groupId)) pair(e.groupId, e.memberType === 'group', e.memberId);
  }
  if (resets.size > 0) {
    for (const e of await resetDifferences(pool, mirrorRunId, runId, lists)) {
      pair(e.group_id, e.member_is_group, e.member_id);
    }
  }
  for (const [parent, child] of heldAgain) pair(parent, true, child);

  const s = scopeTables(runId);
  // An id Postgres cannot store is no directory id (stage.ts reports its record): NULL here, and
  // the mirror key (JSON text) still finds the record.
  const storable = (id: string) => (textFault(id) === null ? id : null);
  const ids = (set: Set<string>) => [[...set].map(storable), [...set].map(mirrorId)];
  const [userIds, userMids] = ids(users);
  const [groupIds, groupMids] = ids(groups);
  const [listIds, listMids] = ids(lists);
  const pairList = [...pairs.values()];
  await pool.query(`
    CREATE UNLOGGED TABLE ${s.users} (id text, mid text NOT NULL);
    CREATE UNLOGGED TABLE ${s.groups} (id text, mid text NOT NULL);
    CREATE UNLOGGED TABLE ${s.lists} (id text, mid text NOT NULL);
    CREATE UNLOGGED TABLE ${s.pairs} (group_id text, member_is_group boolean NOT NULL, member_id text,
                                      group_mid text NOT NULL, member_mid text NOT NULL);`);
  await pool.query(`INSERT INTO ${s.users} SELECT * FROM unnest($1::text[], $2::text[])`, [
    userIds,
    userMids,
  ]);
  await pool.query(`INSERT INTO ${s.groups} SELECT * FROM unnest($1::text[], $2::text[])`, [
    groupIds,
    groupMids,
  ]);
  await pool.query(`INSERT INTO ${s.lists} SELECT * FROM unnest($1::text[], $2::text[])`, [
    listIds,
    listMids,
  ]);
  await pool.query(
    `INSERT INTO ${s.pairs} SELECT * FROM unnest($1::text[], $2::boolean[], $3::text[], $4::text[], $5::text[])`,
    [
      pairList.map((p) => storable(p[0])),
      pairList.map((p) => p[1]),
      pairList.map((p) => storable(p[2])),
      pairList.map((p) => mirrorId(p[0])),
      pairList.map((p) => mirrorId(p[2])),
    ],
  );
  await pool.query(`
    CREATE INDEX ON ${s.users} (id); CREATE INDEX ON ${s.groups} (id); CREATE INDEX ON ${s.lists} (id);
    ANALYZE ${s.users}; ANALYZE ${s.groups}; ANALYZE ${s.lists}; ANALYZE ${s.pairs}`);
  const { rows: fig } = await pool.query<{
    users: string | null;
    active: string | null;
    memberships: string | null;
  }>(
    `SELECT snapshot->>'directory_users' AS users, snapshot->>'directory_active_users' AS active,
            snapshot->>'directory_memberships' AS memberships
       FROM dirsync.runs WHERE id = $1`,
    [previousRun],
  );
  const num = (v: string | null | undefined) => (v == null ? null : Number(v));
  const after = {
    users: num(fig[0]?.users),
    activeUsers: num(fig[0]?.active),
    memberships: num(fig[0]?.memberships),
  };
  return { scope: { ...s, previousRun, after, heldNest, mirrorRunId, deltaRunId: runId } };
}

/**
 * The changed groups whose held state may differ from the last apply's: a group
 * the last apply reported, or one that would be held now (a problem record, or text that cannot
 * be stored once transformed; stage.ts decides both the same way). Any other changed group stays
 * what it was to the nesting graph: Google, for one, changes a group's record
 * (`directMembersCount`) with every member it gains or loses.
 */
function mayChangeHeld(cfg: ConnectorConfig, patch: MirrorPatch, heldBefore: string[]): string[] {
  const before = new Set(heldBefore);
  const transformer = compileTransforms(cfg.transform);
  const out: string[] = [];
  for (const o of patch.objects) {
    if (o.objectType !== 'group') continue;
    const item = o.item;
    // A removed group is not held: it is gone, with its edges (nestingChange sees that as moved).
    if (item === null) continue;
    const heldNow = item.kind !== 'group' || groupTextFault(transformer.group(item)) !== null;
    if (heldNow || before.has(o.externalId)) out.push(o.externalId);
  }
  return out;
}

/**
 * How the delta touches the nesting graph that cycle and depth holds are decided on: `held` when
 * a group taking part in nesting may become held or released (`heldMayChange`: the graph leaves
 * out held groups, and which groups are held is decided by check); `moved` when a group-in-group
 * edge is added, removed or reset away, or a group in nesting is created or removed; else `none`.
 * Set-based over the delta, through the mirror's indexes: it costs what the change costs.
 */
async function nestingChange(
  pool: pg.Pool,
  mirrorRunId: number,
  runId: number,
  heldMayChange: string[],
): Promise<'none' | 'moved' | 'held'> {
  const m = mirrorTables(mirrorRunId);
  const x = mirrorStageTables(runId);
  const same = (a: string) =>
    `e.group_id = ${a}.group_id AND e.member_is_group AND e.member_id = ${a}.member_id`;
  const inNesting = (cond: string) =>
    `(EXISTS (SELECT 1 FROM ${x.deltaObjects} d JOIN ${m.edges} e ON e.group_id = d.external_id AND e.member_is_group
               WHERE d.object_type = 'group' AND ${cond})
      OR EXISTS (SELECT 1 FROM ${x.deltaObjects} d JOIN ${m.edges} e ON e.member_id = d.external_id AND e.member_is_group
                  WHERE d.object_type = 'group' AND ${cond}))`;
  const { rows } = await pool.query<{ held: boolean; moved: boolean }>(
    `SELECT ${inNesting('d.external_id = ANY($1::text[])')} AS held,
       EXISTS (SELECT 1 FROM ${x.deltaEdgeAdditions} a
                WHERE a.member_is_group AND NOT EXISTS (SELECT 1 FROM ${m.edges} e WHERE ${same('a')}))
    OR EXISTS (SELECT 1 FROM ${x.deltaEdgeRemovals} d JOIN ${m.edges} e ON ${same('d')}
                WHERE d.member_is_group
                  AND NOT EXISTS (SELECT 1 FROM ${x.deltaEdgeAdditions} a WHERE a.group_id = d.group_id
                                   AND a.member_is_group AND a.member_id = d.member_id))
    OR EXISTS (SELECT 1 FROM ${x.deltaResets} r JOIN ${m.edges} e ON e.group_id = r.group_id AND e.member_is_group
                WHERE NOT EXISTS (SELECT 1 FROM ${x.deltaEdgeAdditions} a WHERE a.group_id = e.group_id
                                   AND a.member_is_group AND a.member_id = e.member_id))
    OR EXISTS (SELECT 1 FROM ${x.deltaPurge} p JOIN ${m.edges} e ON e.group_id = p.id AND e.member_is_group WHERE p.is_group)
    OR EXISTS (SELECT 1 FROM ${x.deltaPurge} p JOIN ${m.edges} e ON e.member_id = p.id AND e.member_is_group WHERE p.is_group)
    -- New to the mirror: edges to it were skipped as unknown until now.
    OR ${inNesting(`NOT EXISTS (SELECT 1 FROM ${m.objects} o WHERE o.object_type = 'group' AND o.external_id = d.external_id)`)}
    AS moved`,
    [heldMayChange],
  );
  const r = rows[0];
  if (!r || r.held) return 'held';
  return r.moved ? 'moved' : 'none';
}

/**
 * The nesting edges to hold once the delta applies, decided as check.ts decides them on a full
 * read: over every group-in-group edge of the patched mirror between groups it has, leaving out
 * the groups the last apply reported (held ones keep their edges as they are).
 */
async function nestingHolds(
  pool: pg.Pool,
  mirrorRunId: number,
  runId: number,
  heldBefore: string[],
): Promise<HeldNestEdge[]> {
  const m = mirrorTables(mirrorRunId);
  const x = mirrorStageTables(runId);
  const { rows } = await pool.query<{ parent: string; child: string }>(
    `WITH groups_now AS (
       SELECT o.external_id FROM ${m.objects} o
        WHERE o.object_type = 'group'
          AND NOT EXISTS (SELECT 1 FROM ${x.deltaObjects} d WHERE d.object_type = 'group' AND d.external_id = o.external_id)
       UNION
       SELECT d.external_id FROM ${x.deltaObjects} d WHERE d.object_type = 'group' AND d.item IS NOT NULL
     ),
     edges_now AS (
       SELECT e.group_id, e.member_id FROM ${m.edges} e WHERE e.member_is_group AND ${keptEdgesWhere('e', x)}
       UNION
       SELECT a.group_id, a.member_id FROM ${x.deltaEdgeAdditions} a WHERE a.member_is_group
     )
     SELECT e.group_id AS parent, e.member_id AS child FROM edges_now e
      WHERE e.group_id IN (SELECT external_id FROM groups_now) AND e.member_id IN (SELECT external_id FROM groups_now)
        AND e.group_id <> ALL($1::text[]) AND e.member_id <> ALL($1::text[])`,
    [heldBefore.map(mirrorId)],
  );
  // An id Postgres cannot store is no directory group (stage.ts reports its record).
  const edges = rows
    .map((r) => ({ parent: mirrorIdOf(r.parent), child: mirrorIdOf(r.child) }))
    .filter((e) => textFault(e.parent) === null && textFault(e.child) === null);
  return nestingToHold(edges);
}

/** Groups of the delta the mirror does not have yet (edges to them were skipped as unknown). */
async function newGroups(pool: pg.Pool, mirrorRunId: number, runId: number): Promise<string[]> {
  const m = mirrorTables(mirrorRunId);
  const x = mirrorStageTables(runId);
  const { rows } = await pool.query<{ id: string }>(
    `SELECT d.external_id AS id FROM ${x.deltaObjects} d
      WHERE d.object_type = 'group'
        AND NOT EXISTS (SELECT 1 FROM ${m.objects} o WHERE o.object_type = 'group' AND o.external_id = d.external_id)`,
  );
  return rows.map((r) => mirrorIdOf(r.id));
}

/**
 * The edges by which the member lists the feed re-read (resets of groups not in `lists`) differ
 * from the mirror's: re-read but not in the mirror, and in the mirror but not re-read. Set-based
 * over the re-read lists, through the mirror's index on the group: it costs what the feed read.
 */
async function resetDifferences(
  pool: pg.Pool,
  mirrorRunId: number,
  runId: number,
  lists: Set<string>,
): Promise<{ group_id: string; member_is_group: boolean; member_id: string }[]> {
  const m = mirrorTables(mirrorRunId);
  const x = mirrorStageTables(runId);
  const same = (a: string, b: string) =>
    `${a}.group_id = ${b}.group_id AND ${a}.member_is_group = ${b}.member_is_group AND ${a}.member_id = ${b}.member_id`;
  const { rows } = await pool.query<{ group_id: string; member_is_group: boolean; member_id: string }>(
    `WITH r AS (SELECT group_id FROM ${x.deltaResets} WHERE group_id <> ALL($1::text[]))
     SELECT a.group_id, a.member_is_group, a.member_id FROM r JOIN ${x.deltaEdgeAdditions} a ON a.group_id = r.group_id
      WHERE NOT EXISTS (SELECT 1 FROM ${m.edges} e WHERE ${same('e', 'a')})
     UNION
     SELECT e.group_id, e.member_is_group, e.member_id FROM r JOIN ${m.edges} e ON e.group_id = r.group_id
      WHERE NOT EXISTS (SELECT 1 FROM ${x.deltaEdgeAdditions} a WHERE ${same('a', 'e')})`,
    [[...lists].map(mirrorId)],
  );
  return rows.map((r) => ({ ...r, group_id: mirrorIdOf(r.group_id), member_id: mirrorIdOf(r.member_id) }));
}
