/**
 * What every step of a run shares: the connector's run lock, the run row, the abort signal (timeout
 * or cancellation), phase timings and progress, the source counters and the figures of what was
 * read. It is also the ONE place a run ends: {@link RunContext.succeed} builds the summary from a
 * step's outcome and {@link RunContext.fail} records a failure.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { connectorFor } from '../../connectors/registry.js';
import { emptyStats, type Connector, type SourceStats } from '../../connectors/types.js';
import type { ConnectorConfig } from '../../config/schema.js';
import { DirsyncError, toDirsyncError } from '../errors.js';
import { rootLogger } from '../logger.js';
import { createRunPool, isTransientDatabaseError } from '../store/db.js';
import { directoryVersion, lockKeySql, RUN_LOCK } from './apply.js';
import type { CheckCounts } from './check.js';
import { emptyCounts, type ChangeCounts } from './diff.js';
import type { FetchCounts } from './fetch.js';
import type { GuardTrip } from './guard.js';
import { createRun, finishRun, setPhase, type RunOutcome, type RunTrigger } from './record.js';
import { reapAbandonedRuns, supersedeHeldRuns } from './reap.js';
import { dropStageTables, stageTables, type StageTables } from './stage.js';

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
  /** Read the IdP in full (no change feed) and compare everything, ignoring stored digests. */
  fullResync?: boolean;
  /**
   * Re-derive the directory from the mirror with the current filters and transforms, without
   * any IdP request (after a config change; previewable with `dryRun`).
   */
  reevaluate?: boolean;
  logger?: Logger;
  /** Cancels the run (a worker shutting down). */
  signal?: AbortSignal;
  onProgress?: (p: RunProgress) => void;
  job?: { id?: string; attempt?: number; worker?: string };
}

/** How a run read the IdP: see mode.ts. */
export type ReadMode = 'full' | 'incremental' | 'reevaluate';

export interface RunSummary {
  runId: number;
  connector: string;
  status: 'succeeded' | 'needs_approval';
  dryRun: boolean;
  /** How the run read the IdP, and why (e.g. full, "reconcile due"). */
  mode: ReadMode;
  modeReason: string;
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

/** How a run ended, as the last step (settle.ts) reports it. */
export interface RunEnd {
  status: 'succeeded' | 'needs_approval';
  counts: ChangeCounts;
  guard?: GuardTrip[];
  /** The held run's base version (approval refuses if the directory moved). */
  baseVersion?: number;
  unchangedSince?: number;
  /** True when the run row was already finished inside the apply transaction. */
  recorded: boolean;
  /** The stage tables the run keeps (a held run keeps what approval needs); others are dropped. */
  keepTables?: string[];
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

export class RunContext {
  readonly phaseMs: Record<string, number> = {};
  /** What was read and checked, for the run record ("users", "synced_users", "feed_items", ...). */
  readonly figures: Record<string, number> = {};
  stats: SourceStats = emptyStats();
  mode: ReadMode = 'full';
  modeReason = '';
  /** The read-relevant config's fingerprint (mode.ts), stored with a mirror a full read produced. */
  readFingerprint: string | null = null;
  /** Live request counter of the source being read, for progress reports. */
  liveRequests: () => number = () => 0;
  readonly t: StageTables;
  readonly log: Logger;
  readonly dryRun: boolean;
  private currentPhase = 'starting';
  private lastProgressWrite = 0;

  private constructor(
    readonly opts: RunSyncOptions,
    /** The run's own connections, named after it (createRunPool); `opts.pool` is the shared one. */
    readonly pool: pg.Pool,
    readonly cfg: ConnectorConfig,
    readonly connector: Connector,
    readonly runId: number,
    readonly baseVersion: number,
    private readonly abort: AbortController,
    private readonly release: () => Promise<void>,
  ) {
    this.t = stageTables(runId);
    this.log = (opts.logger ?? rootLogger()).child({ connector: cfg.name, runId });
    this.dryRun = opts.dryRun ?? false;
  }

