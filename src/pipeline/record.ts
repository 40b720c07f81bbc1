/**
 * Record: the run row (status, phase, timings, counts) and the change log of every run.
 */
import type pg from 'pg';
import type { DirsyncError } from '../errors.js';
import type { ChangeCounts } from './diff.js';
import type { GuardTrip } from './guard.js';
import type { StageTables } from './stage.js';

export type RunStatus =
  'running' | 'succeeded' | 'failed' | 'needs_approval' | 'approved' | 'rejected' | 'superseded';
export type RunTrigger = 'cli' | 'schedule' | 'manual' | 'approve' | 'test' | 'demo';

export interface NewRun {
  connector: string;
  kind: string;
  trigger: RunTrigger;
  dryRun: boolean;
  fullResync?: boolean;
  jobId?: string;
  attempt?: number;
  worker?: string;
}

export async function createRun(db: pg.Pool, r: NewRun): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO dirsync.runs (connector, kind, trigger, status, dry_run, full_resync, job_id, attempt, worker)
     VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8) RETURNING id`,
    [
      r.connector,
      r.kind,
      r.trigger,
      r.dryRun,
      r.fullResync ?? false,
      r.jobId ?? null,
      r.attempt ?? null,
      r.worker ?? null,
    ],
  );
  return Number(rows[0]?.id);
}

export async function setPhase(db: pg.Pool, runId: number, phase: string, progress?: unknown): Promise<void> {
  await db.query(`UPDATE dirsync.runs SET phase = $2, progress = $3 WHERE id = $1 AND status = 'running'`, [
    runId,
    phase,
    progress === undefined ? null : JSON.stringify(progress),
  ]);
}

export interface RunOutcome {
  status: RunStatus;
  phaseMs: Record<string, number>;
  snapshot: Record<string, number>;
  counts: ChangeCounts;
  requests: number;
  throttled: number;
  guard?: GuardTrip[];
  baseVersion?: number;
  error?: DirsyncError;
}

export async function finishRun(db: pg.Pool | pg.PoolClient, runId: number, o: RunOutcome): Promise<void> {
  await db.query(
    `UPDATE dirsync.runs r
        SET status = $2, phase = $3, finished_at = CASE WHEN $2 = 'needs_approval' THEN NULL ELSE now() END,
            phase_ms = $4, snapshot = $5, counts = $6, requests = $7, throttled = $8, guard = $9,
            base_version = $10, error_code = $11, error_message = $12, progress = NULL,
            -- The directory's size as applications see it once this run is over (size-over-time chart).
            figures = jsonb_build_object(
              'users', (SELECT count(*) FROM dirsync.users u WHERE u.connector = r.connector),
              'active', (SELECT count(*) FROM dirsync.users u WHERE u.connector = r.connector AND u.active),
              'groups', (SELECT count(*) FROM dirsync.groups g WHERE g.connector = r.connector))
      WHERE r.id = $1`,
    [
      runId,
      o.status,
      o.status === 'needs_approval' ? 'awaiting approval' : 'done',
      JSON.stringify(o.phaseMs),
      JSON.stringify(o.snapshot),
      JSON.stringify(o.counts),
      o.requests,
      o.throttled,
      o.guard ? JSON.stringify(o.guard) : null,
      o.baseVersion ?? null,
      o.error?.code ?? null,
      o.error?.message ?? null,
    ],
  );
}

/**
 * Copies a run's diff tables into the change log (set-based; a million rows is one statement).
 * `counts` (what diff.ts counted in those tables) lets statements with nothing to copy be skipped.
 */
export async function recordChanges(
  db: pg.Pool | pg.PoolClient,
  runId: number,
  t: StageTables,
  counts?: ChangeCounts,
): Promise<void> {
  const users = counts ? Object.values(counts.users).reduce((a, b) => a + b, 0) : 1;
  const groups = counts ? Object.values(counts.groups).reduce((a, b) => a + b, 0) : 1;
  if (users + groups > 0) {
    await db.query(
      `INSERT INTO dirsync.run_changes (run_id, object_type, operation, external_id, label, before, after)
       SELECT $1::bigint, 'user', op, external_id, username, before, after FROM ${t.diffUsers}
       UNION ALL
       SELECT $1::bigint, 'group', op, external_id, name, before, after FROM ${t.diffGroups}`,
      [runId],
    );
  }
  // One row per group, operation and member type, with the members as arrays. Removed members'
  // names are captured from the directory before apply changes anything (a removed member may be
  // deleted in the same run); added members exist after apply, so their names are not copied:
  // readers join them (this keeps a first sync of a million edges cheap to record). The group's
  // name is joined to the ten thousand grouped rows, not to the million edges.
  if (!counts || counts.memberships.add > 0) {
    await db.query(
      `INSERT INTO dirsync.run_changes (run_id, object_type, operation, external_id, label, member_type, member_ids)
       SELECT $1::bigint, 'membership', 'add', a.group_id, g.name, a.member_type, a.member_ids
         FROM (SELECT d.group_id, CASE WHEN d.member_is_group THEN 'group' ELSE 'user' END AS member_type,
                      array_agg(d.member_id) AS member_ids
                 FROM ${t.diffEdges} d
                WHERE d.op = 'add'
                GROUP BY d.group_id, d.member_is_group) a
         JOIN ${t.finalGroups} g ON g.external_id = a.group_id`,
      [runId],
    );
  }
  if (!counts || counts.memberships.remove > 0) {
    await db.query(
      `INSERT INTO dirsync.run_changes (run_id, object_type, operation, external_id, label, member_type, member_ids, member_labels)
       SELECT $1::bigint, 'membership', 'remove', x.group_id, min(x.label), x.member_type,
              array_agg(x.member_id ORDER BY x.member_id), array_agg(x.member_label ORDER BY x.member_id)
         FROM (
           SELECT d.group_id, g.name AS label, 'user' AS member_type, d.member_id, u.username AS member_label
             FROM ${t.diffEdges} d
             JOIN dirsync.groups g ON g.id = d.group_pk
             JOIN dirsync.users u ON u.id = d.member_pk
            WHERE d.op = 'remove' AND NOT d.member_is_group
           UNION ALL
           SELECT d.group_id, g.name, 'group', d.member_id, m.name
             FROM ${t.diffEdges} d
             JOIN dirsync.groups g ON g.id = d.group_pk
             JOIN dirsync.groups m ON m.id = d.member_pk
            WHERE d.op = 'remove' AND d.member_is_group
         ) x
        GROUP BY x.group_id, x.member_type`,
      [runId],
    );
  }
}
