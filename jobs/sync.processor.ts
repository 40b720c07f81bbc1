/**
 * The processor: one job = one `runSync` of one connector. Idempotent by construction — a run reads
 * a complete snapshot and converges the directory, so running a job twice (a retry, a stalled job
 * recovered after a crash) is safe.
 *
 * Outcomes:
 * - success or held for approval → the job completes with a small `SyncJobResult`;
 * - the connector is busy (`DIRSYNC_E_RUN_IN_PROGRESS`: another worker, machine or the CLI holds
 *   its advisory lock) → the job is moved back to delayed and tried again later, without using an
 *   attempt and without failing (the queue-level dedup makes this rare; the lock makes it safe);
 * - a retryable error → the job fails this attempt and BullMQ retries it with `syncBackoff`;
 * - a non-retryable one (config, auth, invalid snapshot) → `UnrecoverableError`, failed at once;
 * - the worker shutting down past its grace period → runSync is cancelled through its `signal`
 *   (its row is marked failed, nothing is applied) and the job goes back to the queue for another
 *   worker.
 * Every attempt that reaches the pipeline is one row in `runs` (runSync records it, with the job id,
 * attempt and worker).
 */
import { DelayedError, UnrecoverableError, type Job, type MinimalJob } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { DirsyncConfig } from '../config/schema.js';
import { classifyRunError, runSync, type RunError, type RunProgress } from '../src/pipeline/run.js';
import { recordRunFailure, recordRunSummary, type SyncMetrics } from './metrics.js';
import { BACKOFF_TYPE, type SyncJobData, type SyncJobProgress, type SyncJobResult } from './payloads.js';
import { reapAbandonedRuns } from './reaper.js';

export interface SyncProcessorDeps {
  config: Pick<DirsyncConfig, 'connectors'>;
  pool: pg.Pool;
  logger: Logger;
  /** Stored on every run row (`runs.worker`). */
  workerId: string;
  metrics?: SyncMetrics;
  /** Aborted when the worker gives up on its in-flight runs (shutdown past the grace period). */
  shutdown: AbortSignal;
  /** How long a job waits before trying a busy connector again (a random extra of up to 50%). */
  busyRetryMs?: number;
  /** Minimum interval between two progress reports of one job (phase changes are always sent). */
  progressIntervalMs?: number;
}

/** The error a failed attempt leaves in BullMQ: the code first, so `failedReason` is greppable. */
export class SyncJobError extends Error {
  readonly code: string;
  readonly retryAfterMs?: number;
  readonly runId?: number;
  constructor(err: RunError) {
    super(`${err.code}: ${err.message}${err.runId ? ` (run ${err.runId})` : ''}`);
    this.name = 'SyncJobError';
    this.code = err.code;
    if (err.retryAfterMs !== undefined) this.retryAfterMs = err.retryAfterMs;
    if (err.runId !== undefined) this.runId = err.runId;
  }
}

function unrecoverable(err: RunError): UnrecoverableError {
  return new UnrecoverableError(new SyncJobError(err).message);
}

/**
 * Exponential backoff with "equal jitter" (half fixed, half random, so retries of many connectors
 * failing together — an IdP outage — spread out), capped at `maxMs`, and never shorter than the
 * IdP's Retry-After when the error carries one. The base delay is the job's `backoff.delay`.
 */
export function syncBackoff(maxMs: number, random: () => number = Math.random) {
  return (attemptsMade: number, type?: string, err?: Error, job?: MinimalJob): number => {
    const backoff = job?.opts.backoff;
    const base = typeof backoff === 'object' && backoff.delay !== undefined ? backoff.delay : 30_000;
    if (type !== undefined && type !== BACKOFF_TYPE) return base;
    const exp = Math.min(maxMs, base * 2 ** Math.max(0, attemptsMade - 1));
    const delay = Math.round(exp / 2 + random() * (exp / 2));
    const retryAfter = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
    return typeof retryAfter === 'number' && retryAfter > delay ? retryAfter : delay;
  };
}

