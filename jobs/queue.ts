/**
 * The one sync queue and its Redis connections. Every producer (scheduler, "sync now") and every
 * worker opens the queue the same way, so they agree on names, prefix and job options.
 */
import { Queue, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { DirsyncError } from '../src/errors.js';
import { BACKOFF_TYPE, DEFAULT_RETRY, SYNC_QUEUE, type RetryPolicy, type SyncJobData } from './payloads.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export function redisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.REDIS_URL || DEFAULT_REDIS_URL;
}

/** The URL with any password replaced, for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable Redis URL)';
  }
}

/**
 * A connection for BullMQ. `maxRetriesPerRequest: null` is what BullMQ requires for workers
 * (blocking commands must wait through a reconnect instead of failing).
 */
export function connectRedis(url: string = redisUrl()): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
  // Reconnects are ioredis' job; an 'error' without a listener would crash the process.
  r.on('error', () => {});
  return r;
}

/**
 * Proves Redis answers before anything starts, failing once and clearly instead of retrying
 * forever in the background (which is what a BullMQ connection does by itself).
 */
export async function assertRedis(url: string = redisUrl(), timeoutMs = 3000): Promise<void> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // connect() rejects with a bare "Connection is closed."; the socket's own error says why.
  let socketError: Error | null = null;
  probe.on('error', (e: Error) => (socketError ??= e));
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    const reason = (socketError as Error | null)?.message ?? (e as Error).message;
    throw new DirsyncError('DIRSYNC_E_REDIS_UNAVAILABLE', `${redactRedisUrl(url)}: ${reason}`, {
      cause: socketError ?? e,
    });
  } finally {
    probe.disconnect();
  }
}

export interface SyncQueueOptions {
  /** Key prefix (config.queue.prefix). */
  prefix: string;
  /** A URL (a connection is opened and closed with the queue) or a shared connection. */
  connection: string | Redis;
}

export type SyncQueue = Queue<SyncJobData>;

/** Opens the sync queue. Close it with `closeSyncQueue` (which also ends a connection it opened). */
export function openSyncQueue(o: SyncQueueOptions): SyncQueue {
  const connection = typeof o.connection === 'string' ? connectRedis(o.connection) : o.connection;
  const queue = new Queue<SyncJobData>(SYNC_QUEUE, { connection, prefix: o.prefix });
  queue.on('error', () => {});
  if (typeof o.connection === 'string') ownedConnections.set(queue, connection);
  return queue;
}

const ownedConnections = new WeakMap<object, Redis>();

export async function closeSyncQueue(queue: SyncQueue): Promise<void> {
  await queue.close();
  const c = ownedConnections.get(queue);
  if (c) {
    ownedConnections.delete(queue);
    await c.quit().catch(() => c.disconnect());
  }
}

/**
 * Options of every sync job: retries with our backoff, and bounded history in Redis (the run
 * history proper is the `runs` table).
 */
export function syncJobOptions(retry: RetryPolicy = DEFAULT_RETRY): JobsOptions {
  return {
    attempts: retry.attempts,
    backoff: { type: BACKOFF_TYPE, delay: retry.baseMs },
    removeOnComplete: { age: 7 * 86_400, count: 1000 },
    removeOnFail: { age: 30 * 86_400, count: 5000 },
  };
}
