/**
 * One sync run, top to bottom in the order data flows:
 * fetch → (filter, transform) → stage → check → diff → guard → apply → record.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { connectorFor } from '../../connectors/registry.js';
import type { Connector, Source, SourceStats } from '../../connectors/types.js';
import type { ConnectorConfig } from '../../config/schema.js';
import { DirsyncError, toDirsyncError } from '../errors.js';
import { rootLogger } from '../logger.js';
import { isTransientDatabaseError } from '../store/db.js';
import { reapAbandonedRuns, supersedeHeldRuns } from './reap.js';
import { applyDiff, directoryVersion, RUN_LOCK, lockKeySql } from './apply.js';
import { checkSnapshot, type CheckCounts } from './check.js';
import { diffSnapshot, emptyCounts, type ChangeCounts, type DiffResult } from './diff.js';
import { fetchSnapshot, type FetchCounts, type FetchResult } from './fetch.js';
import { compileUserFilter } from './filter.js';
import { evaluateGuard, type GuardTrip } from './guard.js';
import { createRun, finishRun, recordChanges, setPhase, type RunTrigger } from './record.js';
import { createStageTables, dropStageTables, dropStaleStageTables, openStage, stageTables } from './stage.js';
import { compileTransforms } from './transform.js';
import { copyProblems, snapshotFingerprint, unchangedSince } from './unchanged.js';

export interface RunProgress {
  runId: number;
  phase: string;
  /** Records read so far, by kind (during fetch). */
  read?: FetchCounts;
  /** The source's own progress (e.g. "members", done 120 of 800 groups). */
  source?: { phase: string; done: number; total?: number };
  requests?: number;
}

export interface RunSyncOptions {
  pool: pg.Pool;
  config: ConnectorConfig;
  /** Defaults to the registered connector of `config.kind`. */
  connector?: Connector;
  trigger?: RunTrigger;
  /** Compute and record the changes without applying them. */
  dryRun?: boolean;
  /** Ignore incremental cursors (for connectors that have them). */
  fullResync?: boolean;
  logger?: Logger;
  /** Cancels the run (a worker shutting down). */
  signal?: AbortSignal;
  onProgress?: (p: RunProgress) => void;
  job?: { id?: string; attempt?: number; worker?: string };
}

export interface RunSummary {
  runId: number;
  connector: string;
  status: 'succeeded' | 'needs_approval';
  dryRun: boolean;
  counts: ChangeCounts;
  snapshot: Record<string, number>;
  phaseMs: Record<string, number>;
  requests: number;
  throttled: number;
  guard?: GuardTrip[];
  /**
   * Set when the snapshot was identical to the one the directory was last synced from (and nothing
   * changed the directory since): the run skipped check and diff. The id is that earlier run's.
   */
  unchangedSince?: number;
}

/** A failed run's error carries the run id so callers can point at the run's record. */
export type RunError = DirsyncError & { runId?: number };

function snapshotFigures(f: FetchResult | null, c: CheckCounts | null): Record<string, number> {
  const out: Record<string, number> = {};
  if (f)
    Object.assign(out, { users: f.users, groups: f.groups, edges: f.edges, filtered_users: f.filteredUsers });
  if (c) {
    Object.assign(out, {
      synced_users: c.users,
      synced_groups: c.groups,
      synced_edges: c.edges,
      held_users: c.heldUsers,
      held_groups: c.heldGroups,
      held_edges: c.heldEdges,
      skipped_edges: c.skippedEdges,
      problems: c.problems,
    });
  }
  return out;
}

/** Any error as a DirsyncError; a database that went away mid-run is retryable, not internal. */
export function classifyRunError(e: unknown): DirsyncError {
  // A COPY stream cut by a database restart surfaces from the fetch as a source failure; say what
  // really failed (both are retryable).
  if (e instanceof DirsyncError && e.code === 'DIRSYNC_E_SOURCE_FAILED' && isDatabaseGone(e.cause)) {
    return new DirsyncError('DIRSYNC_E_DB_UNAVAILABLE', e.message, { cause: e });
  }
  if (e instanceof DirsyncError) return e;
  return toDirsyncError(e, isTransientDatabaseError(e) ? 'DIRSYNC_E_DB_UNAVAILABLE' : 'DIRSYNC_E_INTERNAL');
}

/** A Postgres error saying the server went away (admin shutdown, crash, connection failure). */
function isDatabaseGone(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^(57P0[123]|08...)$/.test(code);
}

