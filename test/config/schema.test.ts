import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../config/load.js';
import { resolveSecret } from '../../config/secrets.js';
import { DirsyncError } from '../../src/errors.js';

function problemsOf(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(DirsyncError);
    expect((e as DirsyncError).code).toBe('DIRSYNC_E_CONFIG_INVALID');
    return (e as Error).message
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
  }
  throw new Error('config was accepted');
}

describe('config schema', () => {
  it('fills defaults for a minimal file connector', () => {
    const c = parseConfig({ connectors: [{ name: 'hr', kind: 'file', path: 'x.json' }] });
    const hr = c.connectors[0]!;
    expect(hr.schedule).toEqual({ every: 3_600_000 });
    expect(hr.deletion.deleteAfter).toBe(30 * 86_400_000);
    expect(hr.guard.users).toEqual({ maxCount: 500, maxPercent: 10 });
    expect(hr.filters.groups).toEqual({ include: [], exclude: [] });
    expect(c.server).toEqual({ host: '127.0.0.1', port: 8080 });
  });

  it('lists every problem with its path at once', () => {
    const problems = problemsOf({
      connectors: [
        { name: 'ok', kind: 'file', path: 'a.json' },
        {
          name: 'Bad Name',
          kind: 'file',
          schedule: { every: 'soon' },
          transform: { username: '{{ email | shout }}' },
          guard: { users: { maxPercent: 200 } },
        },
        { name: 'ok', kind: 'nope' },
      ],
      surprise: true,
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^connectors\[1\]\.name: must be lower-case/),
        expect.stringMatching(/^connectors\[1\]\.path: /),
        expect.stringMatching(/^connectors\[1\]\.schedule\.every: "soon" is not a duration/),
        expect.stringMatching(/^connectors\[1\]\.transform\.username: unknown filter "shout"/),
        expect.stringMatching(/^connectors\[1\]\.guard\.users\.maxPercent: /),
        expect.stringMatching(/^connectors\[2\]\.kind: /),
        expect.stringMatching(/surprise/),
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(7);
  });

  it('reports duplicate connector names', () => {
    expect(
      problemsOf({
        connectors: [
          { name: 'hr', kind: 'file', path: 'a' },
          { name: 'hr', kind: 'file', path: 'b' },
        ],
      }),
    ).toEqual(['connectors[1].name: duplicate connector name "hr" (also connectors[0])']);
  });

  it('accepts cron schedules and selectors, normalises globs', () => {
    const c = parseConfig({
      connectors: [
        {
          name: 'hr',
          kind: 'file',
          path: 'a',
          schedule: { cron: '0 * * * *', tz: 'Europe/Berlin' },
          filters: { groups: { include: ['eng-*', 'Sales', { id: '42' }] } },
        },
      ],
    });
    expect(c.connectors[0]!.filters.groups.include).toEqual([
      { glob: 'eng-*' },
      { name: 'Sales' },
      { id: '42' },
    ]);
  });

  it('rejects bad user predicates', () => {
    const problems = problemsOf({
      connectors: [
        {
          name: 'hr',
          kind: 'file',
          path: 'a',
          filters: { users: { where: [{ field: 'x', matches: '(' }, { field: 'y' }] } },
        },
      ],
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^connectors\[0\]\.filters\.users\.where\[0\]\.matches: invalid regular expression/,
      ),
      'connectors[0].filters.users.where[1]: give exactly one of equals, in, matches, exists',
    ]);
  });

  it('loads YAML from DIRSYNC_CONFIG and reports YAML syntax errors and missing files clearly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-cfg-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'connectors:\n  - name: hr\n    kind: file\n    path: x.json\n');
    expect(loadConfig(good).connectors[0]!.name).toBe('hr');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'connectors: [\n');
    expect(() => loadConfig(bad)).toThrow(/is not valid YAML/);
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(
      expect.objectContaining({ code: 'DIRSYNC_E_CONFIG_NOT_FOUND' }),
    );
  });
});

describe('secrets', () => {
  it('are references, never inline values', () => {
    // The file connector has no secret; use the schema directly.
    expect(resolveSecret({ env: 'DIRSYNC_TEST_SECRET' }, { DIRSYNC_TEST_SECRET: 's3cr3t' })).toBe('s3cr3t');
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-sec-'));
    writeFileSync(join(dir, 'token'), 'from-file\n');
    expect(resolveSecret({ file: join(dir, 'token') })).toBe('from-file');
  });

  it('a missing secret names the reference, not a value', () => {
    expect(() => resolveSecret({ env: 'DIRSYNC_NOPE' }, {})).toThrow(
      /environment variable DIRSYNC_NOPE is not set/,
    );
    expect(() => resolveSecret({ file: '/nonexistent/secret' })).toThrow(
      /cannot read secret file \/nonexistent\/secret/,
    );
  });
});

describe('shipped configs', () => {
  it('the example and the demo config are valid', () => {
    expect(loadConfig('config/dirsync.example.yaml').connectors.map((c) => c.name)).toEqual(['hr-export']);
    expect(loadConfig('config/demo.yaml').connectors.map((c) => c.name)).toEqual(['acme-demo']);
  });
});
