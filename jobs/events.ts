/**
 * Live events of sync jobs for the dashboard (or `sync-now --wait`): progress (phase and counts,
 * about once a second per running job), completion and failure, from any worker on the queue.
 * Backed by BullMQ QueueEvents (a Redis stream), so a subscriber sees every worker's jobs.
 */
import { QueueEvents } from 'bullmq';
import { SYNC_QUEUE, type SyncJobProgress, type SyncJobResult } from './payloads.js';
import { connectRedis, redisUrl as defaultRedisUrl } from './queue.js';

export interface SyncEventHandlers {
  progress?(e: { jobId: string; progress: SyncJobProgress }): void;
  completed?(e: { jobId: string; result: SyncJobResult }): void;
  /** `reason` starts with the error code (`DIRSYNC_E_IDP_AUTH: ...`). */
  failed?(e: { jobId: string; reason: string }): void;
}

export interface SyncEventSubscription {
  queueEvents: QueueEvents;
  close(): Promise<void>;
}

function parsed<T>(v: unknown): T {
  if (typeof v !== 'string') return v as T;
  try {
    return JSON.parse(v) as T;
  } catch {
    return v as T;
  }
}

export async function subscribeSyncEvents(
  o: { prefix: string; redisUrl?: string },
  handlers: SyncEventHandlers,
): Promise<SyncEventSubscription> {
  const connection = connectRedis(o.redisUrl ?? defaultRedisUrl());
  const queueEvents = new QueueEvents(SYNC_QUEUE, { connection, prefix: o.prefix });
  queueEvents.on('error', () => {});
  if (handlers.progress) {
    const h = handlers.progress;
    queueEvents.on('progress', ({ jobId, data }) => h({ jobId, progress: parsed<SyncJobProgress>(data) }));
  }
  if (handlers.completed) {
    const h = handlers.completed;
    queueEvents.on('completed', ({ jobId, returnvalue }) =>
      h({ jobId, result: parsed<SyncJobResult>(returnvalue) }),
    );
  }
  if (handlers.failed) {
    const h = handlers.failed;
    queueEvents.on('failed', ({ jobId, failedReason }) => h({ jobId, reason: failedReason }));
  }
  await queueEvents.waitUntilReady();
  return {
    queueEvents,
    async close() {
      await queueEvents.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