/** Throttles `job.updateProgress`: at most one report per interval, but every phase change at once. */
function progressReporter(job: Job<SyncJobData>, attempt: number, intervalMs: number) {
  let last = 0;
  let lastPhase = '';
  return (p: RunProgress) => {
    const now = Date.now();
    if (p.phase === lastPhase && now - last < intervalMs) return;
    last = now;
    lastPhase = p.phase;
    const report: SyncJobProgress = { ...p, connector: job.data.connector, attempt };
    job.updateProgress(report as unknown as object).catch(() => {});
  };
}

async function failureFigures(pool: pg.Pool, runId: number | undefined) {
  if (!runId) return undefined;
  const { rows } = await pool
    .query<{ requests: number; throttled: number }>(
      'SELECT requests, throttled FROM dirsync.runs WHERE id = $1',
      [runId],
    )
    .catch(() => ({ rows: [] as { requests: number; throttled: number }[] }));
  return rows[0];
}

export function createSyncProcessor(deps: SyncProcessorDeps) {
  const busyRetryMs = deps.busyRetryMs ?? 5000;
  const progressIntervalMs = deps.progressIntervalMs ?? 1000;

  return async function processSyncJob(job: Job<SyncJobData>, token?: string): Promise<SyncJobResult> {
    const { connector } = job.data;
    const jobLog = deps.logger.child({ jobId: job.id });
    const log = jobLog.child({ connector });
    const attempt = job.attemptsMade + 1;
    const cfg = deps.config.connectors.find((c) => c.name === connector);
    if (!cfg) {
      // A job of a connector removed from the config: nothing to retry.
      throw new UnrecoverableError(`DIRSYNC_E_CONNECTOR_UNKNOWN: no connector "${connector}" is configured`);
    }

    if (job.data.jitterMs && !job.data.jittered) {
      // Cron jitter (see schedule.ts): start this connector's scheduled run its offset later, once.
      await job.updateData({ ...job.data, jittered: true });
      await job.moveToDelayed(Date.now() + job.data.jitterMs, token);
      throw new DelayedError();
    }

    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const reaped = await reapAbandonedRuns(deps.pool, { connector });
      if (reaped.length > 0) log.warn({ reaped }, 'marked runs abandoned by a stopped worker as failed');
      const summary = await runSync({
        pool: deps.pool,
        config: cfg,
        trigger: job.data.trigger,
        fullResync: job.data.fullResync ?? false,
        // runSync adds { connector, runId } itself.
        logger: jobLog,
        signal: deps.shutdown,
        onProgress: progressReporter(job, attempt, progressIntervalMs),
        job: { ...(job.id ? { id: job.id } : {}), attempt, worker: deps.workerId },
      });
      if (deps.metrics) recordRunSummary(deps.metrics, summary, seconds());
      return {
        connector,
        runId: summary.runId,
        status: summary.status,
        counts: summary.counts,
        requests: summary.requests,
        throttled: summary.throttled,
      };
    } catch (e) {
      const err: RunError = classifyRunError(e);
      if (err.code === 'DIRSYNC_E_RUN_IN_PROGRESS') {
        const wait = Math.round(busyRetryMs * (1 + Math.random() / 2));
        log.info({ retryInMs: wait }, 'another run of this connector is in progress; trying again later');
        await job.moveToDelayed(Date.now() + wait, token);
        throw new DelayedError();
      }
      if (deps.shutdown.aborted && err.code === 'DIRSYNC_E_RUN_CANCELLED') {
        log.warn({ runId: err.runId }, 'run abandoned for shutdown; job handed back to the queue');
        await job.moveToDelayed(Date.now() + 1000, token);
        throw new DelayedError();
      }
      const attempts = job.opts.attempts ?? 1;
      const final = !err.retryable || attempt >= attempts;
      if (deps.metrics) {
        recordRunFailure(
          deps.metrics,
          connector,
          final ? 'failed' : 'retrying',
          seconds(),
          await failureFigures(deps.pool, err.runId),
        );
      }
      log[final ? 'error' : 'warn'](
        { runId: err.runId, code: err.code, attempt, attempts, retryable: err.retryable },
        final ? 'sync job failed' : 'sync attempt failed; will retry',
      );
      throw err.retryable ? new SyncJobError(err) : unrecoverable(err);
    }
  };
}
