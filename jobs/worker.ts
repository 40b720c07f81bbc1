/**
 * A sync worker: takes jobs from the shared queue (any number of worker processes on any number of
 * machines may share it), `concurrency` runs at a time — of different connectors; a second run of a
 * connector waits for the first (see sync.processor.ts).
 *
 * At start: Redis must answer (else one DIRSYNC_E_REDIS_UNAVAILABLE), run rows abandoned by a dead
 * worker are marked failed, the schedulers are brought in line with the config, and the
 * last-success gauge is seeded from the history.
 *
 * Shutdown (`close()`, SIGTERM, SIGINT): stop taking jobs, let running ones finish for
 * `shutdownGraceMs`, then cancel them through runSync's `signal` — a cancelled run applies nothing
 * (apply is one transaction) and its job goes back to the queue for another worker. A second signal
 * cancels at once.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Worker } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import { DEFAULT_CHANGE_RETENTION_MS, type DirsyncConfig } from '../config/schema.js';
import { DirsyncError } from '../src/errors.js';
import { rootLogger } from '../src/logger.js';
import { loadLastSuccess, syncMetrics, type SyncMetrics } from './metrics.js';
import {
  DEFAULT_RETRY,
  SYNC_QUEUE,
  type RetryPolicy,
  type SyncJobData,
  type SyncJobResult,
} from './payloads.js';
import {
  assertRedis,
  connectRedis,
  openSyncQueue,
  redisUrl as defaultRedisUrl,
  type SyncQueue,
} from './queue.js';
import { configProblems, recordConnectorProblems } from './health.js';
import { reapAbandonedRuns, supersedeHeldRuns } from './reaper.js';
import { pruneChangeLog } from '../src/store/retention.js';
import { missingSchedules, syncSchedules } from './schedule.js';
import { isTransientDatabaseError } from '../src/store/db.js';
import { startAlertMonitor } from '../src/alerts/monitor.js';
import { createSyncProcessor, syncBackoff } from './sync.processor.js';

export interface StartWorkerOptions {
  config: Pick<DirsyncConfig, 'connectors' | 'queue' | 'alerts' | 'changeLog'>;
  pool: pg.Pool;
  /** Default `REDIS_URL` or redis://127.0.0.1:6379. */
  redisUrl?: string;
  /** Runs at once in this process; default `config.queue.concurrency`. */
  concurrency?: number;
  logger?: Logger;
  /** Stored on run rows; default `<host>:<pid>:<random>`. */
  workerId?: string;
  retry?: RetryPolicy;
  /** Upsert/remove the schedulers from the config at start (default true). */
  schedules?: boolean;
  /** Close on SIGTERM/SIGINT (default true). */
  handleSignals?: boolean;
  /** How long running jobs may finish on shutdown before they are cancelled (default 10 s). */
  shutdownGraceMs?: number;
  /** BullMQ job lock; a dead worker's job is recovered once it expires (default 30 s). */
  lockDuration?: number;
  /** How often this worker looks for stalled jobs (default 30 s). */
  stalledInterval?: number;
  /** How long a job waits before retrying a busy connector (default 5 s). */
  busyRetryMs?: number;
  metrics?: SyncMetrics;
  /**
   * How often this worker checks that every scheduler is still in Redis, reaps dead runs and
   * prunes the change log (`changeLog.retention`); default 60 s. Schedulers are also re-asserted
   * whenever the Redis connection comes back.
   */
  maintenanceIntervalMs?: number;
}

export interface SyncWorker {
  id: string;
  queue: SyncQueue;
  worker: Worker<SyncJobData, SyncJobResult>;
  /** Stops taking jobs, waits (up to the grace period) for running ones, releases everything. */
  close(): Promise<void>;
  /** Settles once the worker is closed (by `close()` or a signal). */
  closed: Promise<void>;
}

