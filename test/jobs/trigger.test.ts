/**
 * "Sync now" against a real Redis and Postgres with an in-process worker: coalescing, the full
 * resync flag, the advisory lock backing up the dedup, progress events and metrics.
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { subscribeSyncEvents } from '../../jobs/events.js';
import { createSyncMetrics } from '../../jobs/metrics.js';
import type { SyncJobProgress, SyncJobResult } from '../../jobs/payloads.js';
import { closeSyncQueue, openSyncQueue, type SyncQueue } from '../../jobs/queue.js';
import { triggerSync } from '../../jobs/trigger.js';
import { startWorker, type SyncWorker } from '../../jobs/worker.js';
import { RUN_LOCK, lockKeySql } from '../../src/pipeline/apply.js';
import { silentLogger } from '../../src/logger.js';
import { useTestDatabase } from '../helpers/db.js';
import { directory, fileSource, users } from '../helpers/snapshot.js';
import { dropPrefix, randomPrefix, REDIS_URL, waitFor, workerConfig } from './helpers.js';

const db = useTestDatabase();

let prefix: string;
let queue: SyncQueue;
let worker: SyncWorker | undefined;
beforeEach(() => {
  prefix = randomPrefix();
  queue = openSyncQueue({ prefix, connection: REDIS_URL });
});
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await closeSyncQueue(queue);
  await dropPrefix(prefix);
});

async function runsOf(connector: string) {
  const { rows } = await db().pool.query(
    'SELECT id, status, trigger, job_id, attempt, worker, full_resync, error_code FROM dirsync.runs WHERE connector = $1 ORDER BY id',
    [connector],
  );
  return rows;
}

function manualConnector(name: string) {
  const src = fileSource({}, name);
  src.write({ users: users(5), groups: [{ id: 'g', name: 'all', members: ['u0', 'u1', 'u2'] }] });
  return { src, entry: { name, kind: 'file', path: src.path, schedule: { manual: true } } };
}

describe('sync now', () => {
  it('coalesces 20 concurrent triggers into one run', async () => {
    const { entry } = manualConnector('burst');
    const results = await Promise.all(Array.from({ length: 20 }, () => triggerSync(queue, 'burst')));
    const queued = results.filter((r) => r.state === 'queued');
    expect(queued).toHaveLength(1);
    expect(new Set(results.map((r) => r.jobId))).toEqual(new Set([queued[0]?.jobId]));
    expect(await queue.getJobCounts('wait', 'delayed', 'active')).toEqual({ wait: 1, delayed: 0, active: 0 });

    worker = await startWorker({
      config: workerConfig(prefix, [entry]),
      pool: db().pool,
      redisUrl: REDIS_URL,
      logger: silentLogger,
      handleSignals: false,
      metrics: createSyncMetrics(),
    });
    const jobId = queued[0]?.jobId as string;
    await waitFor('the job to complete', async () => (await queue.getJob(jobId))?.finishedOn);
    const job = await queue.getJob(jobId);
    expect((job?.returnvalue as SyncJobResult).status).toBe('succeeded');
    const runs = await runsOf('burst');
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      status: 'succeeded',
      trigger: 'manual',
      job_id: jobId,
      attempt: 1,
      worker: worker.id,
    });
    expect((await directory(db().pool, 'burst')).users).toHaveLength(5);

    // Once finished, the next trigger queues a new run, with the full-resync flag passed through.
    const again = await triggerSync(queue, 'burst', { fullResync: true, requestedBy: 'alice' });
    expect(again.state).toBe('queued');
    expect(again.jobId).not.toBe(jobId);
    await waitFor('the second job to complete', async () => (await queue.getJob(again.jobId))?.finishedOn);
    const after = await runsOf('burst');
    expect(after).toHaveLength(2);
    expect(after[1]).toMatchObject({ status: 'succeeded', full_resync: true, job_id: again.jobId });
    expect((await queue.getJob(again.jobId))?.data.requestedBy).toBe('alice');
  });

  it('waits (delayed, not failed) while another process holds the connector, joining new triggers', async () => {
    const { entry } = manualConnector('busy');
    // Another "worker" (or the CLI) running this connector: hold the pipeline's single-flight lock.
    const holder = new pg.Client({ connectionString: db().url });
    await holder.connect();
    let jobId = '';
    try {
      await holder.query(`SELECT pg_advisory_lock(${RUN_LOCK}, ${lockKeySql})`, ['busy']);
      worker = await startWorker({
        config: workerConfig(prefix, [entry]),
        pool: db().pool,
        redisUrl: REDIS_URL,
        logger: silentLogger,
        handleSignals: false,
        busyRetryMs: 200,
        metrics: createSyncMetrics(),
      });
      const t = await triggerSync(queue, 'busy');
      expect(t.state).toBe('queued');
      jobId = t.jobId;
      // The worker took it, found the connector busy and put it back as delayed.
      await waitFor('the job to be delayed', async () => {
        const j = await queue.getJob(t.jobId);
        return j && j.attemptsStarted > 0 && (await j.getState()) === 'delayed';
      });
      const joined = await triggerSync(queue, 'busy');
      expect(joined).toEqual({ jobId: t.jobId, state: 'joined' });
      expect(await runsOf('busy')).toHaveLength(0);
      const j = await queue.getJob(t.jobId);
      expect(j?.attemptsMade).toBe(0);
      expect(j?.failedReason).toBeFalsy();
    } finally {
      await holder.end();
    }
    await waitFor(
      'the job to complete once the lock is free',
      async () => (await queue.getJob(jobId))?.finishedOn,
    );
    const runs = await runsOf('busy');
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'succeeded', attempt: 1 });
  });

  it('reports progress and completion to subscribers, and counts runs in the metrics', async () => {
    const { entry } = manualConnector('live');
    const metrics = createSyncMetrics();
    const progress: SyncJobProgress[] = [];
    const completed: { jobId: string; result: SyncJobResult }[] = [];
    const sub = await subscribeSyncEvents(
      { prefix, redisUrl: REDIS_URL },
      { progress: (e) => progress.push(e.progress), completed: (e) => completed.push(e) },
    );
    try {
      worker = await startWorker({
        config: workerConfig(prefix, [entry]),
        pool: db().pool,
        redisUrl: REDIS_URL,
        logger: silentLogger,
        handleSignals: false,
        metrics,
      });
      const t = await triggerSync(queue, 'live');
      const done = await waitFor('the completed event', () => completed.find((c) => c.jobId === t.jobId));
      expect(done.result).toMatchObject({ connector: 'live', status: 'succeeded' });
      expect(done.result.counts.users.create).toBe(5);
      const phases = new Set(progress.map((p) => p.phase));
      for (const p of ['fetch', 'check', 'diff', 'apply']) expect(phases).toContain(p);
      expect(progress.every((p) => p.connector === 'live' && p.runId === done.result.runId)).toBe(true);
    } finally {
      await sub.close();
    }
    const text = await metrics.registry.metrics();
    expect(text).toContain('dirsync_runs_total{connector="live",status="succeeded"} 1');
    expect(text).toContain('dirsync_objects_changed_total{connector="live",object="users",op="create"} 5');
    expect(text).toMatch(/dirsync_last_success_timestamp_seconds\{connector="live"\} \d/);
    expect(text).toContain('dirsync_run_duration_seconds_count{connector="live",status="succeeded"} 1');
  });
});
