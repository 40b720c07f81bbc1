/**
 * Config that used to pass and fail later (issue 9, item 8): schedules BullMQ cannot register,
 * zero intervals, jitter longer than the interval, and secret references to env vars or files that
 * do not exist. `check-config` lists every problem with its path and reason.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { environmentProblems } from '../../config/environment.js';
import { loadConfig, parseConfig } from '../../config/load.js';
import type { DirsyncError } from '../../src/errors.js';
import { tempDir } from '../helpers/snapshot.js';

const exec = promisify(execFile);

function problemsOf(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (e) {
    expect((e as DirsyncError).code).toBe('DIRSYNC_E_CONFIG_INVALID');
    return (e as Error).message
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
  }
  throw new Error('config was accepted');
}

const entry = (extra: Record<string, unknown>) => ({ name: 'hr', kind: 'file', path: 'x.json', ...extra });

describe('schedules and durations', () => {
  it('rejects what the scheduler or the run timer could not use, each with its path', () => {
    expect(
      problemsOf({
        connectors: [
          entry({ name: 'a', schedule: { cron: '61 * * * *' } }),
          entry({ name: 'b', schedule: { cron: '0 6 * * *', tz: 'Mars/Base' } }),
          entry({ name: 'c', schedule: { every: '0s' } }),
          entry({ name: 'd', schedule: { every: '1m', jitter: '5m' } }),
          entry({ name: 'e', maxRunDuration: '0s' }),
        ],
      }),
    ).toEqual([
      'connectors[0].schedule.cron: "61 * * * *" is not a valid cron pattern: Constraint error, got value 61 expected range 0-59',
      'connectors[1].schedule.tz: "Mars/Base" is not a known IANA time zone (e.g. Europe/Berlin, UTC)',
      'connectors[2].schedule.every: must be longer than 0 (e.g. 15m)',
      'connectors[3].schedule.jitter: must not be longer than the interval (every: 60000 ms); the offset is taken modulo the interval',
      'connectors[4].maxRunDuration: must be longer than 0 (e.g. 15m)',
    ]);
  });

  it('accepts valid cron patterns with a time zone, and jitter up to the interval', () => {
    const c = parseConfig({
      connectors: [
        entry({ name: 'a', schedule: { cron: '*/15 6-18 * * 1-5', tz: 'Europe/Berlin', jitter: '2m' } }),
        entry({ name: 'b', schedule: { every: '15m', jitter: '15m' } }),
      ],
    });
    expect(c.connectors.map((x) => x.schedule)).toEqual([
      { cron: '*/15 6-18 * * 1-5', tz: 'Europe/Berlin', jitter: 120_000 },
      { every: 900_000, jitter: 900_000 },
    ]);
  });
});

describe('messages that match the docs (issue 9, item 12)', () => {
  it('a wrong localGroups object and a negative duration are described as what they are', () => {
    expect(
      problemsOf({
        connectors: [entry({ localGroups: [{ nam: 'x' }], deletion: { deleteAfter: '-5d' } })],
      }),
    ).toEqual([
      'connectors[0].localGroups[0].name: Invalid input: expected string, received undefined',
      'connectors[0].localGroups[0]: Unrecognized key: "nam"',
      'connectors[0].deletion.deleteAfter: "-5d" is not a duration (use e.g. 90s, 15m, 1h, 30d)',
    ]);
  });
});

describe('referenced env vars and secret files', () => {
  it('lists every missing one with its path, never a value', () => {
    const dir = tempDir();
    const present = join(dir, 'present.pem');
    writeFileSync(present, 'secret-value');
    const config = parseConfig({
      connectors: [
        {
          name: 'okta',
          kind: 'okta',
          orgUrl: 'https://acme.okta.com',
          auth: { type: 'apiToken', token: { env: 'DIRSYNC_TEST_MISSING_TOKEN' } },
        },
        {
          name: 'kc',
          kind: 'keycloak',
          url: 'https://kc.example.com',
          realm: 'acme',
          auth: {
            type: 'clientCredentials',
            clientId: 'dirsync',
            clientSecret: { file: join(dir, 'nope.txt') },
          },
        },
        {
          name: 'kc2',
          kind: 'keycloak',
          url: 'https://kc.example.com',
          realm: 'acme',
          auth: { type: 'clientCredentials', clientId: 'dirsync', clientSecret: { file: dir } },
        },
        {
          name: 'kc3',
          kind: 'keycloak',
          url: 'https://kc.example.com',
          realm: 'acme',
          auth: { type: 'clientCredentials', clientId: 'dirsync', clientSecret: { file: present } },
        },
      ],
    });
    const problems = environmentProblems(config, { DIRSYNC_OTHER: 'x' });
    expect(problems.map((p) => `${p.path}: ${p.reason}`)).toEqual([
      'connectors[0].auth.token: environment variable DIRSYNC_TEST_MISSING_TOKEN is not set',
      `connectors[1].auth.clientSecret: secret file ${join(dir, 'nope.txt')} does not exist`,
      `connectors[2].auth.clientSecret: secret file ${dir} is a directory, not a file`,
    ]);
    expect(JSON.stringify(problems)).not.toContain('secret-value');
    expect(environmentProblems(config, { DIRSYNC_TEST_MISSING_TOKEN: 't' })).toHaveLength(2);
  });

  it('check-config exits 2 listing them; a directory as config file is not "not found"', async () => {
    const dir = tempDir();
    const path = join(dir, 'dirsync.yaml');
    writeFileSync(
      path,
      JSON.stringify({
        connectors: [
          {
            name: 'okta',
            kind: 'okta',
            orgUrl: 'https://acme.okta.com',
            auth: { type: 'apiToken', token: { env: 'DIRSYNC_TEST_NO_SUCH_VAR' } },
          },
        ],
      }),
    );
    const run = (config: string) =>
      exec(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'check-config'], {
        env: { ...process.env, DIRSYNC_CONFIG: config },
      }).then(
        (r) => ({ code: 0, out: r.stdout + r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
      );
    const bad = await run(path);
    expect(bad.code).toBe(2);
    expect(bad.out).toContain(
      'connectors[0].auth.token: environment variable DIRSYNC_TEST_NO_SUCH_VAR is not set',
    );

    const asDir = join(dir, 'conf.d');
    mkdirSync(asDir);
    expect(() => loadConfig(asDir)).toThrow(/is a directory, not a config file/);
    try {
      loadConfig(asDir);
    } catch (e) {
      expect((e as DirsyncError).code).toBe('DIRSYNC_E_CONFIG_INVALID');
    }
  });
});
