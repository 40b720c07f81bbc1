/**
 * Worker lifecycle on the real Redis and Postgres: a shutdown past its grace period abandons the
 * running run cleanly (nothing applied, job handed back to the queue) and another worker converges;
 * cron schedules with jitter start their runs after the connector's offset.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyncMetrics } from '../../jobs/metrics.js';
import { closeSyncQueue, openSyncQueue, type SyncQueue } from '../../jobs/queue.js';
import { scheduleOffset } from '../../jobs/schedule.js';
import { triggerSync } from '../../jobs/trigger.js';
import { startWorker, type StartWorkerOptions, type SyncWorker } from '../../jobs/worker.js';
import { silentLogger } from '../../src/logger.js';
import { useTestDatabase } from '../helpers/db.js';
import { directory, tempDir, users } from '../helpers/snapshot.js';
import { dropPrefix, randomPrefix, REDIS_URL, waitFor, workerConfig } from './helpers.js';

const db = useTestDatabase();

let prefix: string;
let queue: SyncQueue;
const workers: SyncWorker[] = [];
beforeEach(() => {
  prefix = randomPrefix();
  queue = openSyncQueue({ prefix, connection: REDIS_URL });
});
afterEach(async () => {
  for (const w of workers.splice(0)) await w.close();
  await closeSyncQueue(queue);
  await dropPrefix(prefix);
});

async function start(entries: Record<string, unknown>[], o: Partial<StartWorkerOptions> = {}) {
  const w = await startWorker({
    config: workerConfig(prefix, entries),
    pool: db().pool,
    redisUrl: REDIS_URL,
    logger: silentLogger,
    handleSignals: false,
    metrics: createSyncMetrics(),
    ...o,
  });
  workers.push(w);
  return w;
}

describe('worker lifecycle', () => {
  it('abandons a run still fetching when the shutdown grace runs out, and hands the job back', async () => {
    // A FIFO as the snapshot: the run keeps fetching for as long as the test feeds it lines.
    const path = join(tempDir(), 'feed.ndjson');
    execFileSync('mkfifo', [path]);
    const entry = { name: 'feed', kind: 'file', path, schedule: { manual: true } };
    const w = await start([entry], { shutdownGraceMs: 200 });
    const t = await triggerSync(queue, 'feed');
    const feed = createWriteStream(path);
    let i = 0;
    const timer = setInterval(() => {
      feed.write(`${JSON.stringify({ type: 'user', ...users(1, `p${i++}-`)[0] })}\n`);
    }, 20);
    try {
      await waitFor('the run to be fetching', async () => {
        const { rows } = await db().pool.query(
          "SELECT 1 FROM dirsync.runs WHERE connector = 'feed' AND status = 'running' AND phase = 'fetch'",
        );
        return rows.length > 0;
      });
      await w.close();
    } finally {
      clearInterval(timer);
      feed.end();
    }
    const { rows } = await db().pool.query(
      "SELECT status, error_code, job_id FROM dirsync.runs WHERE connector = 'feed'",
    );
    expect(rows).toEqual([{ status: 'failed', error_code: 'DIRSYNC_E_RUN_CANCELLED', job_id: t.jobId }]);
    const job = await queue.getJob(t.jobId);
    expect(await job?.getState()).toBe('delayed');
    expect(job?.attemptsMade).toBe(0);
    expect((await directory(db().pool, 'feed')).users).toEqual([]);

    // Another worker picks the job up and converges.
    rmSync(path);
    writeFileSync(
      path,
      `${users(3)
        .map((u) => JSON.stringify({ type: 'user', ...u }))
        .join('\n')}\n`,
    );
    await start([entry]);
    await waitFor('the handed-back job to complete', async () => (await queue.getJob(t.jobId))?.finishedOn);
    expect((await directory(db().pool, 'feed')).users).toHaveLength(3);
  });

  it('runs cron schedules, delaying each run by the connector jitter', async () => {
    const dir = tempDir();
    const path = join(dir, 'snap.json');
    writeFileSync(path, JSON.stringify({ users: users(2) }));
    expect(scheduleOffset('ticker', 900)).toBeGreaterThan(0);
    await start([{ name: 'ticker', kind: 'file', path, schedule: { cron: '* * * * * *', jitter: '900ms' } }]);
    await waitFor('a scheduled run to succeed', async () => {
      const { rows } = await db().pool.query(
        "SELECT job_id FROM dirsync.runs WHERE connector = 'ticker' AND trigger = 'schedule' AND status = 'succeeded'",
      );
      return rows[0]?.job_id as string | undefined;
    });
    const completed = await waitFor('a completed scheduled job', async () => {
      const jobs = await queue.getJobs(['completed']);
      return jobs.length > 0 ? jobs : null;
    });
    for (const j of completed) {
      expect(j.data).toMatchObject({
        connector: 'ticker',
        trigger: 'schedule',
        jitterMs: scheduleOffset('ticker', 900),
        jittered: true,
      });
      // Its last start (after the jitter delay) is no earlier than its cron slot plus the jitter.
      const slot = Number(/^repeat:ticker:(\d+)$/.exec(j.id ?? '')?.[1]);
      expect(slot).toBeGreaterThan(0);
      expect(j.processedOn).toBeGreaterThanOrEqual(slot + scheduleOffset('ticker', 900));
    }
  });

  it('refuses to start without Redis, with one clear error and no secret in it', async () => {
    const err = await start([{ name: 'nored', kind: 'file', path: '/nonexistent.json' }], {
      redisUrl: 'redis://:hunter2secret@127.0.0.1:1',
    }).catch((e: unknown) => e as Error & { code?: string });
    expect(err).toMatchObject({ code: 'DIRSYNC_E_REDIS_UNAVAILABLE' });
    expect((err as Error).message).toMatch(
      /^Redis cannot be reached: redis:\/\/:\*\*\*@127\.0\.0\.1:1\/?: connect ECONNREFUSED/,
    );
    expect((err as Error).message).not.toContain('hunter2secret');
  });
});
