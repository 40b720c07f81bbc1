/**
 * Staging: each run streams its snapshot into its own UNLOGGED tables in the `dirsync_stage`
 * schema with COPY. The directory is never held in JS memory; every later step is set-based SQL.
 * Tables of a held run stay until it is approved or rejected; others are dropped when the run ends.
 */
import type pg from 'pg';
import { startCopy, type CopyWriter } from '../store/copy.js';
import { noBackendOfRunSql } from '../store/db.js';
import type { SourceEdge, SourceProblem } from '../../connectors/types.js';
import { recordTextFault, reportableJson, reportableText, textFault } from './text.js';
import type { TransformedGroup, TransformedUser } from './transform.js';

export const STAGE_SCHEMA = 'dirsync_stage';

/** Names of one run's staging and diff tables. */
export function stageTables(runId: number) {
  const t = (name: string) => `${STAGE_SCHEMA}.r${runId}_${name}`;
  return {
    runId,
    /** Raw staged records. */
    users: t('users'),
    groups: t('groups'),
    edges: t('edges'),
    /**
     * Records the connector could not map (`problem` items): membership problems, records without
     * an id, and (marked `held`) malformed records with an id, which are also staged as held rows.
     * Any of them makes its object type incomplete for the deletion guard.
     */
    edgeProblems: t('edge_problems'),
    /** Edges with an end the snapshot does not have. */
    unknownEdges: t('ue'),
    /** Checked and filtered: what the directory should hold. */
    finalUsers: t('fu'),
    heldUsers: t('hu'),
    finalGroups: t('fg'),
    heldGroups: t('hg'),
    finalEdges: t('fe'),
    heldEdges: t('he'),
    /** The diff: what apply will do. */
    diffUsers: t('du'),
    diffGroups: t('dg'),
    diffEdges: t('de'),
    /** Groups whose member set changed since the last apply (see diff.ts). */
    changedGroups: t('cg'),
    /** The desired and live edges of the changed groups, by directory ids where they exist (diff.ts). */
    desiredEdges: t('dx'),
    liveEdges: t('lx'),
    /** Member-set digests to store per group (see diff.ts). */
    diffDigests: t('dd'),
  };
}

export type StageTables = ReturnType<typeof stageTables>;

export async function createStageTables(pool: pg.Pool, t: StageTables): Promise<void> {
  // The schema itself comes from migration 0006 (creating it here raced between workers).
  await pool.query(`
    CREATE UNLOGGED TABLE ${t.users} (
      external_id text NOT NULL, username text, username_key text, username_skeleton text, email text, display_name text,
      given_name text, family_name text, active boolean, attributes jsonb,
      filtered boolean NOT NULL DEFAULT false, problem text, sample jsonb);
    CREATE UNLOGGED TABLE ${t.groups} (
      external_id text NOT NULL, source_name text, name text, description text, attributes jsonb,
      problem text, sample jsonb);
    CREATE UNLOGGED TABLE ${t.edges} (group_id text NOT NULL, member_is_group boolean NOT NULL, member_id text NOT NULL);
    CREATE UNLOGGED TABLE ${t.edgeProblems} (
      object_type text NOT NULL, external_id text, reason text NOT NULL, sample jsonb,
      held boolean NOT NULL DEFAULT false);
  `);
}

