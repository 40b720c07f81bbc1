/**
 * `dirsync sync-now` (jobs/cli.ts) against a real Redis and Postgres, with an in-process worker.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { syncNowCommand } from '../../jobs/cli.js';
import { createSyncMetrics } from '../../jobs/metrics.js';
import { closeSyncQueue, openSyncQueue } from '../../jobs/queue.js';
import { startWorker, type SyncWorker } from '../../jobs/worker.js';
import { silentLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { fileSource, users } from '../helpers/snapshot.js';
import { dropPrefix, randomPrefix, REDIS_URL, workerConfig, writeConfigFile } from './helpers.js';

let db: TestDatabase;
let worker: SyncWorker;
const prefix = randomPrefix();
const src = fileSource({}, 'hr');
const saved = { ...process.env };

beforeAll(async () => {
  db = await createTestDatabase();
  src.write({ users: users(30), groups: [{ id: 'g', name: 'all', members: ['u0'] }] });
  const entry = { name: 'hr', kind: 'file', path: src.path, schedule: { manual: true } };
  Object.assign(process.env, {
    DIRSYNC_CONFIG: writeConfigFile(prefix, [entry]),
    REDIS_URL,
    DIRSYNC_LOG_LEVEL: 'silent',
  });
  worker = await startWorker({
    config: workerConfig(prefix, [entry]),
    pool: db.pool,
    redisUrl: REDIS_URL,
    logger: silentLogger,
    handleSignals: false,
    metrics: createSyncMetrics(),
  });
});
afterAll(async () => {
  await worker.close();
  process.env = saved;
  await dropPrefix(prefix);
  await db.drop();
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function captured(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const code = await fn();
  vi.restoreAllMocks();
  return { code, out };
}

describe('dirsync sync-now', () => {
  it('--wait runs the connector through a worker and reports the run; held runs exit 3', async () => {
    const r = await captured(() => syncNowCommand('hr', { wait: true, json: true, full: true }));
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    expect(res).toMatchObject({ state: 'queued', connector: 'hr', status: 'succeeded' });
    expect(res.counts.users.create).toBe(30);
    const { rows } = await db.pool.query('SELECT full_resync, trigger FROM dirsync.runs WHERE id = $1', [
      res.runId,
    ]);
    expect(rows[0]).toEqual({ full_resync: true, trigger: 'manual' });

    // An empty snapshot against a full directory trips the deletion guard: held for approval.
    src.write({ users: [] });
    const held = await captured(() => syncNowCommand('hr', { wait: true, json: true }));
    expect(held.code).toBe(3);
    expect(JSON.parse(held.out).status).toBe('needs_approval');
  });

  it('without --wait only enqueues, and names an unknown connector', async () => {
    const queue = openSyncQueue({ prefix, connection: REDIS_URL });
    try {
      await worker.worker.pause();
      const r = await captured(() => syncNowCommand('hr', {}));
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^hr: queued \(job manual-hr-[0-9a-f-]+\)\n$/);
      const again = await captured(() => syncNowCommand('hr', { json: true }));
      expect(JSON.parse(again.out).state).toBe('joined');
      expect(await queue.getJobCounts('wait')).toEqual({ wait: 1 });
      await expect(syncNowCommand('nope', {})).rejects.toMatchObject({ code: 'DIRSYNC_E_CONNECTOR_UNKNOWN' });
    } finally {
      worker.worker.resume();
      await closeSyncQueue(queue);
    }
  });
});
