/**
 * Housekeeping by any process (issue 9, item 10): a run whose process was SIGKILLed (a CLI run, no
 * worker anywhere) is closed by the next run of its connector, staging tables included; a held run
 * that can no longer be approved is marked `superseded` and its diff tables dropped.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { RUN_LOCK } from '../../src/pipeline/apply.js';
import { approveRun } from '../../src/pipeline/approve.js';
import { reapAbandonedRuns } from '../../src/pipeline/reap.js';
import { createRun } from '../../src/pipeline/record.js';
import { runApplicationName } from '../../src/store/db.js';
import { useTestDatabase } from '../helpers/db.js';
import { fileSource, runRow, sync, tempDir, users } from '../helpers/snapshot.js';

const db = useTestDatabase();

let n = 0;
let name: string;
beforeEach(() => {
  name = `reap${++n}`;
});

async function stageTableCount(runId: number): Promise<number> {
  const { rows } = await db().pool.query(
    `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'dirsync_stage' AND tablename LIKE $1`,
    [`r${runId}\\_%`],
  );
  return rows[0].n;
}

/** Backends working for run `runId` (in `state`, if given). */
async function runBackends(runId: number, state?: string): Promise<number> {
  const { rows } = await db().pool.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = $1 AND ($2::text IS NULL OR state = $2)`,
    [runApplicationName(runId), state ?? null],
  );
  return rows[0].n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a run whose process is gone', () => {
  it('a CLI run killed with SIGKILL mid-fetch is closed by the next CLI run, with its staging tables', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(3) });
    // A real CLI process, killed while its run holds the lock and its staging tables exist.
    const dir = tempDir();
    const config = join(dir, 'dirsync.yaml');
    // The file connector reads a path; a named pipe that never closes blocks the read the same way.
    const fifo = join(dir, 'snapshot.json');
    await new Promise<void>((resolve, reject) =>
      spawn('mkfifo', [fifo]).on('exit', (c) => (c === 0 ? resolve() : reject(new Error('mkfifo')))),
    );
    writeFileSync(config, JSON.stringify({ connectors: [{ name, kind: 'file', path: fifo }] }));
    const cli = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'sync', name], {
      env: { ...process.env, DIRSYNC_CONFIG: config, DATABASE_URL: db().url, LOG_LEVEL: 'silent' },
      stdio: 'ignore',
    });
    // Keep the pipe open for writing, with a partial snapshot in it: fd 3 stays open while the
    // shell sleeps, so the reader waits for more instead of seeing a truncated file.
    const writer = spawn('sh', ['-c', `exec 3>${fifo}; printf '{"users": [' >&3; sleep 60`], {
      stdio: 'ignore',
    });
    let runId = 0;
    for (let i = 0; i < 600 && runId === 0; i++) {
      const { rows } = await db().pool.query(
        `SELECT id FROM dirsync.runs WHERE connector = $1 AND status = 'running' AND phase = 'fetch'`,
        [name],
      );
      runId = Number(rows[0]?.id ?? 0);
      // The phase is set just before the fetch creates its staging tables: wait for both.
      if (runId > 0 && (await stageTableCount(runId)) === 0) runId = 0;
      if (runId === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(runId).toBeGreaterThan(0);
    expect(await stageTableCount(runId)).toBeGreaterThan(0);
    // The run works on connections named after it, so a reaper can tell when they are all gone.
    expect(await runBackends(runId)).toBeGreaterThan(0);
    const exited = new Promise((r) => cli.once('exit', r));
    cli.kill('SIGKILL');
    await exited;
    writer.kill('SIGKILL');

    // The server drops the killed session (and its run lock) once it notices the socket closed.
    for (let i = 0; i < 100; i++) {
      const { rows } = await db().pool.query(
        `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = ${RUN_LOCK}::oid`,
      );
      if (rows.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // No worker anywhere: the next run of the connector (any process) closes it.
    await sync(db().pool, src.config);
    const row = await runRow(db().pool, runId);
    expect(row.status).toBe('failed');
    expect(row.error_code).toBe('DIRSYNC_E_RUN_CANCELLED');
    expect(await stageTableCount(runId)).toBe(0);
  }, 60_000);
});

describe('a statement a killed run left running', () => {
  it('keeps the run from being reaped until it is gone, so it cannot create a table after the drop', async () => {
    const runId = await createRun(db().pool, {
      connector: name,
      kind: 'file',
      trigger: 'cli',
      dryRun: false,
    });
    // What a SIGKILLed run leaves on the server: its lock session ended at once (no lock is held
    // here), but a statement it sent on one of its run connections is still creating a table.
    const orphan = new pg.Client({
      connectionString: db().url,
      application_name: runApplicationName(runId),
      options: '-c client_connection_check_interval=1000',
    });
    orphan.on('error', () => {});
    await orphan.connect();
    const statement = orphan
      .query(
        `CREATE UNLOGGED TABLE dirsync_stage.r${runId}_hu AS
           SELECT g FROM generate_series(1, 3) g, pg_sleep(4)`,
      )
      .catch(() => 'cut');
    for (let i = 0; i < 50 && (await runBackends(runId, 'active')) === 0; i++) await sleep(20);
    expect(await runBackends(runId, 'active')).toBe(1);

    expect((await reapAbandonedRuns(db().pool, { connector: name })).map((r) => r.id)).not.toContain(runId);
    expect((await runRow(db().pool, runId)).status).toBe('running');

    // The process dies: its socket closes mid-statement.
    (orphan as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await statement;
    let reaped = false;
    for (let i = 0; i < 100 && !reaped; i++) {
      reaped = (await reapAbandonedRuns(db().pool, { connector: name })).some((r) => r.id === runId);
      if (!reaped) await sleep(100);
    }
    expect(reaped).toBe(true);
    expect(await runBackends(runId)).toBe(0);
    expect(await stageTableCount(runId)).toBe(0);
    expect((await runRow(db().pool, runId)).status).toBe('failed');
  }, 30_000);
});

describe('a finished run whose process died before its cleanup', () => {
  it('has its tables dropped by the housekeeping of any process, once no backend works for it', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(3) });
    const done = await sync(db().pool, src.config);
    expect(done.status).toBe('succeeded');
    // What a SIGKILL between the apply's COMMIT and the cleanup leaves: a succeeded run's tables.
    await db().pool.query(`CREATE TABLE dirsync_stage.r${done.runId}_xo (x int)`);
    // While a backend still works for the run, its tables stay.
    const straggler = new pg.Client({
      connectionString: db().url,
      application_name: runApplicationName(done.runId),
    });
    await straggler.connect();
    await reapAbandonedRuns(db().pool);
    expect(await stageTableCount(done.runId)).toBe(1);
    await straggler.end();
    for (let i = 0; i < 50 && (await runBackends(done.runId)) > 0; i++) await sleep(20);
    await reapAbandonedRuns(db().pool);
    expect(await stageTableCount(done.runId)).toBe(0);
    expect((await runRow(db().pool, done.runId)).status).toBe('succeeded');
  });
});

describe('held runs that can no longer be approved', () => {
  it('are marked superseded, with their tables dropped, once a newer run applies', async () => {
    const src = fileSource({ guard: { minRemovals: 0, users: { maxCount: 2, maxPercent: 100 } } }, name);
    src.write({ users: users(10) });
    expect((await sync(db().pool, src.config)).status).toBe('succeeded');
    src.write({ users: users(3) }); // 7 removals: held
    const held = await sync(db().pool, src.config);
    expect(held.status).toBe('needs_approval');
    expect(await stageTableCount(held.runId)).toBeGreaterThan(0);

    src.write({ users: [...users(10), ...users(1, 'new')] }); // a small change: applies
    expect((await sync(db().pool, src.config)).status).toBe('succeeded');
    const row = await runRow(db().pool, held.runId);
    expect(row.status).toBe('superseded');
    expect(await stageTableCount(held.runId)).toBe(0);
    // Approving it says why it cannot be: the directory moved since it was computed.
    await expect(approveRun(db().pool, held.runId)).rejects.toMatchObject({
      code: 'DIRSYNC_E_DIRECTORY_MOVED',
    });
  });

  it('are superseded when another held run is approved', async () => {
    const src = fileSource({ guard: { minRemovals: 0, users: { maxCount: 2, maxPercent: 100 } } }, name);
    src.write({ users: users(10) });
    await sync(db().pool, src.config);
    src.write({ users: users(3) });
    const first = await sync(db().pool, src.config);
    src.write({ users: users(4) });
    const second = await sync(db().pool, src.config);
    expect([first.status, second.status]).toEqual(['needs_approval', 'needs_approval']);
    await approveRun(db().pool, second.runId);
    expect((await runRow(db().pool, first.runId)).status).toBe('superseded');
    expect(await stageTableCount(first.runId)).toBe(0);
  });
});
