/**
 * Housekeeping any process does before it runs a connector (worker, CLI, approval): runs whose
 * owner is gone are closed, held runs that can never be approved are closed, and the staging
 * tables of both are dropped (tens of MB per run at 50k users).
 *
 * "Owner gone" is decided by the pipeline's own single-flight lock rather than by BullMQ state or
 * age: a live run holds the session advisory lock (RUN_LOCK, connector) for its whole duration, on
 * a connection that dies with its process (SIGKILL, a lost machine, a database restart). So a
 * `running` row of a connector whose lock nobody holds is abandoned — whoever started it. Age alone
 * would be wrong both ways, and a BullMQ job's state says nothing about CLI runs.
 *
 * One statement, so it cannot race a run starting: a run takes the lock before inserting its row,
 * so every row visible to this statement's snapshot already had its lock taken, and pg_locks is
 * read after that snapshot. A row that finishes meanwhile is re-checked by the UPDATE.
 *
 * A free lock is not yet enough. A SIGKILLed process's idle lock session ends at once, but a
 * statement it had sent on another connection runs on (a CI soak caught one creating a staging
 * table after the reaper had dropped the run's tables). Such a statement runs under the run's
 * own application_name (createRunPool), so a run is abandoned only once no backend of that name
 * is left; with client_connection_check_interval that takes about a second.
 */
import type pg from 'pg';
import { noBackendOfRunSql } from '../store/db.js';
import { RUN_LOCK, lockKeySql } from './apply.js';
import { dropStageTables, dropStaleStageTables } from './stage.js';

/** The lock key of the row's connector, exactly as the pipeline computes it. */
const rowLockKey = lockKeySql.replace('$1', 'r.connector');

export interface ReapedRun {
  id: number;
  connector: string;
  jobId: string | null;
}

/**
 * Marks `running` rows whose run lock nobody holds as failed, and drops their staging tables, and
 * those any finished run left behind (dropStaleStageTables).
 */
export async function reapAbandonedRuns(
  pool: pg.Pool,
  opts: { connector?: string } = {},
): Promise<ReapedRun[]> {
  const { rows } = await pool.query<{ id: string; connector: string; job_id: string | null }>(
    `UPDATE dirsync.runs r
        SET status = 'failed', phase = 'done', finished_at = now(), progress = NULL,
            error_code = 'DIRSYNC_E_RUN_CANCELLED',
            error_message = 'The run was cancelled: abandoned while ' || r.phase
              || ' (its process stopped without finishing it; nothing was applied)'
      WHERE r.status = 'running'
        AND ($1::text IS NULL OR r.connector = $1)
        AND NOT EXISTS (
          SELECT 1 FROM pg_locks l
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.classid = ${RUN_LOCK}::oid
             AND l.objid = (${rowLockKey})::oid)
        AND ${noBackendOfRunSql('r.id')}
      RETURNING r.id, r.connector, r.job_id`,
    [opts.connector ?? null],
  );
  // The runs just reaped are among them: failed now, with no backend left.
  await dropStaleStageTables(pool);
  return rows.map((r) => ({ id: Number(r.id), connector: r.connector, jobId: r.job_id }));
}

export interface SupersededRun {
  id: number;
  connector: string;
}

/**
 * Closes held runs whose change set was computed against a directory version that is no longer
 * current (a newer run or an approval applied since): approval would refuse them with
 * DIRECTORY_MOVED, so they are marked `superseded` and their diff tables dropped.
 */
export async function supersedeHeldRuns(
  db: pg.Pool,
  opts: { connector?: string } = {},
): Promise<SupersededRun[]> {
  const { rows } = await db.query<{ id: string; connector: string }>(
    `UPDATE dirsync.runs r
        SET status = 'superseded', phase = 'done', finished_at = now(), resolved_at = now(),
            resolved_by = 'dirsync',
            error_message = 'superseded: the directory changed (version ' || d.version
              || ') since this change set was computed (version ' || r.base_version || ')'
       FROM dirsync.directories d
      WHERE r.status = 'needs_approval' AND d.connector = r.connector
        AND ($1::text IS NULL OR r.connector = $1)
        AND r.base_version IS DISTINCT FROM d.version
      RETURNING r.id, r.connector`,
    [opts.connector ?? null],
  );
  for (const r of rows) await dropStageTables(db, Number(r.id));
  return rows.map((r) => ({ id: Number(r.id), connector: r.connector }));
}
