/**
 * Approval of runs the deletion guard held: approve applies exactly the stored change set (and
 * refuses if the directory moved since it was computed); reject discards it.
 */
import type pg from 'pg';
import { DirsyncError } from '../errors.js';
import { advanceMirror, mirrorStageTables, type MirrorAdvance } from '../store/mirror.js';
import { applyDiff, isChangeCounts, RUN_LOCK, lockKeySql } from './apply.js';
import type { ChangeCounts } from './diff.js';
import { supersedeHeldRuns } from './reap.js';
import { dropStageTables, stageTables } from './stage.js';

interface HeldRun {
  id: string;
  connector: string;
  kind: string;
  status: string;
  base_version: string | null;
  mirror_advance: MirrorAdvance | null;
  next_cursor: string | null;
  staged_digest: string | null;
  read_fingerprint: string | null;
  /** What diff.ts counted in the held change set (see record.ts: finishRun). */
  counts: ChangeCounts | null;
}

async function heldRun(db: pg.Pool, runId: number): Promise<HeldRun> {
  const { rows } = await db.query<HeldRun>(
    `SELECT id, connector, kind, status, base_version, mirror_advance, next_cursor, staged_digest, read_fingerprint,
            counts
       FROM dirsync.runs WHERE id = $1`,
    [runId],
  );
  const run = rows[0];
  if (!run) throw new DirsyncError('DIRSYNC_E_RUN_NOT_FOUND', `run ${runId}`);
  if (run.status === 'superseded') {
    // A later apply moved the directory: this change set was computed against a state that is gone.
    throw new DirsyncError(
      'DIRSYNC_E_DIRECTORY_MOVED',
      `run ${runId} was superseded: the directory changed since it was computed; the next run compares again`,
    );
  }
  if (run.status !== 'needs_approval') {
    throw new DirsyncError('DIRSYNC_E_RUN_NOT_HELD', `run ${runId} is ${run.status}`);
  }
  return run;
}

/** Holds the connector's run lock around `fn`, so approval never races a sync of the same directory. */
async function withRunLock<T>(pool: pg.Pool, connector: string, fn: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>(
      `SELECT pg_try_advisory_lock(${RUN_LOCK}, ${lockKeySql}) AS ok`,
      [connector],
    );
    if (!rows[0]?.ok) throw new DirsyncError('DIRSYNC_E_RUN_IN_PROGRESS', connector);
    try {
      return await fn();
    } finally {
      await client
        .query(`SELECT pg_advisory_unlock(${RUN_LOCK}, ${lockKeySql})`, [connector])
        .catch(() => {});
    }
  } finally {
    client.release();
  }
}

export async function approveRun(pool: pg.Pool, runId: number, by = 'cli'): Promise<void> {
  const first = await heldRun(pool, runId);
  await withRunLock(pool, first.connector, async () => {
    const run = await heldRun(pool, runId);
    const t = stageTables(runId);
    // What the held run's read would have done with the mirror (runs held before there was one: keep).
    const advance: MirrorAdvance = run.mirror_advance ?? 'keep';
    const m = mirrorStageTables(runId);
    const needed = [
      t.diffUsers,
      t.diffGroups,
      t.diffEdges,
      t.diffDigests,
      ...(advance === 'adopt' ? [m.objects, m.edges] : []),
      ...(advance === 'patch'
        ? [m.deltaObjects, m.deltaPurge, m.deltaResets, m.deltaEdgeRemovals, m.deltaEdgeAdditions]
        : []),
    ];
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_tables WHERE schemaname || '.' || tablename = ANY($1::text[])`,
      [needed],
    );
    if (Number(rows[0]?.n) !== needed.length) {
      await markResolved(pool, runId, 'failed', by, new DirsyncError('DIRSYNC_E_STAGE_LOST', `run ${runId}`));
      throw new DirsyncError(
        'DIRSYNC_E_STAGE_LOST',
        `run ${runId}: sync again to compute a fresh change set`,
      );
    }
    if (advance !== 'keep') {
      // The change set was computed against the mirror and cursor of its time. A later run that
      // succeeded without changing the directory (the feed showed the changes reverted, so the
      // snapshot was unchanged) advanced mirror and cursor without moving the directory's version:
      // approving now would apply stale changes and move the cursor back.
      const { rows: later } = await pool.query<{ id: string }>(
        `SELECT id FROM dirsync.runs
          WHERE connector = $1 AND id > $2 AND NOT dry_run AND status IN ('succeeded', 'approved')
          ORDER BY id LIMIT 1`,
        [run.connector, runId],
      );
      if (later[0]) {
        const e = new DirsyncError(
          'DIRSYNC_E_DIRECTORY_MOVED',
          `run ${later[0].id} advanced ${run.connector}'s mirror and change-feed cursor since run ${runId} was held; sync again`,
        );
        await markResolved(pool, runId, 'failed', by, e);
        await dropStageTables(pool, runId);
        throw e;
      }
    }
    try {
      await applyDiff(pool, t, {
        connector: run.connector,
        kind: run.kind,
        runId,
        baseVersion: Number(run.base_version),
        ...(isChangeCounts(run.counts) ? { counts: run.counts } : {}),
        record: async () => {},
        finish: async (client) => {
          // The mirror and the feed position advance with exactly the change set that was held.
          await advanceMirror(client, {
            connector: run.connector,
            runId,
            advance,
            cursor: run.next_cursor,
            stagedDigest: run.staged_digest,
            readFingerprint: run.read_fingerprint,
          });
          await markResolved(client, runId, 'approved', by);
        },
      });
    } catch (e) {
      if (e instanceof DirsyncError && e.code === 'DIRSYNC_E_DIRECTORY_MOVED') {
        // The change set can never apply now: close the run so nobody approves it later by mistake.
        await markResolved(pool, runId, 'failed', by, e);
        await dropStageTables(pool, runId);
      }
      throw e;
    }
    await dropStageTables(pool, runId);
    // Other held runs of this directory were computed against the version this approval moved.
    await supersedeHeldRuns(pool, { connector: run.connector });
  });
}

export async function rejectRun(pool: pg.Pool, runId: number, by = 'cli'): Promise<void> {
  await heldRun(pool, runId);
  const { rowCount } = await pool.query(
    `UPDATE dirsync.runs SET status = 'rejected', resolved_at = now(), resolved_by = $2, finished_at = now(), phase = 'done'
      WHERE id = $1 AND status = 'needs_approval'`,
    [runId, by],
  );
  if (!rowCount) throw new DirsyncError('DIRSYNC_E_RUN_NOT_HELD', `run ${runId}`);
  await dropStageTables(pool, runId);
}

async function markResolved(
  db: pg.Pool | pg.PoolClient,
  runId: number,
  status: 'approved' | 'failed',
  by: string,
  error?: DirsyncError,
): Promise<void> {
  await db.query(
    `UPDATE dirsync.runs SET status = $2, resolved_at = now(), resolved_by = $3, finished_at = now(), phase = 'done',
            error_code = $4, error_message = $5
      WHERE id = $1`,
    [runId, status, by, error?.code ?? null, error?.message ?? null],
  );
}
