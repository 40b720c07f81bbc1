/**
 * Private Postgres and Redis instances for tests and the fault soak that restart them. They never
 * touch the shared services: a Postgres cluster initdb'd into a temp directory (as a non-root
 * system user, since Postgres refuses to run as root) on its own port, and a Redis without
 * persistence on its own port, so a restart loses every key as a real data loss would.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';

/** The system user the private Postgres runs as when we are root (the Debian package creates it). */
const PG_USER = process.env.DIRSYNC_TEST_PG_USER ?? 'postgres';

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function asPgUser(cmd: string, args: string[]): string[] {
  return process.getuid?.() === 0 ? ['runuser', '-u', PG_USER, '--', cmd, ...args] : [cmd, ...args];
}

function run(argv: string[]): void {
  execFileSync(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface PrivatePostgres {
  port: number;
  /** URL of a database (created on first use of `database`). */
  url(database?: string): string;
  createDatabase(name: string): Promise<string>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Stop (fast: every session gets 57P01) and start again. */
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', PG_USER]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', PG_USER]).toString().trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const data = join(dir, 'data');
  const port = await freePort();
  run(asPgUser('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']));
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`;
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const ready = () =>
    until('the private Postgres', async () => {
      const c = new pg.Client({ connectionString: url() });
      c.on('error', () => {});
      try {
        await c.connect();
        await c.query('SELECT 1');
        return true;
      } finally {
        await c.end().catch(() => {});
      }
    });
  const start = async () => {
    run(asPgUser('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']));
    await ready();
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    run(asPgUser('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']));
  };
  await start();
  return {
    port,
    url,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    stop,
    start,
    async restart() {
      await stop('fast');
      await start();
    },
    async destroy() {
      await stop('immediate').catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateRedis {
  port: number;
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Kill and start again: with no persistence, every key is lost. */
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'dirsync-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    await until('the private Redis', async () => {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    });
  };
  const stop = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    url,
    start,
    stop,
    async restart() {
      await stop();
      await start();
    },
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
