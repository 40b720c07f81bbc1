/**
 * What travels through the queue: the data of a sync job, what it reports while running, and what
 * it returns. Kept small and JSON-only (BullMQ stores it in Redis).
 */
import type { RunProgress, RunSummary } from '../src/pipeline/run.js';

/** The one queue every worker shares (its Redis keys start with `config.queue.prefix`). */
export const SYNC_QUEUE = 'sync';
/** The one job name on it: sync one connector. */
export const SYNC_JOB = 'sync';

export interface SyncJobData {
  /** Connector name (its config is looked up by the worker at run time, so config changes apply). */
  connector: string;
  /** `schedule` for scheduler-made jobs, `manual` for "sync now". */
  trigger: 'schedule' | 'manual';
  /** Ignore incremental cursors (passed to runSync `fullResync`). */
  fullResync?: boolean;
  /** Who pressed "sync now" (a user name, `cli`); stored in the job only, for the dashboard. */
  requestedBy?: string;
  /** Cron schedules with jitter: the deterministic delay this connector's runs start after. */
  jitterMs?: number;
  /** Set once the jitter delay was applied, so a job is delayed at most once. */
  jittered?: boolean;
}

/** What `job.updateProgress` carries (the dashboard reads it from QueueEvents 'progress'). */
export interface SyncJobProgress extends Omit<RunProgress, 'runId'> {
  connector: string;
  runId?: number;
  attempt: number;
}

/** The job's return value: enough for `sync-now --wait` and the dashboard, not the whole summary. */
export interface SyncJobResult {
  connector: string;
  runId: number;
  status: RunSummary['status'];
  counts: RunSummary['counts'];
  requests: number;
  throttled: number;
}

/** Retry policy of sync jobs; stored in each job's options, so producers and workers agree. */
export interface RetryPolicy {
  /** Attempts in total, the first included. */
  attempts: number;
  /** First backoff delay; doubles per attempt (with full jitter), capped at `maxMs`. */
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 30_000, maxMs: 15 * 60_000 };

/** The custom backoff type registered by the worker (see `syncBackoff`). */
export const BACKOFF_TYPE = 'dirsync';