  /**
   * Takes the connector's run lock (single flight: a session advisory lock on its own connection,
   * so a second run fails fast instead of racing this one), creates the run row and arms the timeout.
   */
  static async start(opts: RunSyncOptions): Promise<RunContext> {
    const { pool, config: cfg } = opts;
    // Runs whose process died (a CLI killed with SIGKILL, a worker on a lost machine) and held runs
    // that can no longer be approved are closed by whoever runs next, with their staging tables.
    await reapAbandonedRuns(pool, { connector: cfg.name });
    await supersedeHeldRuns(pool, { connector: cfg.name });
    const lockClient = await pool.connect();
    const { rows } = await lockClient.query<{ ok: boolean; version: number }>(
      `SELECT pg_try_advisory_lock(${RUN_LOCK}, ${lockKeySql}) AS ok,
              current_setting('server_version_num')::int AS version`,
      [cfg.name],
    );
    if (!rows[0]?.ok) {
      lockClient.release();
      throw new DirsyncError('DIRSYNC_E_RUN_IN_PROGRESS', cfg.name);
    }
    const abort = new AbortController();
    // The lock lives as long as this session: if the connection dies (a database restart), another
    // run may start, so this one stops (retryably) instead of carrying on unguarded.
    let lockLost: Error | null = null;
    const onLockError = (e: Error) => {
      lockLost = e;
      abort.abort(
        new DirsyncError('DIRSYNC_E_DB_UNAVAILABLE', `lost the run lock's connection: ${e.message}`, {
          cause: e,
        }),
      );
    };
    lockClient.on('error', onLockError);
    const timer = setTimeout(
      () =>
        abort.abort(
          new DirsyncError('DIRSYNC_E_RUN_TIMEOUT', `${cfg.name} ran longer than ${cfg.maxRunDuration} ms`),
        ),
      cfg.maxRunDuration,
    );
    timer.unref();
    const onOuterAbort = () =>
      abort.abort(opts.signal?.reason ?? new DirsyncError('DIRSYNC_E_RUN_CANCELLED'));
    opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
    let runPool: pg.Pool | undefined;
    const release = async () => {
      clearTimeout(timer);
      // The run's own connections close first: once the lock is free the run may be reaped, and
      // the reaper waits for exactly these. Bounded: a client a step never gave back must not
      // keep the lock taken (its backend still keeps the reaper and the table sweep away).
      if (runPool) {
        let bound: NodeJS.Timeout | undefined;
        await Promise.race([
          runPool.end().catch(() => {}),
          new Promise<void>((resolve) => (bound = setTimeout(resolve, 30_000))),
        ]);
        clearTimeout(bound);
      }
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
    };
    try {
      const runId = await createRun(pool, {
        connector: cfg.name,
        kind: cfg.kind,
        trigger: opts.trigger ?? 'cli',
        dryRun: opts.dryRun ?? false,
        fullResync: opts.fullResync ?? false,
        jobId: opts.job?.id,
        attempt: opts.job?.attempt,
        worker: opts.job?.worker,
      });
      const baseVersion = await directoryVersion(pool, cfg.name, cfg.kind);
      runPool = createRunPool(pool, runId, rows[0].version);
      const ctx = new RunContext(
        opts,
        runPool,
        cfg,
        opts.connector ?? connectorFor(cfg.kind),
        runId,
        baseVersion,
        abort,
        release,
      );
      ctx.log.info({ trigger: opts.trigger ?? 'cli', dryRun: ctx.dryRun }, 'run started');
      return ctx;
    } catch (e) {
      await release();
      throw classifyRunError(e);
    }
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  checkAbort(): void {
    if (this.abort.signal.aborted) throw this.abort.signal.reason;
  }

  /** Runs one timed phase; the run row shows it while it runs. */
  async phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.checkAbort();
    this.currentPhase = name;
    await setPhase(this.pool, this.runId, name);
    this.opts.onProgress?.({ runId: this.runId, phase: name });
    const started = performance.now();
    try {
      return await fn();
    } finally {
      this.phaseMs[name] = (this.phaseMs[name] ?? 0) + Math.round(performance.now() - started);
    }
  }

  progress(p: Omit<RunProgress, 'runId' | 'phase'>): void {
    const full: RunProgress = {
      runId: this.runId,
      phase: this.currentPhase,
      ...p,
      requests: this.liveRequests(),
    };
    this.opts.onProgress?.(full);
    const now = Date.now();
    if (now - this.lastProgressWrite > 1000) {
      this.lastProgressWrite = now;
      void setPhase(this.pool, this.runId, this.currentPhase, full).catch(() => {});
    }
  }

