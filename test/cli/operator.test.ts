/**
 * The CLI as an operator meets it: one config flag for every command, errors instead of silence,
 * the same option names everywhere, camelCase JSON, changes that say what changed, and the history
 * of one person or group.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { tempDir, users } from '../helpers/snapshot.js';

const exec = promisify(execFile);

async function cli(args: string[], env: Record<string, string>) {
  try {
    const r = await exec(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      env: { ...process.env, DIRSYNC_LOG_LEVEL: 'silent', DIRSYNC_CONFIG: '', ...env },
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
let config: string;
let env: Record<string, string>;
const snap = (o: unknown) => writeFileSync(join(dir, 'snap.json'), JSON.stringify(o));

beforeAll(async () => {
  db = await createTestDatabase();
  dir = tempDir();
  snap({
    users: users(4).map((u, i) => ({ ...u, attributes: { title: 'Engineer', floor: i } })),
    groups: [{ id: 'g', name: 'eng', members: ['u0', 'u1', 'u2'] }],
  });
  config = join(dir, 'dirsync.yaml');
  writeFileSync(
    config,
    `connectors:\n  - name: hr\n    kind: file\n    path: ${join(dir, 'snap.json')}\n    deletion: { deleteAfter: 30d }\n    guard: { minRemovals: 100 }\n`,
  );
  // No DIRSYNC_CONFIG: every command below finds the config through --config.
  env = { DATABASE_URL: db.url };
});
afterAll(async () => {
  await db.drop();
});

describe('dirsync CLI for operators', () => {
  it('--version prints the package version', async () => {
    const r = await cli(['--version'], env);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });

  it('--config points every command at a config file; without it the error says how', async () => {
    const missing = await cli(['status'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--config');
    const first = await cli(['--config', config, 'sync', 'hr', '--full', '--limit', '0'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('succeeded');
    // --limit 0 lists no change lines at all.
    expect(first.stdout).not.toMatch(/^\s+[+~-] /m);
    const st = await cli(['status', '--config', config], env);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(/^hr\s+file\s+4 \(4\)/m);
    // One time format: ISO 8601 UTC.
    expect(st.stdout).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/);
  });

  it('changes of an unknown run is an error; a malformed run id is a usage error without a stack', async () => {
    const none = await cli(['changes', '999999'], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('DIRSYNC_E_RUN_NOT_FOUND');
    const abc = await cli(['changes', 'abc'], env);
    expect(abc.code).toBe(2);
    expect(abc.stderr.trim().split('\n')).toEqual([
      'dirsync: "abc" is not a run id (a positive whole number)',
    ]);
    const huge = await cli(['changes', '99999999999999999999999'], env);
    expect(huge.code).toBe(2);
    const badLimit = await cli(['--config', config, 'sync', 'hr', '--limit', 'ten'], env);
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain('"ten" is not a whole number');
  });

  it('a deactivation reads as one, an attribute update names only the changed keys, JSON is camelCase', async () => {
    snap({
      users: [
        ...users(3).map((u, i) => ({
          ...u,
          attributes: { title: i === 1 ? 'Manager' : 'Engineer', floor: i },
        })),
        // u3 is gone from the IdP.
      ],
      groups: [{ id: 'g', name: 'eng', members: ['u0', 'u1'] }],
    });
    const r = await cli(['--config', config, 'sync', 'hr'], env);
    expect(r.code).toBe(0);
    const deact = r.stdout.split('\n').find((l) => l.includes('deactivate user user3'));
    expect(deact).toContain('active: true → false');
    expect(deact).not.toContain('email');
    expect(deact).not.toContain('(none)');
    const upd = r.stdout.split('\n').find((l) => l.includes('update user user1'));
    expect(upd).toContain('attributes.title: "Engineer" → "Manager"');
    expect(upd).not.toContain('floor');

    const runId = /Run (\d+) of hr/.exec(r.stdout)?.[1] as string;
    const j = await cli(['changes', runId, '--json'], env);
    const parsed = JSON.parse(j.stdout) as { changes: Record<string, unknown>[] };
    const keys = new Set(parsed.changes.flatMap((c) => Object.keys(c)));
    expect([...keys].filter((k) => k.includes('_'))).toEqual([]);
    expect(keys).toContain('externalId');
    const u1 = parsed.changes.find((c) => c.externalId === 'u1' && c.object === 'user');
    expect(u1?.fields).toEqual([{ field: 'attributes.title', before: 'Engineer', after: 'Manager' }]);
  });

  it('history tells when a person left a group and was deactivated, why, and when they will be deleted', async () => {
    const u2 = await cli(['--config', config, 'history', 'hr', 'user2'], env);
    expect(u2.code).toBe(0);
    expect(u2.stdout).toMatch(/left group eng/);
    expect(u2.stdout).toMatch(/joined group eng/);
    const u3 = await cli(['--config', config, 'history', 'hr', 'USER3', '--json'], env);
    const h = JSON.parse(u3.stdout) as {
      active: boolean;
      deletionDueAt: string;
      entries: { operation: string; why: string | null }[];
    };
    expect(h.active).toBe(false);
    const due = new Date(h.deletionDueAt).getTime() - Date.now();
    expect(due).toBeGreaterThan(29 * 86_400_000);
    expect(due).toBeLessThanOrEqual(30 * 86_400_000);
    expect(h.entries[0]).toMatchObject({
      operation: 'deactivate',
      why: 'no longer returned by the identity provider',
    });
    expect(h.entries.at(-1)).toMatchObject({ operation: 'create' });
    const g = await cli(['--config', config, 'history', 'hr', 'eng', '--group'], env);
    expect(g.stdout).toMatch(/removed 1 user\b/);
    expect(g.stdout).toMatch(/added 3 users/);
    const none = await cli(['--config', config, 'history', 'hr', 'nobody'], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('DIRSYNC_E_OBJECT_NOT_FOUND');
  });
});
