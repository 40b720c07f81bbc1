/**
 * Pruning the run change log (`changeLog.retention`): the change detail of runs that finished
 * longer ago than the retention is deleted, and the run is marked (`runs.changes_pruned_at`).
 *
 * One run per transaction, marked and emptied together: a reader (history, a run page, a Crowd
 * event poll in its snapshot) sees a run either with all its changes or marked pruned with none,
 * never a partial log. The largest transaction is the largest run, which was itself written in one
 * apply transaction. Runs are taken oldest first with SKIP LOCKED, so several workers pruning at
 * once share the work instead of waiting for each other. Runs without a finish time (running, or
 * held for approval) are never pruned: a held run's changes are what its approver reads.
 */
import type pg from 'pg';

export interface PruneResult {
  /** Runs whose change detail was pruned. */
  runs: number;
  /** Change rows deleted. */
  changes: number;
  /** True when the time budget ran out with prunable runs left (the next pass continues). */
  more: boolean;
}

export interface PruneOptions {
  /** Stop starting new runs after this long (default 10 s), so one pass never blocks maintenance. */
  budgetMs?: number;
  /** The present (tests); default the database's clock. */
  now?: Date;
}

/** Prunes the change detail of runs that finished more than `retentionMs` ago. */
export async function pruneChangeLog(
  pool: pg.Pool,
  retentionMs: number,
  opts: PruneOptions = {},
): Promise<PruneResult> {
  const deadline = Date.now() + (opts.budgetMs ?? 10_000);
  const result: PruneResult = { runs: 0, changes: 0, more: false };
  for (;;) {
    if (Date.now() >= deadline) {
      result.more = true;
      return result;
    }
    const client = await pool.connect();
    let failure: Error | undefined;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ id: string }>(
        `SELECT id FROM dirsync.runs
          WHERE changes_pruned_at IS NULL
            AND finished_at < coalesce($2::timestamptz, now()) - make_interval(secs => $1::double precision / 1000)
          ORDER BY finished_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [retentionMs, opts.now ?? null],
      );
      const run = rows[0];
      if (!run) {
        await client.query('COMMIT');
        return result;
      }
      const deleted = await client.query('DELETE FROM dirsync.run_changes WHERE run_id = $1', [run.id]);
      await client.query('UPDATE dirsync.runs SET changes_pruned_at = now() WHERE id = $1', [run.id]);
      await client.query('COMMIT');
      result.runs++;
      result.changes += deleted.rowCount ?? 0;
    } catch (e) {
      failure = e as Error;
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      // A connection that failed mid-transaction is discarded, not handed to the next user.
      client.release(failure);
    }
  }
}
