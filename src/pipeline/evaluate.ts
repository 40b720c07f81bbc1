/**
 * Evaluate: what the staged snapshot means for the directory. Either the unchanged fast path (the
 * snapshot and the relevant config are those of the last apply, against a directory nobody moved
 * since: see unchanged.ts), or check → diff → guard over the staged snapshot. The same for every
 * read mode: an incremental run is checked and guarded exactly like a full one.
 */
import type { CheckCounts } from './check.js';
import { checkSnapshot } from './check.js';
import type { RunContext } from './context.js';
import { diffSnapshot, type DiffResult } from './diff.js';
import { evaluateGuard, type GuardTrip } from './guard.js';
import type { ReadResult } from './read.js';
import { copyProblems, snapshotFingerprint, unchangedSince } from './unchanged.js';

export type Evaluation =
  | { kind: 'unchanged'; fingerprint: string; sameAs: number }
  | { kind: 'changes'; fingerprint: string; checked: CheckCounts; diff: DiffResult; trips: GuardTrip[] };

export async function evaluate(ctx: RunContext, read: ReadResult): Promise<Evaluation> {
  const { pool, cfg } = ctx;
  const fingerprint = snapshotFingerprint(cfg, read.digest);
  const sameAs = ctx.opts.fullResync ? null : await unchangedSince(pool, cfg, fingerprint);
  if (sameAs !== null) {
    const carried = await copyProblems(pool, sameAs, ctx.runId);
    const { rows } = await pool.query<{ snapshot: Record<string, number> }>(
      'SELECT snapshot FROM dirsync.runs WHERE id = $1',
      [sameAs],
    );
    // The earlier run's figures still describe the directory; this run's own read figures win.
    ctx.addFigures({ ...(rows[0]?.snapshot ?? {}), ...ctx.figures, unchanged_since_run: sameAs });
    ctx.log.info({ sameAs, carriedProblems: carried }, 'snapshot unchanged since the last applied run');
    return { kind: 'unchanged', fingerprint, sameAs };
  }
  const db = await pool.connect();
  try {
    const checked = await ctx.phase('check', () =>
      checkSnapshot(db, ctx.t, cfg, read.scope, read.edgesDistinct),
    );
    ctx.addFigures({
      synced_users: checked.users,
      synced_groups: checked.groups,
      synced_edges: checked.edges,
      held_users: checked.heldUsers,
      held_groups: checked.heldGroups,
      held_edges: checked.heldEdges,
      skipped_edges: checked.skippedEdges,
      problems: checked.problems,
    });
    if (checked.problems > 0) ctx.log.warn({ ...checked }, 'records held or skipped; see run problems');
    const diff = await ctx.phase('diff', () =>
      diffSnapshot(db, ctx.t, cfg, ctx.opts.fullResync ?? false, read.scope),
    );
    ctx.log.info({ counts: diff.counts }, 'diff computed');
    const m = diff.counts.memberships;
    // What the directory holds once this diff applies: the next run in scope reads it from here.
    ctx.addFigures({
      directory_users: diff.usersAfter,
      directory_active_users: diff.activeUsersAfter,
      directory_memberships: diff.membershipsAfter,
    });
    if (read.scope) {
      // In scope only the scope's edges were staged: the directory's count is the last one, moved.
      const { rows: prev } = await db.query<{ edges: string | null }>(
        `SELECT snapshot->>'synced_edges' AS edges FROM dirsync.runs WHERE id = $1`,
        [read.scope.previousRun],
      );
      const before = prev[0]?.edges;
      ctx.addFigures({
        synced_edges:
          before == null ? diff.existing.memberships + m.add - m.remove : Number(before) + m.add - m.remove,
      });
    }
    return { kind: 'changes', fingerprint, checked, diff, trips: evaluateGuard(diff, checked.users, cfg) };
  } finally {
    db.release();
  }
}