export async function startWorker(o: StartWorkerOptions): Promise<SyncWorker> {
  const url = o.redisUrl ?? defaultRedisUrl();
  const id = o.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const log = (o.logger ?? rootLogger()).child({ worker: id });
  const retry = o.retry ?? DEFAULT_RETRY;
  const metrics = o.metrics ?? syncMetrics();
  await assertRedis(url);

  const connection = connectRedis(url);
  const queue = openSyncQueue({ prefix: o.config.queue.prefix, connection });
  const shutdown = new AbortController();
  let worker: Worker<SyncJobData, SyncJobResult> | null = null;
  // Alerts run beside the jobs, never inside one: a slow receiver cannot delay a sync.
  const alerts = o.config.alerts
    ? startAlertMonitor({
        pool: o.pool,
        connectors: () => o.config.connectors.map((c) => c.name),
        alerts: o.config.alerts,
        logger: log,
      })
    : null;
  const release = async () => {
    await alerts?.close();
    await worker?.close(true).catch(() => {});
    await queue.close().catch(() => {});
    await connection.quit().catch(() => connection.disconnect());
  };

  const withSchedules = o.schedules ?? true;
  try {
    const reaped = await reapAbandonedRuns(o.pool);
    if (reaped.length > 0) log.warn({ reaped }, 'marked runs abandoned by a stopped worker as failed');
    await supersedeHeldRuns(o.pool);
    // A connector that cannot run (a missing secret, a refused schedule) is reported, not fatal.
    const problems = configProblems(o.config);
    if (withSchedules) {
      const r = await syncSchedules(queue, o.config.connectors, { retry, logger: log });
      for (const f of r.failed) {
        problems.set(f.connector, [
          ...(problems.get(f.connector) ?? []),
          {
            path: `connectors.${f.connector}.schedule`,
            reason: `the queue refused the schedule: ${f.reason}`,
          },
        ]);
      }
    }
    await recordConnectorProblems(
      o.pool,
      o.config.connectors.map((c) => c.name),
      problems,
      id,
      log,
    );
    await loadLastSuccess(metrics, o.pool);

    const processor = createSyncProcessor({
      config: o.config,
      pool: o.pool,
      logger: log,
      workerId: id,
      metrics,
      shutdown: shutdown.signal,
      ...(o.busyRetryMs !== undefined ? { busyRetryMs: o.busyRetryMs } : {}),
    });
    worker = new Worker<SyncJobData, SyncJobResult>(SYNC_QUEUE, processor, {
      connection,
      prefix: o.config.queue.prefix,
      concurrency: o.concurrency ?? o.config.queue.concurrency,
      name: id,
      ...(o.lockDuration !== undefined ? { lockDuration: o.lockDuration } : {}),
      ...(o.stalledInterval !== undefined ? { stalledInterval: o.stalledInterval } : {}),
      settings: { backoffStrategy: syncBackoff(retry.maxMs) },
    });
    worker.on('error', (err) => log.error({ err: err.message }, 'worker error'));
    worker.on('stalled', (jobId) => log.warn({ jobId }, 'stalled job recovered (its worker stopped)'));
    await worker.waitUntilReady();
  } catch (e) {
    await release();
    // Say what failed: the database, Redis, or something else (not "Redis" for everything).
    if (e instanceof DirsyncError) throw e;
    // pg's server errors carry a severity; its socket errors say "Connection terminated".
    const fromPostgres =
      (e as { severity?: unknown }).severity !== undefined ||
      /Connection terminated/.test((e as Error).message);
    if (fromPostgres && isTransientDatabaseError(e))
      throw new DirsyncError('DIRSYNC_E_DB_UNAVAILABLE', (e as Error).message, { cause: e });
    if (fromPostgres) throw new DirsyncError('DIRSYNC_E_INTERNAL', (e as Error).message, { cause: e });
    if (/redis|connection is closed|ECONNREFUSED/i.test((e as Error).message))
      throw new DirsyncError('DIRSYNC_E_REDIS_UNAVAILABLE', (e as Error).message, { cause: e });
    throw new DirsyncError('DIRSYNC_E_INTERNAL', (e as Error).message, { cause: e });
  }
  const w = worker;
  log.info(
    { concurrency: o.concurrency ?? o.config.queue.concurrency, prefix: o.config.queue.prefix },
    'worker started',
  );

  // Redis may lose its data (a restart without persistence, a failover, a flush): the schedulers
  // would be gone for good, since they are written only here. So they are re-asserted whenever the
  // connection comes back, and checked periodically; either repair is logged.
  let maintaining = false;
  const maintain = async (why: 'reconnect' | 'periodic') => {
    if (maintaining) return;
    maintaining = true;
    try {
      if (withSchedules) {
        const missing = await missingSchedules(queue, o.config.connectors);
        if (missing.length > 0 || why === 'reconnect') {
          if (missing.length > 0)
            log.warn({ missing, why }, 'schedulers missing from Redis (data lost?); re-asserting them');
          const r = await syncSchedules(queue, o.config.connectors, { retry });
          log.info({ upserted: r.upserted, failed: r.failed, why }, 'schedules re-asserted');
        }
      }
      const reaped = await reapAbandonedRuns(o.pool);
      if (reaped.length > 0) log.warn({ reaped }, 'marked runs abandoned by a stopped process as failed');
      const superseded = await supersedeHeldRuns(o.pool);
      if (superseded.length > 0) log.info({ superseded }, 'held runs superseded');
      const retention = o.config.changeLog?.retention ?? DEFAULT_CHANGE_RETENTION_MS;
      if (retention !== 'never') {
        const pruned = await pruneChangeLog(o.pool, retention);
        if (pruned.runs > 0) log.info(pruned, 'change log pruned (changeLog.retention)');
      }
    } catch (e) {
      log.warn({ err: (e as Error).message, why }, 'maintenance failed; will try again');
    } finally {
      maintaining = false;
    }
  };
  const onReady = () => void maintain('reconnect');
  connection.on('ready', onReady);
  const maintenance = setInterval(() => void maintain('periodic'), o.maintenanceIntervalMs ?? 60_000);
  maintenance.unref();

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | null = null;
  const cancelRuns = () =>
    shutdown.abort(new DirsyncError('DIRSYNC_E_RUN_CANCELLED', 'the worker is shutting down'));

  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info('worker stopping');
      clearInterval(maintenance);
      connection.off('ready', onReady);
      const grace = setTimeout(cancelRuns, o.shutdownGraceMs ?? 10_000);
      try {
        await w.close();
      } finally {
        clearTimeout(grace);
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        await release();
        log.info('worker stopped');
        resolveClosed();
      }
    })();
    return closing;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      log.warn({ signal }, 'second signal: cancelling running runs now');
      cancelRuns();
      return;
    }
    log.info({ signal }, 'signal received');
    void close();
  };
  if (o.handleSignals ?? true) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  return { id, queue, worker: w, close, closed };
}
