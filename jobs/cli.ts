/**
 * The two queue commands, for src/cli.ts to wire:
 *   dirsync worker [--concurrency N] [--metrics-port P]
 *   dirsync sync-now <connector> [--full] [--wait] [--json]
 * Each takes already-parsed options and returns the process exit code (0 ok, 1 failed, 3 held for
 * approval); failures to start throw DirsyncError like every other command.
 */
import type { Job } from 'bullmq';
import { findConnector, loadConfig } from '../config/load.js';
import type { DirsyncConfig } from '../config/schema.js';
import { countsLine } from '../src/cli/format.js';
import { DirsyncError } from '../src/errors.js';
import { createLogger, rootLogger, setRootLogger } from '../src/logger.js';
import { CONNECTIONS_PER_RUN, createPool, databaseUrl, ensureDatabase } from '../src/store/db.js';
import { migrate } from '../src/store/migrate.js';
import { subscribeSyncEvents } from './events.js';
import { startMetricsServer, syncMetrics } from './metrics.js';
import type { SyncJobData, SyncJobResult } from './payloads.js';
import { assertRedis, closeSyncQueue, openSyncQueue, redisUrl } from './queue.js';
import { DEFAULT_STARTUP_WAIT_MS, startWhenReachable } from './startup.js';
import { triggerSync } from './trigger.js';
import { startWorker } from './worker.js';

const EXIT = { ok: 0, failed: 1, held: 3 } as const;

function setup(): DirsyncConfig {
  const config = loadConfig();
  setRootLogger(createLogger(process.env.DIRSYNC_LOG_LEVEL ?? config.log.level));
  return config;
}

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  return v && /^\d+$/.test(v) ? Number(v) : undefined;
}

export interface WorkerCommandOptions {
  /** Runs at once in this process (default `queue.concurrency` of the config). */
  concurrency?: number;
  /** Serve Prometheus metrics on this port (`DIRSYNC_METRICS_PORT`); none by default. */
  metricsPort?: number;
  metricsHost?: string;
}

/**
 * Runs a worker until SIGTERM/SIGINT. Tuning for tests and special deployments comes from the
 * environment: DIRSYNC_STARTUP_WAIT_MS (how long to wait for a restarting database or Redis at
 * start, default 60 s), DIRSYNC_WORKER_LOCK_MS, DIRSYNC_WORKER_STALLED_MS, DIRSYNC_WORKER_GRACE_MS,
 * DIRSYNC_WORKER_BUSY_RETRY_MS, DIRSYNC_RETRY_BASE_MS, DIRSYNC_RETRY_ATTEMPTS.
 */
export async function workerCommand(opts: WorkerCommandOptions = {}): Promise<number> {
  const config = setup();
  const concurrency = opts.concurrency ?? config.queue.concurrency;
  const url = databaseUrl();
  // Database and Redis restarting as the worker starts are waited out (startup.ts).
  const wait = { waitMs: envNumber('DIRSYNC_STARTUP_WAIT_MS') ?? DEFAULT_STARTUP_WAIT_MS, log: rootLogger() };
  // Redis first, before touching the database.
  await startWhenReachable(async () => {
    await assertRedis(redisUrl());
    await ensureDatabase(url);
  }, wait);
  const pool = createPool(url, concurrency * CONNECTIONS_PER_RUN + 2);
  let metricsServer: { close(): Promise<void> } | null = null;
  try {
    const lockDuration = envNumber('DIRSYNC_WORKER_LOCK_MS');
    const stalledInterval = envNumber('DIRSYNC_WORKER_STALLED_MS');
    const shutdownGraceMs = envNumber('DIRSYNC_WORKER_GRACE_MS');
    const busyRetryMs = envNumber('DIRSYNC_WORKER_BUSY_RETRY_MS');
    const baseMs = envNumber('DIRSYNC_RETRY_BASE_MS');
    const attempts = envNumber('DIRSYNC_RETRY_ATTEMPTS');
    const worker = await startWhenReachable(async () => {
      await migrate(pool);
      return startWorker({
        config,
        pool,
        redisUrl: redisUrl(),
        concurrency,
        logger: rootLogger(),
        ...(lockDuration !== undefined ? { lockDuration } : {}),
        ...(stalledInterval !== undefined ? { stalledInterval } : {}),
        ...(shutdownGraceMs !== undefined ? { shutdownGraceMs } : {}),
        ...(busyRetryMs !== undefined ? { busyRetryMs } : {}),
        ...(baseMs !== undefined || attempts !== undefined
          ? { retry: { attempts: attempts ?? 5, baseMs: baseMs ?? 30_000, maxMs: 15 * 60_000 } }
          : {}),
      });
    }, wait);
    const port = opts.metricsPort ?? envNumber('DIRSYNC_METRICS_PORT');
    if (port !== undefined) {
      metricsServer = await startMetricsServer(syncMetrics().registry, {
        port,
        host: opts.metricsHost ?? process.env.DIRSYNC_METRICS_HOST ?? '127.0.0.1',
      });
    }
    await worker.closed;
    return EXIT.ok;
  } finally {
    await metricsServer?.close();
    await pool.end();
  }
}

