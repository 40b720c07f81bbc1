import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

const execFileAsync = promisify(execFile);

/** The secret values the config's secret files hold (each `file:` reference, read). */
function readyEnv(configText: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of configText.matchAll(/file: (\S+)/g)) {
    const path = m[1] as string;
    if (path.includes('/secrets/')) out[path] = readFileSync(path, 'utf8');
  }
  return out;
}

let db: TestDatabase;
let child: ChildProcess | undefined;
beforeAll(async () => {
  db = await createTestDatabase();
  // A queue of its own, so a developer's running demo is not disturbed.
  await db.pool.query('SELECT 1');
});
afterAll(async () => {
  // A failed assertion must not leave the demo (emulators, worker, server) running.
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await db.drop();
});

describe('npm run demo', () => {
  it('starts the emulators, a worker and the dashboard, syncs every directory, prints the URL, and stops on SIGINT', async () => {
    const demo = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'demo', '--port', '0'], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        DIRSYNC_LOG_LEVEL: 'silent',
        DIRSYNC_DEMO_QUEUE: `demo-test-${process.pid}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = demo;
    let stderr = '';
    demo.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no dashboard line; output:\n${lines.join('\n')}\n${stderr}`)),
        170_000,
      );
      createInterface({ input: demo.stdout }).on('line', (line) => {
        lines.push(line);
        const m = /^Dashboard: (http:\/\/\S+)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
      demo.on('exit', (code) => reject(new Error(`demo exited ${code}:\n${lines.join('\n')}\n${stderr}`)));
    });
    // Every directory synced once, successfully.
    const results = lines.filter((l) => /: run \d+ /.test(l));
    expect(results).toHaveLength(5);
    for (const l of results) expect(l).toMatch(/ succeeded · users: \d+ create/);
    // The dashboard answers and shows the synced directories.
    const res = await fetch(`${url}/api/connectors`);
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { name: string; users: number }[] };
    for (const c of items) expect(c.users).toBeGreaterThan(0);
    expect(items.map((c) => c.name).sort()).toEqual([
      'acme-demo',
      'google-emulator',
      'graph-emulator',
      'keycloak-emulator',
      'okta-emulator',
    ]);
    // The CLI, from another shell, sees the demo's directories through the config the demo wrote.
    const cliLine = lines.find((l) => l.startsWith('CLI:'));
    const configPath = / --config (\S+) /.exec(cliLine ?? '')?.[1];
    expect(configPath, `no CLI line in:\n${lines.join('\n')}`).toBeDefined();
    const written = readFileSync(configPath as string, 'utf8');
    // Secrets are referenced as files, never written into the config.
    for (const value of Object.values(readyEnv(written))) expect(written).not.toContain(value);
    const status = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', '--config', configPath as string, 'status', '--json'],
      { env: { ...process.env, DATABASE_URL: db.url, DIRSYNC_LOG_LEVEL: 'silent' } },
    );
    const rows = JSON.parse(status.stdout) as { connector: string; users: number }[];
    expect(rows.map((r) => r.connector).sort()).toEqual(items.map((c) => c.name).sort());
    for (const r of rows) expect(r.users).toBeGreaterThan(0);
    const exited = new Promise<number | null>((resolve) => demo.on('exit', (code) => resolve(code)));
    demo.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 200_000);
});
