/**
 * Retries against a real Redis and Postgres: transient failures retry with backoff and converge,
 * non-retryable ones fail at once, every attempt is a row in `runs`.
 */
import type { MinimalJob } from 'bullmq';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyncMetrics } from '../../jobs/metrics.js';
import { BACKOFF_TYPE, type RetryPolicy } from '../../jobs/payloads.js';
import { closeSyncQueue, openSyncQueue, type SyncQueue } from '../../jobs/queue.js';
import { syncBackoff } from '../../jobs/sync.processor.js';
import { isTransientDatabaseError } from '../../src/store/db.js';
import { triggerSync } from '../../jobs/trigger.js';
import { startWorker, type SyncWorker } from '../../jobs/worker.js';
import { DirsyncError, toDirsyncError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { useTestDatabase } from '../helpers/db.js';
import { directory, fileSource, users } from '../helpers/snapshot.js';
import { dropPrefix, randomPrefix, REDIS_URL, waitFor, workerConfig } from './helpers.js';

const retry: RetryPolicy = { attempts: 3, baseMs: 50, maxMs: 200 };

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
  await db().pool.query('DROP TRIGGER IF EXISTS flaky ON dirsync.group_members');
});

async function runsOf(connector: string) {
  const { rows } = await db().pool.query(
    'SELECT status, attempt, job_id, error_code FROM dirsync.runs WHERE connector = $1 ORDER BY id',
    [connector],
  );
  return rows;
}

async function start(entry: Record<string, unknown>) {
  worker = await startWorker({
    config: workerConfig(prefix, [entry]),
    pool: db().pool,
    redisUrl: REDIS_URL,
    logger: silentLogger,
    handleSignals: false,
    retry,
    metrics: createSyncMetrics(),
  });
}

/** Makes applying memberships fail with a database error the first `times` times (or always). */
async function flakyApply(times: number | 'always') {
  await db().pool.query('CREATE SEQUENCE IF NOT EXISTS public.flaky_seq');
  await db().pool.query("SELECT setval('public.flaky_seq', 1, false)");
  // nextval is not rolled back with the failed apply, so it counts attempts.
  await db().pool.query(`
    CREATE OR REPLACE FUNCTION public.flaky() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF ${times === 'always' ? 'true' : `nextval('public.flaky_seq') <= ${times}`} THEN
        RAISE EXCEPTION 'simulated database restart';
      END IF;
      RETURN NULL;
    END $$`);
  await db().pool.query(
    'CREATE TRIGGER flaky BEFORE INSERT ON dirsync.group_members FOR EACH STATEMENT EXECUTE FUNCTION public.flaky()',
  );
}

const snapshot = { users: users(4), groups: [{ id: 'g', name: 'all', members: ['u0', 'u1'] }] };

