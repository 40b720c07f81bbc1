/**
 * Helpers for the jobs tests: a random queue prefix per test (cleaned up after), polling with a
 * deadline, worker configs for the file connector, and spawned worker processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parseConfig } from '../../config/load.js';
import type { DirsyncConfig } from '../../config/schema.js';
import { DEFAULT_REDIS_URL } from '../../jobs/queue.js';
import { tempDir } from '../helpers/snapshot.js';

export const REDIS_URL = process.env.REDIS_URL || DEFAULT_REDIS_URL;

export function randomPrefix(): string {
  return `dirsync-test-${randomBytes(5).toString('hex')}`;
}

/** Deletes every key under a queue prefix (what obliterate does, schedulers included). */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** Polls until `fn` returns a truthy value; fails with `what` after the deadline. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T> | T,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A full config (validated like a real one) around file-connector entries. */
export function workerConfig(
  prefix: string,
  connectors: Record<string, unknown>[],
  concurrency = 2,
): DirsyncConfig {
  return parseConfig({ queue: { prefix, concurrency }, connectors });
}

/** Writes a config file for a spawned worker; returns its path. */
export function writeConfigFile(
  prefix: string,
  connectors: Record<string, unknown>[],
  concurrency = 2,
): string {
  const path = join(tempDir(), 'dirsync.yaml');
  writeFileSync(path, JSON.stringify({ queue: { prefix, concurrency }, connectors }));
  return path;
}

export interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
}

/** Starts `node --import tsx jobs/worker.main.ts` with the given environment. */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'jobs/worker.main.ts'], {
    env: { ...process.env, DIRSYNC_LOG_LEVEL: 'info', REDIS_URL, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let out = '';
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

/** Kills a worker process if it is still running (test cleanup). */
export async function stopProcess(w: WorkerProcess | undefined): Promise<void> {
  if (!w || w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill('SIGKILL');
  await w.exited;
}
