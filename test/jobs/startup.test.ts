/**
 * A worker started while its database restarts waits for it instead of exiting (the fault soak
 * caught a worker dying at start during a Postgres restart); a failure no restart explains, or a
 * wait past DIRSYNC_STARTUP_WAIT_MS, still ends it with one clear error. Private Postgres and Redis.
 */
import { describe, expect, it } from 'vitest';
import { closeSyncQueue, openSyncQueue } from '../../jobs/queue.js';
import { startWhenReachable } from '../../jobs/startup.js';
import { silentLogger } from '../../src/logger.js';
import { ensureDatabase } from '../../src/store/db.js';
import { usePrivateInstances } from '../helpers/private-instances.js';
import { fileSource, users } from '../helpers/snapshot.js';
import { spawnWorker, stopProcess, waitFor, writeConfigFile, type WorkerProcess } from './helpers.js';

const instances = usePrivateInstances();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a worker starting while its database is down', () => {
  it('waits for the database, then starts and serves its schedules', async () => {
    const { pgi, redis } = instances();
    const src = fileSource({}, 'waits');
    src.write({ users: users(2) });
    const prefix = `startup${Date.now()}`;
    const config = writeConfigFile(prefix, [{ name: 'waits', kind: 'file', path: src.path }]);
    await pgi.stop('fast');
    let worker: WorkerProcess | undefined;
    const queue = openSyncQueue({ prefix, connection: redis.url });
    try {
      worker = spawnWorker({
        DIRSYNC_CONFIG: config,
        DATABASE_URL: pgi.url('dirsync_startup'),
        REDIS_URL: redis.url,
        DIRSYNC_STARTUP_WAIT_MS: '60000',
      });
      // Refused for three seconds: the worker is still there, and has said why it waits.
      await sleep(3000);
      expect(worker.child.exitCode, worker.output()).toBeNull();
      await pgi.start();
      // It creates its database, migrates, and registers the connector's schedule.
      const ids = await waitFor(
        'the worker to register its schedule',
        async () => {
          const s = (await queue.getJobSchedulers(0, -1)).map((x) => x.id ?? x.key);
          return s.length > 0 ? s : null;
        },
        30_000,
      );
      expect(ids).toEqual(['waits']);
      await waitFor('the worker to start', () => worker!.output().includes('"msg":"worker started"'));
      // One warning for the whole wait, not one per attempt.
      expect(worker.output().match(/cannot start yet/g) ?? []).toHaveLength(1);
      expect(worker.child.exitCode).toBeNull();
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    } finally {
      await stopProcess(worker);
      await closeSyncQueue(queue);
      await pgi.start().catch(() => {});
    }
  }, 90_000);

  it('gives up after the wait, with the last error', async () => {
    const { pgi } = instances();
    await pgi.stop('fast');
    try {
      const began = Date.now();
      const err = await startWhenReachable(() => ensureDatabase(pgi.url('dirsync_startup')), {
        waitMs: 1500,
        log: silentLogger,
      }).catch((e: unknown) => e as { code?: string; message: string });
      expect(err).toMatchObject({ code: 'DIRSYNC_E_DB_UNAVAILABLE' });
      expect((err as { message: string }).message).toMatch(/ECONNREFUSED/);
      // It did wait (250 + 500 ms of retries at least), and not much past the bound.
      expect(Date.now() - began).toBeGreaterThanOrEqual(750);
      expect(Date.now() - began).toBeLessThan(5000);
    } finally {
      await pgi.start();
    }
  }, 30_000);

  it('does not wait out a failure no restart explains', async () => {
    let attempts = 0;
    const err = await startWhenReachable(
      async () => {
        attempts++;
        // What a wrong password or a refused migration looks like: a server error, not a socket one.
        throw Object.assign(new Error('password authentication failed for user "dirsync"'), {
          code: '28P01',
        });
      },
      { waitMs: 10_000, log: silentLogger },
    ).catch((e: unknown) => e as { code?: string });
    expect(err).toMatchObject({ code: '28P01' });
    expect(attempts).toBe(1);
  });
});