export interface SyncNowOptions {
  /** Full resync (ignore incremental cursors). */
  full?: boolean;
  /** Wait for the run to finish and report it; the exit code then reflects its outcome. */
  wait?: boolean;
  json?: boolean;
  /** Recorded in the job (default `cli:<user>`). */
  requestedBy?: string;
}

/** Enqueues a manual run (or joins a queued/running one) for the workers to execute. */
export async function syncNowCommand(connector: string, opts: SyncNowOptions = {}): Promise<number> {
  const config = setup();
  findConnector(config, connector);
  const url = redisUrl();
  await assertRedis(url);
  const queue = openSyncQueue({ prefix: config.queue.prefix, connection: url });
  const out = (v: unknown) =>
    process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`);
  try {
    // Subscribe before triggering so a quick run's events are not missed.
    let lastPhase = '';
    const events = opts.wait
      ? await subscribeSyncEvents(
          { prefix: config.queue.prefix, redisUrl: url },
          {
            progress: ({ jobId, progress }) => {
              if (jobId !== trigger?.jobId || opts.json || progress.phase === lastPhase) return;
              lastPhase = progress.phase;
              process.stderr.write(`  ${progress.phase}…\n`);
            },
          },
        )
      : null;
    let trigger: Awaited<ReturnType<typeof triggerSync>> | undefined;
    try {
      trigger = await triggerSync(queue, connector, {
        fullResync: opts.full ?? false,
        requestedBy: opts.requestedBy ?? `cli:${process.env.USER ?? 'unknown'}`,
      });
      if (!opts.wait || !events) {
        out(opts.json ? trigger : `${connector}: ${trigger.state} (job ${trigger.jobId})`);
        return EXIT.ok;
      }
      if (!opts.json)
        process.stderr.write(`${connector}: ${trigger.state} (job ${trigger.jobId}), waiting…\n`);
      const job = (await queue.getJob(trigger.jobId)) as Job<SyncJobData, SyncJobResult> | undefined;
      if (!job)
        throw new DirsyncError('DIRSYNC_E_RUN_NOT_FOUND', `job ${trigger.jobId} is no longer in the queue`);
      let result: SyncJobResult;
      try {
        result = await job.waitUntilFinished(events.queueEvents);
      } catch (e) {
        const reason = (e as Error).message;
        if (opts.json) out({ ...trigger, status: 'failed', error: reason });
        else process.stderr.write(`dirsync: ${reason}\n`);
        return EXIT.failed;
      }
      if (opts.json) out({ ...trigger, ...result });
      else out(`run ${result.runId}: ${result.status} — ${countsLine(result.counts)}`);
      return result.status === 'needs_approval' ? EXIT.held : EXIT.ok;
    } finally {
      await events?.close();
    }
  } finally {
    await closeSyncQueue(queue);
  }
}