/** Drops every table of a run (idempotent). */
export async function dropStageTables(pool: pg.Pool | pg.PoolClient, runId: number): Promise<void> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname = $1 AND tablename LIKE $2`,
    [STAGE_SCHEMA, `r${runId}\\_%`],
  );
  if (rows.length > 0) await pool.query(`DROP TABLE IF EXISTS ${rows.map((r) => r.name).join(', ')}`);
}

/**
 * Drops staging tables left by runs that are no longer running or held: a process killed between
 * its apply's COMMIT and its cleanup leaves a finished run's tables behind. Tables of runs still
 * running elsewhere are left alone, and so are those of a run some backend still works for (a
 * killed process's statement may still be creating one: see reap.ts).
 */
export async function dropStaleStageTables(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ run_id: string }>(
    `SELECT DISTINCT s.run_id
       FROM (SELECT substring(t.tablename from '^r(\\d+)_')::bigint AS run_id
               FROM pg_tables t WHERE t.schemaname = $1) s
      WHERE NOT EXISTS (SELECT 1 FROM dirsync.runs r
                         WHERE r.id = s.run_id AND r.status IN ('running', 'needs_approval'))
        AND ${noBackendOfRunSql('s.run_id')}`,
    [STAGE_SCHEMA],
  );
  for (const r of rows) await dropStageTables(pool, Number(r.run_id));
  return rows.length;
}

const USER_COLUMNS = [
  'external_id',
  'username',
  'username_key',
  'username_skeleton',
  'email',
  'display_name',
  'given_name',
  'family_name',
  'active',
  'attributes',
  'filtered',
  'problem',
  'sample',
];
const GROUP_COLUMNS = [
  'external_id',
  'source_name',
  'name',
  'description',
  'attributes',
  'problem',
  'sample',
];

/** Where the fetch loop writes: one COPY per table, each on its own connection. */
export interface StageSink {
  user(u: TransformedUser, filtered: boolean): Promise<void> | void;
  group(g: TransformedGroup): Promise<void> | void;
  edge(e: SourceEdge): Promise<void> | void;
  problem(p: SourceProblem): Promise<void> | void;
  /** Completes every COPY; resolves once Postgres has all rows. */
  end(): Promise<void>;
  /** Order-independent digest of everything staged (see copy.ts), for the unchanged-snapshot fast path. */
  digest(): string;
  /** True when no edge was staged twice (see `edgeRuns`): check then needs no de-duplication. */
  edgesDistinct(): boolean;
  /** Aborts the COPYs and releases the connections; used when reading fails. */
  abort(err: Error): Promise<void>;
}

const sampleOf = (p: SourceProblem): string | null => {
  if (p.sample === undefined) return null;
  const json = reportableJson(p.sample);
  // Cut long samples without breaking the JSON: a cut one is kept as a JSON string.
  return json.length <= 2000 ? json : JSON.stringify(reportableText(json.slice(0, 2000)));
};

/** Why a group's text cannot be stored as it is (the group is then held), or null. */
export function groupTextFault(g: TransformedGroup): string | null {
  return recordTextFault({
    name: g.sourceName,
    transformedName: g.name,
    description: g.description,
    attributes: g.attributes,
  });
}

/**
 * Drops repeated edges while a source lists each group's members together, as every IdP
 * connector and the file connector's inline member lists do: a group's member keys are kept only
 * while its run lasts, so memory stays at one group's members. Once a group's edges come back after
 * another group's, the edges are no longer known to be distinct and check de-duplicates them in SQL
 * (a million-row DISTINCT, which this saves in the usual case).
 */
export function edgeRuns() {
  let current: string | null = null;
  // Users and groups apart, keyed by the id itself: no key string is built per edge.
  let users = new Set<string>();
  let groups = new Set<string>();
  const done = new Set<string>();
  let grouped = true;
  return {
    /** False when this edge repeats one staged already in the same group's run. */
    fresh(e: SourceEdge): boolean {
      if (!grouped) return true;
      if (e.groupId !== current) {
        if (done.has(e.groupId)) {
          grouped = false;
          done.clear();
          users = new Set();
          groups = new Set();
          return true;
        }
        if (current !== null) done.add(current);
        current = e.groupId;
        users = new Set();
        groups = new Set();
      }
      const members = e.memberType === 'group' ? groups : users;
      if (members.has(e.memberId)) return false;
      members.add(e.memberId);
      return true;
    },
    distinct: () => grouped,
  };
}

export async function openStage(pool: pg.Pool, t: StageTables): Promise<StageSink> {
  const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect(), pool.connect()]);
  const [cu, cg, ce, cp] = clients as [pg.PoolClient, pg.PoolClient, pg.PoolClient, pg.PoolClient];
  const users = startCopy(cu, t.users, USER_COLUMNS);
  const groups = startCopy(cg, t.groups, GROUP_COLUMNS);
  const edges = startCopy(ce, t.edges, ['group_id', 'member_is_group', 'member_id']);
  const edgeProblems = startCopy(cp, t.edgeProblems, [
    'object_type',
    'external_id',
    'reason',
    'sample',
    'held',
  ]);
  const writers: CopyWriter[] = [users, groups, edges, edgeProblems];
  let released = false;
  const release = (destroy: boolean) => {
    if (released) return;
    released = true;
    // A client whose COPY was aborted is in an unknown protocol state: destroy it, do not reuse it.
    for (const c of clients) c.release(destroy ? true : undefined);
  };
  const runs = edgeRuns();
  const heldUser = (id: string, reason: string, sample: string | null) =>
    users.write([id, null, null, null, null, null, null, null, null, null, false, reason, sample]);
  const heldGroup = (id: string, reason: string, sample: string | null) =>
    groups.write([id, null, null, null, null, reason, sample]);
  const recordProblem = (
    objectType: string,
    id: string | null,
    reason: string,
    sample: string | null,
    held = false,
  ) => edgeProblems.write([objectType, id, reason, sample, held]);
  return {
    user(u, filtered) {
      const idFault = textFault(u.externalId);
      if (idFault)
        return recordProblem(
          'user',
          null,
          `the id ${idFault}`,
          reportableJson({ id: u.externalId, username: u.username }),
        );
      const fault = recordTextFault({
        username: u.username,
        email: u.email,
        displayName: u.displayName,
        givenName: u.givenName,
        familyName: u.familyName,
        attributes: u.attributes,
      });
      if (fault) return heldUser(u.externalId, fault, reportableJson({ username: u.username }));
      return users.write([
        u.externalId,
        u.username,
        u.usernameKey,
        u.usernameSkeleton,
        u.email,
        u.displayName,
        u.givenName,
        u.familyName,
        u.active,
        u.attributes,
        filtered,
        u.problem,
        null,
      ]);
    },
    group(g) {
      const idFault = textFault(g.externalId);
      if (idFault)
        return recordProblem(
          'group',
          null,
          `the id ${idFault}`,
          reportableJson({ id: g.externalId, name: g.name }),
        );
      const fault = groupTextFault(g);
      if (fault) return heldGroup(g.externalId, fault, reportableJson({ name: g.sourceName }));
      return groups.write([g.externalId, g.sourceName, g.name, g.description, g.attributes, g.problem, null]);
    },
    edge(e) {
      const fault = textFault(e.groupId) ?? textFault(e.memberId);
      if (fault)
        return recordProblem(
          'membership',
          textFault(e.groupId) ? null : e.groupId,
          `a membership id ${fault}`,
          reportableJson({ group: e.groupId, member: e.memberId }),
        );
      if (!runs.fresh(e)) return;
      return edges.write([e.groupId, e.memberType === 'group', e.memberId]);
    },
    async problem(p) {
      // Filed under its own object type: a user without an id is a user problem, not a membership's.
      const objectType = p.objectType === 'edge' ? 'membership' : p.objectType;
      const id = p.externalId !== null && textFault(p.externalId) === null ? p.externalId : null;
      const reason = reportableText(p.reason);
      const sample = sampleOf(p);
      // A malformed user or group with a known id is also staged as held: the existing object stays
      // as it is (reported once, through the held rows).
      const held = p.objectType !== 'edge' && id !== null;
      await recordProblem(objectType, id, reason, sample, held);
      if (!held) return;
      if (p.objectType === 'user') await heldUser(id, reason, sample);
      else await heldGroup(id, reason, sample);
    },
    digest: () =>
      writers
        .map((w) => w.digest())
        .map((d) => `${d.rows}.${d.a.toString(36)}.${d.b.toString(36)}`)
        .join(':'),
    edgesDistinct: () => runs.distinct(),
    async end() {
      try {
        await Promise.all(writers.map((w) => w.end()));
        release(false);
      } catch (e) {
        release(true);
        throw e;
      }
    },
    async abort(err) {
      for (const w of writers) w.abort(err);
      release(true);
    },
  };
}
