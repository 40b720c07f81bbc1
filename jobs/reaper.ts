/**
 * Run rows whose owner is gone. A worker killed with SIGKILL (or a lost machine) leaves its run row
 * at `running`; the directory itself is untouched (apply is one transaction). This marks such rows
 * failed so the history and the dashboard tell the truth.
 *
 * "Owner gone" is decided by the pipeline's own single-flight lock rather than by BullMQ state or
 * age: a live run holds the session advisory lock (RUN_LOCK, connector) for its whole duration, on
 * a connection that dies with its process. So a `running` row of a connector whose lock nobody
 * holds is abandoned — whoever started it (a worker, the CLI). Age alone would be wrong both ways
 * (a slow live run is not abandoned; runSync already fails runs past maxRunDuration itself), and
 * the BullMQ job's state says nothing about CLI runs or a job retried elsewhere.
 *
 * One statement, so it cannot race a run starting: a run takes the lock before inserting its row,
 * so every row visible to this statement's snapshot already had its lock taken, and pg_locks is
 * read after that snapshot. A row that finishes meanwhile is re-checked by the UPDATE (its status
 * is no longer `running`).
 */
import type pg from 'pg';
import { RUN_LOCK, lockKeySql } from '../src/pipeline/apply.js';

/** The lock key of the row's connector, exactly as the pipeline computes it. */
const rowLockKey = lockKeySql.replace('$1', 'r.connector');

export interface ReapedRun {
  id: number;
  connector: string;
  jobId: string | null;
}

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
      RETURNING r.id, r.connector, r.job_id`,
    [opts.connector ?? null],
  );
  return rows.map((r) => ({ id: Number(r.id), connector: r.connector, jobId: r.job_id }));
}
