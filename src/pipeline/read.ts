/**
 * Read: the step that stages the snapshot check and diff consume, whatever the mode. Three
 * strategies behind one result:
 * - full: the connector's full read, staged and, untransformed, staged as the new mirror;
 * - incremental: the change feed since the cursor, folded into a delta, staged, and the snapshot
 *   derived from the mirror patched with it (an expired cursor or a switched-off feed falls back
 *   to a full read, and the run records why);
 * - reevaluate: the snapshot derived from the mirror as it is, with no IdP request.
 * The derived snapshot goes through the same fetch (filters, transforms, COPY) as a full read, so
 * both modes end in the same check → diff → guard → apply.
 */
import { createHash } from 'node:crypto';
import type { ConnectorContext, Source } from '../../connectors/types.js';
import { emptyStats } from '../../connectors/types.js';
import { DirsyncError } from '../errors.js';
import {
  createMirrorStage,
  deltaChangesMirror,
  openMirrorSink,
  readMirror,
  readScopedMirror,
  stageMirrorPatch,
  type MirrorAdvance,
} from '../store/mirror.js';
import type { RunContext } from './context.js';
import { FeedDelta } from './feed-delta.js';
import { fetchSnapshot, type FetchResult } from './fetch.js';
import { compileUserFilter } from './filter.js';
import type { ReadPlan } from './mode.js';
import { planScope, type Scope } from './scope.js';
import { createStageTables, openStage } from './stage.js';
import { compileTransforms } from './transform.js';
import { snapshotFingerprint, unchangedSince } from './unchanged.js';

export interface ReadResult {
  /** Digest of the staged (transformed) snapshot; the stored one when nothing was staged. */
  digest: string;
  /** False when the feed changed nothing and the last apply's snapshot still holds (no stage). */
  staged: boolean;
  /** Where the next change feed continues (null: keep the stored cursor). */
  cursor: string | null;
  /** What the apply does with the mirror. */
  advance: MirrorAdvance;
  /** When set, only this scope was staged, and check and diff decide only it (scope.ts). */
  scope: Scope | null;
  /** No edge was staged twice, so check need not de-duplicate them (stage.ts `edgeRuns`). */
  edgesDistinct: boolean;
}

export async function readSnapshot(ctx: RunContext, plan: ReadPlan): Promise<ReadResult> {
  await ctx.setMode(plan.mode, plan.reason);
  ctx.readFingerprint = plan.readFingerprint;
  return ctx.phase('fetch', () =>
    plan.mode === 'incremental'
      ? readFeed(ctx, plan)
      : plan.mode === 'reevaluate'
        ? derive(ctx, plan, null, 'keep', null)
        : readFull(ctx),
  );
}

function connectorContext(ctx: RunContext): ConnectorContext {
  return {
    logger: ctx.log,
    signal: ctx.signal,
    progress: (p) => ctx.progress({ source: p }),
    groupFilter: { include: ctx.cfg.filters.groups.include, exclude: ctx.cfg.filters.groups.exclude },
    activeUsersOnly: ctx.cfg.filters.users.activeOnly,
  };
}

/** Filters, transforms and stages a source's records (the one path every mode's snapshot takes). */
async function stage(ctx: RunContext, source: Source, figure = ''): Promise<FetchResult> {
  await createStageTables(ctx.pool, ctx.t);
  const sink = await openStage(ctx.pool, ctx.t);
  const fetched = await fetchSnapshot(source, sink, {
    transformer: compileTransforms(ctx.cfg.transform),
    userFilter: compileUserFilter(ctx.cfg.filters.users),
    signal: ctx.signal,
    onCount: (c) => ctx.progress({ read: { ...c } }),
  });
  ctx.addFigures({
    [`${figure}users`]: fetched.users,
    [`${figure}groups`]: fetched.groups,
    [`${figure}edges`]: fetched.edges,
    [`${figure}filtered_users`]: fetched.filteredUsers,
  });
  ctx.log.info({ ...fetched, requests: ctx.stats.requests, mode: ctx.mode }, 'snapshot staged');
  return fetched;
}

/**
 * The connector's full read; every raw item is also written to the new mirror as it passes. A
 * connector without a change feed keeps no mirror: it reads in full every time anyway, and the
 * mirror's writes (about a fifth of a full apply) would buy it nothing but `--reevaluate`.
 */
async function readFull(ctx: RunContext): Promise<ReadResult> {
  const source = await ctx.connector.open(ctx.cfg as never, connectorContext(ctx));
  ctx.liveRequests = () => source.stats().requests;
  if (!ctx.connector.openFeed) {
    try {
      const fetched = await stage(ctx, source);
      return {
        digest: fetched.digest,
        staged: true,
        cursor: null,
        advance: 'keep',
        scope: null,
        edgesDistinct: fetched.edgesDistinct,
      };
    } finally {
      ctx.stats = { ...source.stats() };
      await source.close().catch((e) => ctx.log.warn({ err: e }, 'closing the source failed'));
    }
  }
  try {
    await createMirrorStage(ctx.pool, ctx.runId);
    const mirror = await openMirrorSink(ctx.pool, ctx.runId);
    let fetched: FetchResult;
    try {
      fetched = await stage(ctx, {
        ...source,
        stats: () => source.stats(),
        close: () => source.close(),
        async *read() {
          for await (const item of source.read()) {
            const pending = mirror.item(item);
            if (pending) await pending;
            yield item;
          }
        },
      });
      await mirror.end();
    } catch (e) {
      await mirror.abort(e as Error);
      throw e;
    }
    return {
      digest: fetched.digest,
      staged: true,
      cursor: source.cursor?.() ?? null,
      advance: 'adopt',
      scope: null,
      edgesDistinct: fetched.edgesDistinct,
    };
  } finally {
    ctx.stats = { ...source.stats() };
    await source.close().catch((e) => ctx.log.warn({ err: e }, 'closing the source failed'));
  }
}