describe('retries', () => {
  it('retries a transient failure with backoff and converges; each attempt is a run row', async () => {
    const src = fileSource({}, 'transient');
    src.write(snapshot);
    await flakyApply(1);
    await start({ name: 'transient', kind: 'file', path: src.path, schedule: { manual: true } });
    const t = await triggerSync(queue, 'transient', { retry });
    await waitFor('the job to complete', async () => (await queue.getJob(t.jobId))?.finishedOn);
    const job = await queue.getJob(t.jobId);
    expect(await job?.getState()).toBe('completed');
    expect(await runsOf('transient')).toEqual([
      { status: 'failed', attempt: 1, job_id: t.jobId, error_code: 'DIRSYNC_E_APPLY_FAILED' },
      { status: 'succeeded', attempt: 2, job_id: t.jobId, error_code: null },
    ]);
    expect((await directory(db().pool, 'transient')).memberships).toEqual(['g>u0', 'g>u1']);
  });

  it('gives up after the configured attempts, applying nothing', async () => {
    const src = fileSource({}, 'down');
    src.write(snapshot);
    await flakyApply('always');
    await start({ name: 'down', kind: 'file', path: src.path, schedule: { manual: true } });
    const t = await triggerSync(queue, 'down', { retry });
    await waitFor('the job to fail', async () => (await queue.getJob(t.jobId))?.finishedOn);
    const job = await queue.getJob(t.jobId);
    expect(await job?.getState()).toBe('failed');
    expect(job?.attemptsMade).toBe(3);
    expect(job?.failedReason).toMatch(/^DIRSYNC_E_APPLY_FAILED: .*simulated database restart/);
    const runs = await runsOf('down');
    expect(runs.map((r) => [r.status, r.attempt, r.error_code])).toEqual([
      ['failed', 1, 'DIRSYNC_E_APPLY_FAILED'],
      ['failed', 2, 'DIRSYNC_E_APPLY_FAILED'],
      ['failed', 3, 'DIRSYNC_E_APPLY_FAILED'],
    ]);
    expect(await directory(db().pool, 'down')).toEqual({
      users: [],
      groups: [],
      memberships: [],
      nesting: [],
    });
  });

  it('fails a non-retryable error at once with its code', async () => {
    const src = fileSource({}, 'broken');
    src.writeRaw('{"users": [');
    await start({ name: 'broken', kind: 'file', path: src.path, schedule: { manual: true } });
    const t = await triggerSync(queue, 'broken', { retry });
    await waitFor('the job to fail', async () => (await queue.getJob(t.jobId))?.finishedOn);
    const job = await queue.getJob(t.jobId);
    expect(await job?.getState()).toBe('failed');
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toMatch(/^DIRSYNC_E_SNAPSHOT_INVALID: /);
    const runs = await runsOf('broken');
    expect(runs).toEqual([
      { status: 'failed', attempt: 1, job_id: t.jobId, error_code: 'DIRSYNC_E_SNAPSHOT_INVALID' },
    ]);
  });
});

describe('syncBackoff', () => {
  const job = { opts: { backoff: { type: BACKOFF_TYPE, delay: 1000 } } } as unknown as MinimalJob;
  it('grows exponentially with jitter, capped, and honours Retry-After', () => {
    const low = syncBackoff(60_000, () => 0);
    const high = syncBackoff(60_000, () => 1);
    expect([1, 2, 3, 4].map((n) => high(n, BACKOFF_TYPE, undefined, job))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((n) => low(n, BACKOFF_TYPE, undefined, job))).toEqual([500, 1000, 2000, 4000]);
    expect(high(20, BACKOFF_TYPE, undefined, job)).toBe(60_000);
    const throttled = new DirsyncError('DIRSYNC_E_IDP_THROTTLED', 'slow down', { retryAfterMs: 45_000 });
    expect(high(1, BACKOFF_TYPE, throttled, job)).toBe(45_000);
    // A Retry-After shorter than the backoff does not shorten it.
    expect(
      high(4, BACKOFF_TYPE, new DirsyncError('DIRSYNC_E_IDP_THROTTLED', 'x', { retryAfterMs: 10 }), job),
    ).toBe(8000);
  });
});

describe('isTransientDatabaseError', () => {
  it('recognises a terminated server connection, but not a constraint violation', async () => {
    const client = new pg.Client({ connectionString: db().url });
    client.on('error', () => {});
    await client.connect();
    const terminated = await client
      .query('SELECT pg_terminate_backend(pg_backend_pid())')
      .catch((e: unknown) => e);
    await client.end().catch(() => {});
    expect(isTransientDatabaseError(toDirsyncError(terminated))).toBe(true);

    const violation = await db()
      .pool.query(
        "INSERT INTO dirsync.runs (connector, kind, trigger, status) VALUES ('x', 'file', 'cli', 'bogus')",
      )
      .catch((e: unknown) => e);
    expect((violation as { code?: string }).code).toBe('23514');
    expect(isTransientDatabaseError(toDirsyncError(violation))).toBe(false);
  });
});
