/**
 * A worker outlives restarts of its Postgres and its Redis (issue 9, items 4, 5 and 8), on private
 * instances this file starts: no crash, schedulers come back after Redis lost its data (on reconnect
 * and by the periodic check), a run after the Postgres restart succeeds, and a connector with a
 * missing secret is reported while the others run.
 */
import type pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSyncQueue, closeSyncQueue, type SyncQueue } from '../../jobs/queue.js';
import { triggerSync } from '../../jobs/trigger.js';
import { startWorker, type SyncWorker } from '../../jobs/worker.js';
import { silentLogger } from '../../src/logger.js';
import { createPool } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrate.js';
import type { PrivatePostgres, PrivateRedis } from '../helpers/instances.js';
import { usePrivateInstances } from '../helpers/private-instances.js';
import { fileSource, users } from '../helpers/snapshot.js';
import { waitFor, workerConfig } from './helpers.js';

const instances = usePrivateInstances();
let pgi: PrivatePostgres;
let redis: PrivateRedis;
let pool: pg.Pool;

beforeAll(async () => {
  ({ pgi, redis } = instances());
  pool = createPool(await pgi.createDatabase('dirsync'), 20);
  await migrate(pool);
}, 60_000);

afterAll(async () => {
  await pool?.end().catch(() => {});
});

async function schedulerIds(queue: SyncQueue): Promise<string[]> {
  return (await queue.getJobSchedulers(0, -1)).map((s) => s.id ?? s.key).sort();
}

describe('a worker across database and Redis restarts', () => {
  it('survives both, re-asserts lost schedulers, and runs the healthy connector beside a broken one', async () => {
    const good = fileSource({}, 'good');
    good.write({ users: users(3) });
    const prefix = 'restarts';
    const config = workerConfig(prefix, [
      { name: 'good', kind: 'file', path: good.path, schedule: { every: '1h' } },
      {
        name: 'broken',
        kind: 'okta',
        orgUrl: 'https://acme.okta.com',
        auth: { type: 'apiToken', token: { env: 'DIRSYNC_TEST_RESTARTS_NO_TOKEN' } },
        schedule: { every: '1h' },
      },
    ]);
    const crashes: unknown[] = [];
    const onCrash = (e: unknown) => crashes.push(e);
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    let worker: SyncWorker | null = null;
    const queue = openSyncQueue({ prefix, connection: redis.url });
    try {
      worker = await startWorker({
        config,
        pool,
        redisUrl: redis.url,
        logger: silentLogger,
        handleSignals: false,
        maintenanceIntervalMs: 300,
        busyRetryMs: 200,
      });
      expect(await schedulerIds(queue)).toEqual(['broken', 'good']);
      // The broken connector is reported (path + reason), the good one is not.
      const { rows: reported } = await pool.query(
        'SELECT connector, problems FROM dirsync.connector_problems',
      );
      expect(reported).toEqual([
        {
          connector: 'broken',
          problems: [
            {
              path: 'connectors[1].auth.token',
              reason: 'environment variable DIRSYNC_TEST_RESTARTS_NO_TOKEN is not set',
            },
          ],
        },
      ]);

      // Redis restarts with no persistence: every key is gone, the schedulers come back.
      await redis.restart();
      await waitFor('schedulers after the Redis restart', async () =>
        (await schedulerIds(queue)).join() === 'broken,good' ? true : null,
      );
      // Lost without a reconnect (a flush): the periodic check restores them.
      const r = new Redis(redis.url);
      await r.flushall();
      r.disconnect();
      await waitFor('schedulers after the flush', async () =>
        (await schedulerIds(queue)).join() === 'broken,good' ? true : null,
      );

      // Postgres restarts: every session gets 57P01; the worker stays up and runs the next job.
      await pgi.restart();
      const t = await triggerSync(queue, 'good', { requestedBy: 'test' });
      await waitFor(
        'the run after the Postgres restart',
        async () => {
          const { rows } = await pool.query(
            `SELECT status FROM dirsync.runs WHERE connector = 'good' AND job_id = $1 AND status = 'succeeded'`,
            [t.jobId],
          );
          return rows.length > 0;
        },
        30_000,
      );
      expect(crashes).toEqual([]);
    } finally {
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
      await worker?.close();
      await closeSyncQueue(queue);
    }
  }, 90_000);
});