  /** Records how the run reads the IdP (the mode may change once: a feed that fails over to a full read). */
  async setMode(mode: ReadMode, reason: string): Promise<void> {
    this.mode = mode;
    this.modeReason = reason;
    await this.pool.query('UPDATE dirsync.runs SET mode = $2, mode_reason = $3 WHERE id = $1', [
      this.runId,
      mode,
      reason,
    ]);
  }

  addFigures(f: FetchCounts | CheckCounts | Record<string, number>): void {
    Object.assign(this.figures, f);
  }

  /** The run row's outcome fields, as stored by `finishRun`. */
  outcome(
    end: Pick<RunEnd, 'counts' | 'guard' | 'baseVersion'> & { status: RunOutcome['status'] },
  ): RunOutcome {
    return {
      status: end.status,
      phaseMs: { ...this.phaseMs },
      snapshot: { ...this.figures },
      counts: end.counts,
      requests: this.stats.requests,
      throttled: this.stats.throttled,
      ...(end.guard ? { guard: end.guard } : {}),
      ...(end.baseVersion !== undefined ? { baseVersion: end.baseVersion } : {}),
    };
  }

  /** The one place a successful (or held) run ends: its record, its stage tables, its summary. */
  async succeed(end: RunEnd): Promise<RunSummary> {
    if (end.recorded) {
      // The apply time is known only after COMMIT; store it without touching anything else.
      await this.pool.query(`UPDATE dirsync.runs SET phase_ms = $2 WHERE id = $1`, [
        this.runId,
        JSON.stringify(this.phaseMs),
      ]);
    } else {
      await finishRun(this.pool, this.runId, this.outcome(end));
    }
    await this.dropTables(end.keepTables ?? []);
    if (end.recorded) {
      // Held runs computed against the directory this apply just moved can never be approved now.
      const superseded = await supersedeHeldRuns(this.pool, { connector: this.cfg.name });
      if (superseded.length > 0) this.log.info({ superseded }, 'held runs superseded by this run');
    }
    this.log.info(
      {
        status: end.status,
        mode: this.mode,
        reason: this.modeReason,
        counts: end.counts,
        phaseMs: this.phaseMs,
      },
      end.status === 'needs_approval' ? 'deletion guard tripped: run held for approval' : 'run succeeded',
    );
    return {
      runId: this.runId,
      connector: this.cfg.name,
      status: end.status,
      dryRun: this.dryRun,
      mode: this.mode,
      modeReason: this.modeReason,
      counts: end.counts,
      snapshot: { ...this.figures },
      phaseMs: this.phaseMs,
      requests: this.stats.requests,
      throttled: this.stats.throttled,
      ...(end.guard && end.guard.length > 0 ? { guard: end.guard } : {}),
      ...(end.unchangedSince !== undefined ? { unchangedSince: end.unchangedSince } : {}),
    };
  }

  /** Records a failure (nothing was applied: apply is one transaction) and returns the error to throw. */
  async fail(e: unknown): Promise<RunError> {
    const err: RunError = classifyRunError(
      // Once aborted, the reason (timeout, shutdown, lost lock) is what happened, whatever error the
      // interrupted step threw (the Okta SDK reports an abort as its own cancellation).
      this.abort.signal.aborted ? this.abort.signal.reason : e,
    );
    err.runId = this.runId;
    await finishRun(this.pool, this.runId, {
      ...this.outcome({ status: 'failed', counts: emptyCounts() }),
      error: err,
    }).catch(() => {});
    await dropStageTables(this.pool, this.runId).catch(() => {});
    this.log.error({ code: err.code, err: err.message, mode: this.mode }, 'run failed');
    return err;
  }

  /** Releases the run lock and the timers. */
  async close(): Promise<void> {
    await this.release();
  }

  private async dropTables(keep: string[]): Promise<void> {
    if (keep.length === 0) {
      await dropStageTables(this.pool, this.runId);
      return;
    }
    const { rows } = await this.pool.query<{ name: string }>(
      `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
        WHERE schemaname = 'dirsync_stage' AND tablename LIKE $1 AND NOT (schemaname || '.' || tablename = ANY($2::text[]))`,
      [`r${this.runId}\\_%`, keep],
    );
    if (rows.length > 0) await this.pool.query(`DROP TABLE IF EXISTS ${rows.map((r) => r.name).join(', ')}`);
  }
}