export async function runSync(opts: RunSyncOptions): Promise<RunSummary> {
  const { pool, config: cfg } = opts;
  const connector = opts.connector ?? connectorFor(cfg.kind);
  const dryRun = opts.dryRun ?? false;

  // Single flight per connector: a session advisory lock held for the whole run, on its own
  // connection, so a second run (another worker, a CLI) fails fast instead of racing this one.
  const abort = new AbortController();
  // Runs whose process died (a CLI killed with SIGKILL, a worker on a lost machine) and held runs
  // that can no longer be approved are closed by whoever runs next, with their staging tables.
  await reapAbandonedRuns(pool, { connector: cfg.name });
  await supersedeHeldRuns(pool, { connector: cfg.name });
  const lockClient = await pool.connect();
  const { rows: lockRows } = await lockClient.query<{ ok: boolean }>(
    `SELECT pg_try_advisory_lock(${RUN_LOCK}, ${lockKeySql}) AS ok`,
    [cfg.name],
  );
  if (!lockRows[0]?.ok) {
    lockClient.release();
    throw new DirsyncError('DIRSYNC_E_RUN_IN_PROGRESS', cfg.name);
  }
  // The lock lives as long as this session: if the connection dies (a database restart), another
  // run may start, so this one stops (retryably) instead of carrying on unguarded.
  let lockLost: Error | null = null;
  const onLockError = (e: Error) => {
    lockLost = e;
    abort.abort(
      new DirsyncError('DIRSYNC_E_DB_UNAVAILABLE', `lost the run lock's connection: ${e.message}`, { cause: e }),
    );
  };
  lockClient.on('error', onLockError);

  const phaseMs: Record<string, number> = {};
  let fetched: FetchResult | null = null;
  let checked: CheckCounts | null = null;
  let diff: DiffResult | null = null;
  let source: Source | null = null;
  let stats: SourceStats = { requests: 0, throttled: 0, pages: 0, skipped: 0 };
  let runId = 0;
  const timer = setTimeout(
    () =>
      abort.abort(
        new DirsyncError('DIRSYNC_E_RUN_TIMEOUT', `${cfg.name} ran longer than ${cfg.maxRunDuration} ms`),
      ),
    cfg.maxRunDuration,
  );
  timer.unref();
  const onOuterAbort = () => abort.abort(opts.signal?.reason ?? new DirsyncError('DIRSYNC_E_RUN_CANCELLED'));
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const checkAbort = () => {
    if (abort.signal.aborted) throw abort.signal.reason;
  };

  try {
    runId = await createRun(pool, {
      connector: cfg.name,
      kind: cfg.kind,
      trigger: opts.trigger ?? 'cli',
      dryRun,
      fullResync: opts.fullResync ?? false,
      jobId: opts.job?.id,
      attempt: opts.job?.attempt,
      worker: opts.job?.worker,
    });
    const log = (opts.logger ?? rootLogger()).child({ connector: cfg.name, runId });
    const t = stageTables(runId);
    let currentPhase = 'fetch';
    let lastProgressWrite = 0;
    const progress = (p: Omit<RunProgress, 'runId' | 'phase'>) => {
      const full: RunProgress = { runId, phase: currentPhase, ...p, requests: source?.stats().requests ?? 0 };
      opts.onProgress?.(full);
      const now = Date.now();
      if (now - lastProgressWrite > 1000) {
        lastProgressWrite = now;
        void setPhase(pool, runId, currentPhase, full).catch(() => {});
      }
    };
    const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      checkAbort();
      currentPhase = name;
      await setPhase(pool, runId, name);
      opts.onProgress?.({ runId, phase: name });
      const started = performance.now();
      try {
        return await fn();
      } finally {
        phaseMs[name] = Math.round(performance.now() - started);
      }
    };

    log.info({ trigger: opts.trigger ?? 'cli', dryRun }, 'run started');
    await dropStaleStageTables(pool);
    const baseVersion = await directoryVersion(pool, cfg.name, cfg.kind);

    fetched = await phase('fetch', async () => {
      await createStageTables(pool, t);
      const transformer = compileTransforms(cfg.transform);
      const userFilter = compileUserFilter(cfg.filters.users);
      source = await connector.open(cfg as never, {
        logger: log,
        signal: abort.signal,
        progress: (p) => progress({ source: p }),
        groupFilter: { include: cfg.filters.groups.include, exclude: cfg.filters.groups.exclude },
        activeUsersOnly: cfg.filters.users.activeOnly,
      });
      try {
        const sink = await openStage(pool, t);
        return await fetchSnapshot(source, sink, {
          transformer,
          userFilter,
          signal: abort.signal,
          onCount: (c) => progress({ read: { ...c } }),
        });
      } finally {
        stats = { ...(source as Source).stats() };
        await (source as Source).close().catch((e) => log.warn({ err: e }, 'closing the source failed'));
      }
    });
    log.info({ ...fetched, requests: stats.requests, throttled: stats.throttled }, 'snapshot staged');

    const fingerprint = snapshotFingerprint(cfg, (fetched as FetchResult).digest);
    const sameAs = opts.fullResync ? null : await unchangedSince(pool, cfg, fingerprint);
    if (sameAs !== null) {
      const carried = await copyProblems(pool, sameAs, runId);
      const { rows: prev } = await pool.query<{ snapshot: Record<string, number> }>(
        'SELECT snapshot FROM dirsync.runs WHERE id = $1',
        [sameAs],
      );
      const figures = {
        ...(prev[0]?.snapshot ?? {}),
        ...snapshotFigures(fetched, null),
        unchanged_since_run: sameAs,
      };
      await finishRun(pool, runId, {
        status: 'succeeded',
        phaseMs,
        snapshot: figures,
        counts: emptyCounts(),
        requests: stats.requests,
        throttled: stats.throttled,
      });
      await dropStageTables(pool, runId);
      log.info(
        { sameAs, carriedProblems: carried },
        'snapshot unchanged since the last applied run: nothing to do',
      );
      return {
        runId,
        connector: cfg.name,
        status: 'succeeded',
        dryRun,
        counts: emptyCounts(),
        snapshot: figures,
        phaseMs,
        requests: stats.requests,
        throttled: stats.throttled,
        unchangedSince: sameAs,
      };
    }

    const db = await pool.connect();
    try {
      checked = await phase('check', () => checkSnapshot(db, t, cfg));
      if (checked.problems > 0) log.warn({ ...checked }, 'records held or skipped; see run problems');
      diff = await phase('diff', () => diffSnapshot(db, t, cfg, opts.fullResync ?? false));
    } finally {
      db.release();
    }
    const d = diff;
    log.info({ counts: d.counts }, 'diff computed');

    const trips = evaluateGuard(d, checked.users, cfg);
    const base = {
      phaseMs,
      counts: d.counts,
      requests: stats.requests,
      throttled: stats.throttled,
    };
    const snapshot = () => snapshotFigures(fetched, checked);

    if (dryRun || trips.length > 0) {
      await phase('record', async () => {
        await recordChanges(pool, runId, t);
      });
      const held = !dryRun && trips.length > 0;
      await finishRun(pool, runId, {
        ...base,
        snapshot: snapshot(),
        status: held ? 'needs_approval' : 'succeeded',
        ...(held ? { guard: trips, baseVersion } : trips.length > 0 ? { guard: trips } : {}),
      });
      if (held) {
        // Keep only what approval needs: the diff tables.
        await pool.query(
          `DROP TABLE IF EXISTS ${[
            t.users,
            t.groups,
            t.edges,
            t.edgeProblems,
            t.unknownEdges,
            t.finalUsers,
            t.heldUsers,
            t.finalGroups,
            t.heldGroups,
            t.finalEdges,
            t.heldEdges,
            t.changedGroups,
          ].join(', ')}`,
        );
        log.warn({ guard: trips }, 'deletion guard tripped: run held for approval');
      } else {
        await dropStageTables(pool, runId);
        log.info('dry run: nothing applied');
      }
      return {
        runId,
        connector: cfg.name,
        status: held ? 'needs_approval' : 'succeeded',
        dryRun,
        counts: d.counts,
        snapshot: snapshot(),
        phaseMs,
        requests: stats.requests,
        throttled: stats.throttled,
        ...(trips.length > 0 ? { guard: trips } : {}),
      };
    }

    await phase('apply', () =>
      applyDiff(pool, t, {
        connector: cfg.name,
        kind: cfg.kind,
        runId,
        baseVersion,
        fingerprint,
        record: (client) => recordChanges(client, runId, t),
        finish: (client) =>
          finishRun(client, runId, {
            ...base,
            phaseMs: { ...phaseMs, apply: 0 },
            snapshot: snapshot(),
            status: 'succeeded',
          }),
      }),
    );
    // The apply time is known only after COMMIT; store it without touching anything else.
    await pool.query(`UPDATE dirsync.runs SET phase_ms = $2 WHERE id = $1`, [runId, JSON.stringify(phaseMs)]);
    await dropStageTables(pool, runId);
    // Held runs computed against the directory this apply just moved can never be approved now.
    const superseded = await supersedeHeldRuns(pool, { connector: cfg.name });
    if (superseded.length > 0) log.info({ superseded }, 'held runs superseded by this run');
    log.info({ counts: d.counts, phaseMs }, 'run succeeded');
    return {
      runId,
      connector: cfg.name,
      status: 'succeeded',
      dryRun,
      counts: d.counts,
      snapshot: snapshot(),
      phaseMs,
      requests: stats.requests,
      throttled: stats.throttled,
    };
  } catch (e) {
    const err: RunError = classifyRunError(
      // Once aborted, the reason (timeout, shutdown, lost lock) is what happened, whatever error the
      // interrupted step threw (the Okta SDK reports an abort as its own cancellation).
      abort.signal.aborted ? abort.signal.reason : e,
    );
    if (runId > 0) {
      err.runId = runId;
      await finishRun(pool, runId, {
        status: 'failed',
        phaseMs,
        snapshot: snapshotFigures(fetched, checked),
        counts: (diff as DiffResult | null)?.counts ?? emptyCounts(),
        requests: stats.requests,
        throttled: stats.throttled,
        error: err,
      }).catch(() => {});
      await dropStageTables(pool, runId).catch(() => {});
      (opts.logger ?? rootLogger()).error(
        { connector: cfg.name, runId, code: err.code, err: err.message },
        'run failed',
      );
    }
    throw err;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onOuterAbort);
    if (lockLost) {
      lockClient.release(lockLost);
    } else {
      await lockClient
        .query(`SELECT pg_advisory_unlock(${RUN_LOCK}, ${lockKeySql})`, [cfg.name])
        .catch(() => {});
      lockClient.release();
    }
    lockClient.off('error', onLockError);
  }
}
