/**
 * Worker processes (`node --import tsx jobs/worker.main.ts`) on the real Redis and Postgres:
 * two workers share the queue without ever overlapping runs of one connector; a worker killed with
 * SIGKILL mid-apply leaves the directory unchanged and another worker converges; SIGTERM finishes
 * the running run and exits cleanly; an unreachable Redis is one clear error.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closeSyncQueue, openSyncQueue, type SyncQueue } from '../../jobs/queue.js';
import { triggerSync } from '../../jobs/trigger.js';
import { STAGE_SCHEMA } from '../../src/pipeline/stage.js';
import { useTestDatabase } from '../helpers/db.js';
import { directory, fileSource, sync, users, type Snap } from '../helpers/snapshot.js';
import {
  dropPrefix,
  randomPrefix,
  REDIS_URL,
  spawnWorker,
  stopProcess,
  waitFor,
  writeConfigFile,
  type WorkerProcess,
} from './helpers.js';

const db = useTestDatabase();

const procs: WorkerProcess[] = [];
const prefixes: string[] = [];
const queues: SyncQueue[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await stopProcess(p);
  for (const q of queues.splice(0)) await closeSyncQueue(q);
  for (const p of prefixes.splice(0)) await dropPrefix(p);
  await db().pool.query('DROP TRIGGER IF EXISTS slow ON dirsync.group_members');
});

function setup() {
  const prefix = randomPrefix();
  prefixes.push(prefix);
  const queue = openSyncQueue({ prefix, connection: REDIS_URL });
  queues.push(queue);
  return { prefix, queue };
}

function worker(config: string, env: Record<string, string> = {}): WorkerProcess {
  const w = spawnWorker({
    DATABASE_URL: db().url,
    DIRSYNC_CONFIG: config,
    DIRSYNC_WORKER_LOCK_MS: '1500',
    DIRSYNC_WORKER_STALLED_MS: '500',
    DIRSYNC_WORKER_BUSY_RETRY_MS: '300',
    ...env,
  });
  procs.push(w);
  return w;
}

async function runsOf(connector: string) {
  const { rows } = await db().pool.query<{
    id: string;
    status: string;
    worker: string | null;
    job_id: string | null;
    error_code: string | null;
    error_message: string | null;
    started_at: Date;
    finished_at: Date | null;
  }>(
    'SELECT id, status, worker, job_id, error_code, error_message, started_at, finished_at FROM dirsync.runs WHERE connector = $1 ORDER BY started_at, id',
    [connector],
  );
  return rows;
}

/** A statement trigger that makes the apply phase's membership insert sleep. */
async function slowApply(seconds: number) {
  await db().pool.query(`
    CREATE OR REPLACE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_sleep(${seconds}); RETURN NULL; END $$`);
  await db().pool.query(
    'CREATE TRIGGER slow BEFORE INSERT ON dirsync.group_members FOR EACH STATEMENT EXECUTE FUNCTION public.slow()',
  );
}

/** Resolves once a run of `connector` is in its apply phase and its transaction sits in pg_sleep. */
async function waitForSleepingApply(connector: string) {
  await waitFor('a run sleeping inside apply', async () => {
    const { rows } = await db().pool.query(
      `SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep')::int AS sleeping,
              (SELECT count(*) FROM dirsync.runs WHERE connector = $1 AND status = 'running' AND phase = 'apply')::int AS applying`,
      [connector],
    );
    return rows[0].sleeping > 0 && rows[0].applying > 0;
  });
}

function org(n: number, members: number, extraGroup = false): Snap {
  const u = users(n);
  return {
    users: u,
    groups: [
      { id: 'g', name: 'staff', members: u.slice(0, members).map((x) => x.id) },
      ...(extraGroup ? [{ id: 'g2', name: 'new', members: [u[0]?.id] }] : []),
    ],
  };
}

