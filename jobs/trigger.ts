/**
 * "Sync now": enqueue a manual run of one connector, coalesced with any run of that connector that
 * is already queued or running, so pressing the button 20 times (or from 20 places) gives one run.
 *
 * Two layers:
 * - BullMQ deduplication keyed by connector (`sync-now:<connector>`): while a manual job of the
 *   connector exists and has not completed or failed (waiting, delayed for a retry, running), every
 *   further add returns that job's id instead of adding one. This is atomic in Redis, so concurrent
 *   triggers from many processes coalesce.
 * - A scheduled job of the connector that is waiting or running is joined too (looked up first;
 *   best effort, not atomic: if a trigger races a scheduled job becoming due, the two are still
 *   never run in parallel — the pipeline's advisory lock makes the second wait, see the processor).
 */
import { randomUUID } from 'node:crypto';
import { DEFAULT_RETRY, SYNC_JOB, type RetryPolicy, type SyncJobData } from './payloads.js';
import { syncJobOptions, type SyncQueue } from './queue.js';

export interface TriggerOptions {
  /** Ignore incremental cursors (runSync `fullResync`). Only applies when a new run is queued. */
  fullResync?: boolean;
  requestedBy?: string;
  retry?: RetryPolicy;
}

export interface TriggerResult {
  jobId: string;
  /** `queued`: a new run; `joined`: a run of this connector was already queued or running. */
  state: 'queued' | 'joined';
}

export function deduplicationId(connector: string): string {
  return `sync-now:${connector}`;
}

/** A waiting or running job of this connector (scheduled or manual), if any. */
export async function pendingSyncJob(queue: SyncQueue, connector: string): Promise<string | null> {
  const jobs = await queue.getJobs(['active', 'wait', 'prioritized'], 0, 500);
  const j = jobs.find((x) => x?.data?.connector === connector);
  return j?.id ?? null;
}

export async function triggerSync(
  queue: SyncQueue,
  connector: string,
  opts: TriggerOptions = {},
): Promise<TriggerResult> {
  const pending = await pendingSyncJob(queue, connector);
  if (pending) return { jobId: pending, state: 'joined' };
  const data: SyncJobData = {
    connector,
    trigger: 'manual',
    ...(opts.fullResync ? { fullResync: true } : {}),
    ...(opts.requestedBy ? { requestedBy: opts.requestedBy } : {}),
  };
  // BullMQ refuses ':' in custom ids.
  const jobId = `manual-${connector}-${randomUUID()}`;
  const job = await queue.add(SYNC_JOB, data, {
    ...syncJobOptions(opts.retry ?? DEFAULT_RETRY),
    jobId,
    deduplication: { id: deduplicationId(connector) },
  });
  const id = job.id ?? jobId;
  return { jobId: id, state: id === jobId ? 'queued' : 'joined' };
}
