/**
 * Schedules: one BullMQ job scheduler per connector, id = connector name, made idempotently at
 * every worker start from the config. Schedulers of connectors that left the config (or became
 * `{ manual: true }`) are removed. Run history lives in Postgres and is never touched here.
 *
 * Jitter, so 20 hourly connectors do not all fire at :00, is a deterministic per-connector offset
 * (a hash of the name, modulo `jitter`):
 * - `every` schedules use BullMQ's `offset`: runs fire at `k * every + offset` on the epoch grid.
 *   Chosen over `startDate` because the phase then depends on nothing but the name and the
 *   interval — not on which worker booted first or when the interval last changed — so any number
 *   of workers upserting at any time agree on one slot, and restarts never shift it. The price: a
 *   newly added connector with jitter first runs at its next slot (at most one interval away;
 *   "sync now" covers the impatient). Without jitter BullMQ runs a new `every` schedule at once.
 * - `cron` has no offset in BullMQ, so the scheduler's job carries `jitterMs` and the processor
 *   delays the job by it once before running (see sync.processor.ts).
 */
import type { Logger } from 'pino';
import type { DirsyncConfig } from '../config/schema.js';
import { DEFAULT_RETRY, SYNC_JOB, type RetryPolicy, type SyncJobData } from './payloads.js';
import { syncJobOptions, type SyncQueue } from './queue.js';

/** A stable pseudo-random offset in [0, jitterMs) (and below `everyMs`) from the connector name. */
export function scheduleOffset(connector: string, jitterMs: number | undefined, everyMs?: number): number {
  const span = Math.min(jitterMs ?? 0, everyMs ?? Infinity);
  if (!(span > 1)) return 0;
  // FNV-1a, 32 bits: stable across processes and versions (unlike anything seeded).
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(connector, 'utf8')) {
    h ^= ch;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % Math.floor(span);
}

export interface ScheduleSyncResult {
  /** Connectors whose scheduler was created or updated. */
  upserted: string[];
  /**
   * Connectors whose scheduler Redis refused (the schema validates cron and time zones, so this is
   * rare): reported, while every other connector is still scheduled.
   */
  failed: { connector: string; reason: string }[];
  /** Scheduler ids removed (connector gone from the config or now manual). */
  removed: string[];
}

type ScheduledConnector = Pick<DirsyncConfig['connectors'][number], 'name' | 'schedule'>;

export async function syncSchedules(
  queue: SyncQueue,
  connectors: readonly ScheduledConnector[],
  opts: { retry?: RetryPolicy; logger?: Logger } = {},
): Promise<ScheduleSyncResult> {
  const jobOpts = syncJobOptions(opts.retry ?? DEFAULT_RETRY);
  const upserted: string[] = [];
  const failed: ScheduleSyncResult['failed'] = [];
  const wanted = new Set<string>();
  for (const c of connectors) {
    const s = c.schedule;
    if ('manual' in s) continue;
    wanted.add(c.name);
    const data: SyncJobData = { connector: c.name, trigger: 'schedule' };
    try {
      await upsertOne(queue, c.name, s, data, jobOpts);
    } catch (e) {
      if (isConnectionError(e)) throw e;
      failed.push({ connector: c.name, reason: (e as Error).message });
      continue;
    }
    upserted.push(c.name);
  }
  const removed: string[] = [];
  for (const s of await queue.getJobSchedulers(0, -1)) {
    const id = s.id ?? s.key;
    if (!wanted.has(id) && (await queue.removeJobScheduler(id))) removed.push(id);
  }
  if (failed.length > 0)
    opts.logger?.error({ failed }, 'schedules Redis refused; those connectors are not scheduled');
  opts.logger?.info({ upserted, removed }, 'schedules synced');
  return { upserted, removed, failed };
}

/** Redis being away is not a connector's fault: it fails the whole call (the caller retries). */
function isConnectionError(e: unknown): boolean {
  const m = (e as Error | undefined)?.message ?? '';
  return /Connection is closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable|MaxRetriesPerRequest/i.test(m);
}

type Schedule = Exclude<ScheduledConnector['schedule'], { manual: true }>;

async function upsertOne(
  queue: SyncQueue,
  name: string,
  s: Schedule,
  data: SyncJobData,
  jobOpts: ReturnType<typeof syncJobOptions>,
): Promise<void> {
  if ('every' in s) {
    const offset = scheduleOffset(name, s.jitter, s.every);
    await queue.upsertJobScheduler(
      name,
      { every: s.every, ...(offset > 0 ? { offset } : {}) },
      { name: SYNC_JOB, data, opts: jobOpts },
    );
    return;
  }
  const jitterMs = scheduleOffset(name, s.jitter);
  await queue.upsertJobScheduler(
    name,
    { pattern: s.cron, ...(s.tz ? { tz: s.tz } : {}) },
    { name: SYNC_JOB, data: jitterMs > 0 ? { ...data, jitterMs } : data, opts: jobOpts },
  );
}

/** Scheduled connectors whose scheduler is missing from Redis (Redis lost its data, or a flush). */
export async function missingSchedules(
  queue: SyncQueue,
  connectors: readonly ScheduledConnector[],
): Promise<string[]> {
  const present = new Set((await queue.getJobSchedulers(0, -1)).map((s) => s.id ?? s.key));
  return connectors.filter((c) => !('manual' in c.schedule) && !present.has(c.name)).map((c) => c.name);
}