describe('worker processes', () => {
  it('share the work and never overlap runs of one connector', async () => {
    const { prefix, queue } = setup();
    // The pipeline creates its staging schema on first use with CREATE SCHEMA IF NOT EXISTS, which
    // races when two processes run their very first syncs at once (reported to the pipeline owner;
    // the fix is to create it in a migration). Create it up front, as such a migration would.
    await db().pool.query(`CREATE SCHEMA IF NOT EXISTS ${STAGE_SCHEMA}`);
    const names = ['alpha', 'beta', 'gamma'];
    const entries = names.map((name) => {
      const src = fileSource({}, name);
      src.write(org(50, 20));
      return { name, kind: 'file', path: src.path, schedule: { every: '1s' } };
    });
    const config = writeConfigFile(prefix, entries, 2);
    const a = worker(config);
    const b = worker(config);

    // Scheduled runs every second plus "sync now" bursts from the side, for contention.
    const distinctWorkers = async () =>
      (
        await db().pool.query<{ n: number }>(
          "SELECT count(DISTINCT worker)::int AS n FROM dirsync.runs WHERE status = 'succeeded'",
        )
      ).rows[0]?.n ?? 0;
    await waitFor(
      'both workers to run syncs, several per connector',
      async () => {
        await Promise.all(names.map((n) => triggerSync(queue, n)));
        const counts = await Promise.all(names.map(async (n) => (await runsOf(n)).length));
        return (await distinctWorkers()) >= 2 && counts.every((c) => c >= 4);
      },
      40_000,
    );

    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);

    for (const n of names) {
      const runs = await runsOf(n);
      expect(
        runs.filter((r) => r.status !== 'succeeded').map((r) => [r.status, r.error_code, r.error_message]),
      ).toEqual([]);
      for (let i = 1; i < runs.length; i++) {
        const prev = runs[i - 1]!;
        const next = runs[i]!;
        // Single flight: each run ends before the next one of the same connector starts.
        expect(prev.finished_at!.getTime()).toBeLessThanOrEqual(next.started_at.getTime());
      }
    }
    const output = a.output() + b.output();
    expect(output).toContain('"msg":"worker stopped"');
  });

  it('survives SIGKILL mid-apply: the directory is unchanged and the recovered job converges', async () => {
    const { prefix, queue } = setup();
    const src = fileSource({}, 'crash');
    src.write(org(10, 5));
    await sync(db().pool, src.config);
    const before = await directory(db().pool, 'crash');
    expect(before.memberships).toHaveLength(5);

    src.write(org(15, 10, true));
    const config = writeConfigFile(prefix, [
      { name: 'crash', kind: 'file', path: src.path, schedule: { manual: true } },
    ]);
    await slowApply(3);
    const a = worker(config);
    const t = await triggerSync(queue, 'crash');
    await waitForSleepingApply('crash');
    a.child.kill('SIGKILL');
    await a.exited;

    expect(await directory(db().pool, 'crash')).toEqual(before);
    // Waits for the killed worker's transaction to end (its backend notices the lost client).
    await db().pool.query('DROP TRIGGER slow ON dirsync.group_members');
    expect(await directory(db().pool, 'crash')).toEqual(before);

    const b = worker(config);
    await waitFor(
      'the stalled job to be recovered and complete',
      async () => (await queue.getJob(t.jobId))?.finishedOn,
    );
    expect(await (await queue.getJob(t.jobId))?.getState()).toBe('completed');
    const after = await directory(db().pool, 'crash');
    expect(after.users).toHaveLength(15);
    expect(after.memberships).toHaveLength(11);
    expect(after.groups).toEqual(['g2:new', 'g:staff']);

    const runs = await runsOf('crash');
    expect(runs.map((r) => [r.status, r.job_id, r.error_code])).toEqual([
      ['succeeded', null, null],
      ['failed', t.jobId, 'DIRSYNC_E_RUN_CANCELLED'],
      ['succeeded', t.jobId, null],
    ]);
    expect(runs[1]?.worker).not.toBe(runs[2]?.worker);

    // SIGTERM while a run is applying: the run finishes, then the worker exits cleanly.
    src.write(org(15, 12, true));
    await slowApply(1);
    const t2 = await triggerSync(queue, 'crash');
    await waitForSleepingApply('crash');
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    expect(await (await queue.getJob(t2.jobId))?.getState()).toBe('completed');
    expect((await directory(db().pool, 'crash')).memberships).toHaveLength(13);
    expect((await runsOf('crash')).at(-1)?.status).toBe('succeeded');
  });
});
