/**
 * Pruning the run change log (`changeLog.retention`): which runs go, that a run is marked and
 * emptied together, that several pruners share the work, and that a worker's maintenance prunes.
 */
import { describe, expect, it } from 'vitest';
import { startWorker } from '../../jobs/worker.js';
import { silentLogger } from '../../src/logger.js';
import { pruneChangeLog } from '../../src/store/retention.js';
import { useTestDatabase } from '../helpers/db.js';
import { randomPrefix, dropPrefix, REDIS_URL, waitFor, workerConfig } from './helpers.js';

const db = useTestDatabase('dirsync_prune');
const HOUR = 3_600_000;

/** A run row of `status` that finished `agoMs` before now (null: not finished), with `changes` log rows. */
async function run(
  connector: string,
  status: string,
  agoMs: number | null,
  changes: number,
): Promise<string> {
  const { rows } = await db().pool.query<{ id: string }>(
    `INSERT INTO dirsync.runs (connector, kind, trigger, status, phase, finished_at)
     VALUES ($1, 'file', 'schedule', $2, 'done', CASE WHEN $3::float8 IS NULL THEN NULL ELSE now() - make_interval(secs => $3 / 1000) END)
     RETURNING id`,
    [connector, status, agoMs],
  );
  const id = rows[0]!.id;
  await db().pool.query(
    `INSERT INTO dirsync.run_changes (run_id, object_type, operation, external_id, label)
     SELECT $1, 'user', 'create', 'u' || i, 'user' || i FROM generate_series(1, $2::int) AS i`,
    [id, changes],
  );
  return id;
}

async function state(ids: string[]) {
  const { rows } = await db().pool.query<{ id: string; pruned: boolean; changes: number }>(
    `SELECT r.id, r.changes_pruned_at IS NOT NULL AS pruned,
            (SELECT count(*)::int FROM dirsync.run_changes c WHERE c.run_id = r.id) AS changes
       FROM dirsync.runs r WHERE r.id = ANY($1::bigint[]) ORDER BY r.id`,
    [ids],
  );
  return rows.map((r) => `${r.id}:${r.pruned ? 'pruned' : 'kept'}:${r.changes}`);
}

describe('pruneChangeLog', () => {
  it('prunes finished runs older than the retention, never running or held ones', async () => {
    const old = await run('a', 'succeeded', 3 * HOUR, 5);
    const oldFailed = await run('a', 'failed', 3 * HOUR, 0);
    const oldRejected = await run('b', 'rejected', 3 * HOUR, 2);
    const recent = await run('a', 'succeeded', HOUR / 2, 3);
    const held = await run('a', 'needs_approval', null, 4);
    const running = await run('b', 'running', null, 1);
    const ids = [old, oldFailed, oldRejected, recent, held, running];

    expect(await pruneChangeLog(db().pool, 2 * HOUR)).toEqual({ runs: 3, changes: 7, more: false });
    expect(await state(ids)).toEqual([
      `${old}:pruned:0`,
      `${oldFailed}:pruned:0`,
      `${oldRejected}:pruned:0`,
      `${recent}:kept:3`,
      `${held}:kept:4`,
      `${running}:kept:1`,
    ]);
    // Nothing left to do; and a pass whose budget is spent stops before starting a run.
    expect(await pruneChangeLog(db().pool, 2 * HOUR)).toEqual({ runs: 0, changes: 0, more: false });
    expect(await pruneChangeLog(db().pool, HOUR / 4, { budgetMs: 0 })).toEqual({
      runs: 0,
      changes: 0,
      more: true,
    });
    expect(await state([recent])).toEqual([`${recent}:kept:3`]);
  });

  it('lets several pruners share the work: every run pruned once, its rows counted once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await run('c', 'succeeded', 10 * HOUR + i * 1000, 20));
    const results = await Promise.all([1, 2, 3].map(() => pruneChangeLog(db().pool, HOUR)));
    expect(results.reduce((a, r) => a + r.runs, 0)).toBe(30);
    expect(results.reduce((a, r) => a + r.changes, 0)).toBe(600);
    expect(await state(ids)).toEqual(ids.map((id) => `${id}:pruned:0`));
  });
});

describe('a worker', () => {
  it('prunes the change log in its periodic maintenance, by changeLog.retention', async () => {
    const prefix = randomPrefix();
    const old = await run('w', 'succeeded', 2 * HOUR, 3);
    const recent = await run('w', 'succeeded', HOUR / 2, 3);
    const config = {
      ...workerConfig(prefix, [{ name: 'w', kind: 'file', path: 'unused.json', schedule: { manual: true } }]),
      changeLog: { retention: HOUR },
    };
    const worker = await startWorker({
      config,
      pool: db().pool,
      redisUrl: REDIS_URL,
      logger: silentLogger,
      handleSignals: false,
      schedules: false,
      maintenanceIntervalMs: 100,
    });
    try {
      await waitFor('the old run pruned', async () =>
        (await state([old])).join() === `${old}:pruned:0` ? true : null,
      );
      expect(await state([recent])).toEqual([`${recent}:kept:3`]);
    } finally {
      await worker.close();
      await dropPrefix(prefix);
    }
  });
});
