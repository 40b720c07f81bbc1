/**
 * Settle: what becomes of an evaluated run. Applied (changes, mirror and cursor in one transaction),
 * held for approval (the change set and the mirror update kept for approval; nothing advances), a
 * dry run (recorded only), or unchanged (only the feed position and mirror advance, in a
 * transaction that checks the directory did not move).
 */
import type pg from 'pg';
import { DirsyncError } from '../errors.js';
import { advanceMirror, mirrorStageTables } from '../store/mirror.js';
import { APPLY_LOCK, applyDiff, lockKeySql } from './apply.js';
import type { RunContext, RunEnd } from './context.js';
import { emptyCounts } from './diff.js';
import type { Evaluation } from './evaluate.js';
import { finishRun, recordChanges } from './record.js';
import type { ReadResult } from './read.js';

export async function settle(ctx: RunContext, read: ReadResult, ev: Evaluation): Promise<RunEnd> {
  if (ev.kind === 'unchanged') return settleUnchanged(ctx, read, ev.sameAs);
  const { counts } = ev.diff;
  const guard = ev.trips.length > 0 ? ev.trips : undefined;
  if (ctx.dryRun || guard) {
    await ctx.phase('record', () => recordChanges(ctx.pool, ctx.runId, ctx.t, counts));
    if (ctx.dryRun) return { status: 'succeeded', counts, ...(guard ? { guard } : {}), recorded: false };
    await rememberForApproval(ctx, read);
    const t = ctx.t;
    const m = mirrorStageTables(ctx.runId);
    return {
      status: 'needs_approval',
      counts,
      guard,
      baseVersion: ctx.baseVersion,
      recorded: false,
      // Approval applies exactly this change set and advances the mirror with it.
      keepTables: [
        t.diffUsers,
        t.diffGroups,
        t.diffEdges,
        t.diffDigests,
        ...(read.advance === 'adopt' ? [m.objects, m.edges] : []),
        ...(read.advance === 'patch'
          ? [m.deltaObjects, m.deltaPurge, m.deltaResets, m.deltaEdgeRemovals, m.deltaEdgeAdditions]
          : []),
      ],
    };
  }
  await ctx.phase('apply', () =>
    applyDiff(ctx.pool, ctx.t, {
      connector: ctx.cfg.name,
      kind: ctx.cfg.kind,
      runId: ctx.runId,
      baseVersion: ctx.baseVersion,
      fingerprint: ev.fingerprint,
      counts,
      record: (client) => recordChanges(client, ctx.runId, ctx.t, counts),
      finish: async (client) => {
        await advance(client, ctx, read);
        await finishRun(client, ctx.runId, {
          ...ctx.outcome({ status: 'succeeded', counts }),
          phaseMs: { ...ctx.phaseMs, apply: 0 },
        });
      },
    }),
  );
  return { status: 'succeeded', counts, recorded: true };
}

function advance(client: pg.PoolClient, ctx: RunContext, read: ReadResult): Promise<void> {
  return advanceMirror(client, {
    connector: ctx.cfg.name,
    runId: ctx.runId,
    advance: read.advance,
    cursor: read.cursor,
    stagedDigest: read.digest,
    readFingerprint: ctx.readFingerprint,
  });
}

/** A held run stores what its approval must advance besides the directory. */
async function rememberForApproval(ctx: RunContext, read: ReadResult): Promise<void> {
  await ctx.pool.query(
    `UPDATE dirsync.runs SET next_cursor = $2, staged_digest = $3, read_fingerprint = $4, mirror_advance = $5
      WHERE id = $1`,
    [ctx.runId, read.cursor, read.digest, ctx.readFingerprint, read.advance],
  );
}

/**
 * Nothing to change in the directory; the feed position (and, after a full read, the mirror, whose
 * raw records may differ in what filters and transforms drop) still advance, unless this is a dry run.
 */
async function settleUnchanged(ctx: RunContext, read: ReadResult, sameAs: number): Promise<RunEnd> {
  if (!ctx.dryRun) {
    const client = await ctx.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(${APPLY_LOCK}, ${lockKeySql})`, [ctx.cfg.name]);
      const { rows } = await client.query<{ version: string }>(
        'SELECT version FROM dirsync.directories WHERE connector = $1 FOR UPDATE',
        [ctx.cfg.name],
      );
      if (Number(rows[0]?.version ?? -1) !== ctx.baseVersion) {
        throw new DirsyncError('DIRSYNC_E_DIRECTORY_MOVED', `directory ${ctx.cfg.name} moved during the run`);
      }
      await advance(client, ctx, read);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }
  return { status: 'succeeded', counts: emptyCounts(), unchangedSince: sameAs, recorded: false };
}