/**
 * The change feed since the saved cursor. Nothing is written but this run's own tables: a feed
 * that fails mid-read leaves mirror and cursor where they were, and the next run re-reads it.
 */
async function readFeed(ctx: RunContext, plan: ReadPlan): Promise<ReadResult> {
  const openFeed = ctx.connector.openFeed;
  const mirrorRunId = plan.state.mirrorRunId as number;
  const delta = new FeedDelta();
  let cursor: string;
  try {
    if (!openFeed) throw new DirsyncError('DIRSYNC_E_FEED_UNAVAILABLE', 'the connector has no change feed');
    const feed = await openFeed(ctx.cfg as never, connectorContext(ctx), plan.state.cursor as string);
    ctx.liveRequests = () => feed.stats().requests;
    try {
      for await (const item of feed.read()) {
        ctx.checkAbort();
        delta.apply(item);
        if (delta.items % 10_000 === 0) ctx.progress({ source: { phase: 'changes', done: delta.items } });
      }
      cursor = feed.cursor();
    } finally {
      ctx.stats = { ...feed.stats() };
      await feed.close().catch((e) => ctx.log.warn({ err: e }, 'closing the change feed failed'));
    }
  } catch (e) {
    const code = e instanceof DirsyncError ? e.code : null;
    if (code !== 'DIRSYNC_E_CURSOR_EXPIRED' && code !== 'DIRSYNC_E_FEED_UNAVAILABLE') throw e;
    const reason =
      code === 'DIRSYNC_E_CURSOR_EXPIRED'
        ? `cursor expired or rejected: ${(e as Error).message}`
        : `change feed unavailable: ${(e as Error).message}`;
    // Said once: a feed that stays off makes every run full, and the log says so the first time.
    if (plan.previousReason !== reason) ctx.log.warn({ code }, `${reason}; reading in full`);
    const previous = ctx.stats;
    await ctx.setMode('full', reason);
    const result = await readFull(ctx);
    ctx.stats = {
      requests: previous.requests + ctx.stats.requests,
      throttled: previous.throttled + ctx.stats.throttled,
      pages: previous.pages + ctx.stats.pages,
      skipped: previous.skipped + ctx.stats.skipped,
    };
    return result;
  }

  ctx.addFigures(delta.counts());
  const patch = delta.patch();
  await stageMirrorPatch(ctx.pool, ctx.runId, patch);
  // An empty feed needs no look at the mirror at all (its cost must not grow with the directory).
  const changes = !delta.isEmpty() && (await deltaChangesMirror(ctx.pool, mirrorRunId, ctx.runId));
  if (!changes && plan.state.stagedDigest !== null && !ctx.opts.fullResync) {
    // The feed changed nothing: when the config did not change either, the last applied snapshot
    // still holds and nothing needs deriving (the unchanged fast path in evaluate.ts then agrees).
    const fingerprint = snapshotFingerprint(ctx.cfg, plan.state.stagedDigest);
    if ((await unchangedSince(ctx.pool, ctx.cfg, fingerprint)) !== null) {
      return {
        digest: plan.state.stagedDigest,
        staged: false,
        cursor,
        advance: 'keep',
        scope: null,
        edgesDistinct: true,
      };
    }
  }
  const decision = await planScope(ctx.pool, ctx.cfg, ctx.runId, mirrorRunId, plan.state.stagedDigest, patch);
  if (decision.scope) return deriveScope(ctx, decision.scope, plan.state.stagedDigest as string, cursor);
  ctx.log.info({ why: decision.reason }, 'deciding the whole snapshot, not only what changed');
  return derive(ctx, plan, ctx.runId, 'patch', cursor);
}

/**
 * Stages only the scope of the change (scope.ts). The staged digest stands for the mirror this
 * run leaves: the last one's, advanced by this run, so an empty feed next time finds the
 * directory unchanged, and a full read (whose digest differs) decides everything again.
 */
async function deriveScope(
  ctx: RunContext,
  scope: Scope,
  lastDigest: string,
  cursor: string,
): Promise<ReadResult> {
  const fetched = await stage(
    ctx,
    {
      read: () => readScopedMirror(ctx.pool, scope.mirrorRunId, scope.deltaRunId, scope),
      stats: emptyStats,
      close: async () => {},
    },
    'scope_',
  );
  const digest = `scoped:${createHash('sha256').update(`${lastDigest}\n${ctx.runId}`).digest('base64url')}`;
  return { digest, staged: true, cursor, advance: 'patch', scope, edgesDistinct: fetched.edgesDistinct };
}

/** Stages the snapshot the mirror (patched with this run's delta, if any) stands for. */
async function derive(
  ctx: RunContext,
  plan: ReadPlan,
  deltaRunId: number | null,
  advance: MirrorAdvance,
  cursor: string | null,
): Promise<ReadResult> {
  const mirrorRunId = plan.state.mirrorRunId as number;
  const fetched = await stage(ctx, {
    read: () => readMirror(ctx.pool, mirrorRunId, deltaRunId),
    stats: emptyStats,
    close: async () => {},
  });
  return {
    digest: fetched.digest,
    staged: true,
    cursor,
    advance,
    scope: null,
    edgesDistinct: fetched.edgesDistinct,
  };
}
