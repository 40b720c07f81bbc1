import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { tempDir, users } from './helpers/snapshot.js';

const exec = promisify(execFile);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  try {
    const r = await exec(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      env: { ...process.env, DIRSYNC_LOG_LEVEL: 'silent', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let db: TestDatabase;
let dir: string;
let env: Record<string, string>;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = tempDir();
  writeFileSync(
    join(dir, 'snap.json'),
    JSON.stringify({ users: users(4), groups: [{ id: 'g', name: 'all', members: ['u0', 'u1'] }] }),
  );
  writeFileSync(
    join(dir, 'dirsync.yaml'),
    `connectors:\n  - name: hr\n    kind: file\n    path: ${join(dir, 'snap.json')}\n    guard: { minRemovals: 1 }\n`,
  );
  env = { DATABASE_URL: db.url, DIRSYNC_CONFIG: join(dir, 'dirsync.yaml') };
});
afterAll(async () => {
  await db.drop();
});

describe('dirsync CLI', () => {
  it('fails at start on an invalid config, listing every problem with its path', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'connectors:\n  - name: hr\n    kind: file\n    schedule: { every: often }\n    guard: { users: { maxCount: -1 } }\n',
    );
    const r = await cli(['sync', 'hr'], { ...env, DIRSYNC_CONFIG: bad });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DIRSYNC_E_CONFIG_INVALID');
    expect(r.stderr).toContain('connectors[0].path:');
    expect(r.stderr).toContain('connectors[0].schedule.every: "often" is not a duration');
    expect(r.stderr).toContain('connectors[0].guard.users.maxCount:');
    expect(r.stdout).toBe('');
  });

  it('an unreachable database is one clear line and a non-zero exit', async () => {
    const r = await cli(['status'], {
      ...env,
      DATABASE_URL: 'postgres://dirsync:hunter2@127.0.0.1:1/nowhere',
    });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^dirsync: DIRSYNC_E_DB_UNAVAILABLE: .*127\.0\.0\.1:1/);
    expect(r.stderr).not.toContain('hunter2');
  });

  it('sync --json prints a machine-readable summary; status lists the connector', async () => {
    const r = await cli(['sync', 'hr', '--json'], env);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({
      connector: 'hr',
      status: 'succeeded',
      dryRun: false,
      counts: { users: { create: 4 }, groups: { create: 1 }, memberships: { add: 2 } },
      requests: 0,
    });
    expect(Object.keys(s.phaseMs)).toEqual(['fetch', 'check', 'diff', 'apply']);

    const st = await cli(['status', '--json'], env);
    expect(JSON.parse(st.stdout)).toMatchObject([
      { connector: 'hr', users: 4, activeUsers: 4, lastRun: { status: 'succeeded' } },
    ]);
  });

  it('a held run exits 3, shows how to approve, and approve applies it', async () => {
    writeFileSync(join(dir, 'snap.json'), JSON.stringify({ users: users(1) }));
    const dry = await cli(['sync', 'hr', '--dry-run'], env);
    expect(dry.code).toBe(3);
    const held = await cli(['sync', 'hr'], env);
    expect(held.code).toBe(3);
    expect(held.stdout).toContain('HELD for approval');
    const runId = /dirsync approve (\d+)/.exec(held.stdout)?.[1];
    expect(runId).toBeDefined();
    const changes = await cli(['changes', runId as string], env);
    expect(changes.stdout).toContain('deactivate user user3 (u3)');
    const ok = await cli(['approve', runId as string, '--by', 'tester'], env);
    expect(ok.code).toBe(0);
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n FROM dirsync.users WHERE connector = 'hr' AND active`,
    );
    expect(rows[0].n).toBe(1);
  });

  it('an unknown connector name says which ones exist', async () => {
    const r = await cli(['sync', 'nope'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'DIRSYNC_E_CONNECTOR_UNKNOWN: No connector of that name is configured: "nope" (configured: hr)',
    );
  });
});
