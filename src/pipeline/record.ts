/**
 * Record: the run row (status, phase, timings, counts) and the change log of every run.
 */
import type pg from 'pg';
import type { DirsyncError } from '../errors.js';
import type { ChangeCounts } from './diff.js';
import type { GuardTrip } from './guard.js';
import type { StageTables } from './stage.js';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'needs_approval' | 'approved' | 'rejected';
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
    `UPDATE dirsync.runs
        SET status = $2, phase = $3, finished_at = CASE WHEN $2 = 'needs_approval' THEN NULL ELSE now() END,
            phase_ms = $4, snapshot = $5, counts = $6, requests = $7, throttled = $8, guard = $9,
            base_version = $10, error_code = $11, error_message = $12, progress = NULL
      WHERE id = $1`,
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

/** Copies a run's diff tables into the change log (set-based; a million rows is one statement). */
export async function recordChanges(
  db: pg.Pool | pg.PoolClient,
  runId: number,
  t: StageTables,
): Promise<void> {
  await db.query(
    `INSERT INTO dirsync.run_changes (run_id, object_type, operation, external_id, label, before, after)
     SELECT $1::bigint, 'user', op, external_id, username, before, after FROM ${t.diffUsers}
     UNION ALL
     SELECT $1::bigint, 'group', op, external_id, name, before, after FROM ${t.diffGroups}`,
    [runId],
  );
  // Labels come from the snapshot for additions and from the directory for removals (a removed
  // member may be deleted in the same run, so its name is taken before apply changes anything).
  await db.query(
    `INSERT INTO dirsync.run_changes (run_id, object_type, operation, external_id, label, member_type, member_external_id, member_label)
     SELECT $1::bigint, 'membership', d.op, d.group_id, coalesce(fg.name, lg.name),
            CASE WHEN d.member_is_group THEN 'group' ELSE 'user' END, d.member_id,
            CASE WHEN d.member_is_group THEN coalesce(fmg.name, lmg.name) ELSE coalesce(fu.username, lu.username) END
       FROM ${t.diffEdges} d
       LEFT JOIN ${t.finalGroups} fg ON d.op = 'add' AND fg.external_id = d.group_id
       LEFT JOIN dirsync.groups lg ON d.op = 'remove' AND lg.id = d.group_pk
       LEFT JOIN ${t.finalGroups} fmg ON d.op = 'add' AND d.member_is_group AND fmg.external_id = d.member_id
       LEFT JOIN dirsync.groups lmg ON d.op = 'remove' AND d.member_is_group AND lmg.id = d.member_pk
       LEFT JOIN ${t.finalUsers} fu ON d.op = 'add' AND NOT d.member_is_group AND fu.external_id = d.member_id
       LEFT JOIN dirsync.users lu ON d.op = 'remove' AND NOT d.member_is_group AND lu.id = d.member_pk`,
    [runId],
  );
}
