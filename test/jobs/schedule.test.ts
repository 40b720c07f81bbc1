import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/util/duration.js';
import { closeSyncQueue, openSyncQueue, type SyncQueue } from '../../jobs/queue.js';
import { scheduleOffset, syncSchedules } from '../../jobs/schedule.js';
import { dropPrefix, randomPrefix, REDIS_URL } from './helpers.js';

type Schedule = { every: number; jitter?: number } | { cron: string; tz?: string } | { manual: true };
const ms = (s: string) => parseDuration(s) as number;

let prefix: string;
let queue: SyncQueue;
beforeEach(() => {
  prefix = randomPrefix();
  queue = openSyncQueue({ prefix, connection: REDIS_URL });
});
afterEach(async () => {
  await closeSyncQueue(queue);
  await dropPrefix(prefix);
});

async function pendingJobsOf(connector: string) {
  const jobs = await queue.getJobs(['delayed', 'wait', 'prioritized', 'active']);
  return jobs.filter((j) => j?.data.connector === connector);
}

describe('schedules from the config', () => {
  it('creates one scheduler per scheduled connector, updates intervals in place and removes orphans', async () => {
    const first: { name: string; schedule: Schedule }[] = [
      { name: 'hourly', schedule: { every: ms('1h') } },
      { name: 'berlin', schedule: { cron: '0 6 * * *', tz: 'Europe/Berlin' } },
      { name: 'button', schedule: { manual: true } },
      { name: 'spread', schedule: { every: ms('15m'), jitter: ms('2m') } },
    ];
    const r1 = await syncSchedules(queue, first);
    expect(r1.upserted.sort()).toEqual(['berlin', 'hourly', 'spread']);
    expect(r1.removed).toEqual([]);

    const byId = async () =>
      Object.fromEntries((await queue.getJobSchedulers(0, -1)).map((s) => [s.id ?? s.key, s]));
    let s = await byId();
    expect(Object.keys(s).sort()).toEqual(['berlin', 'hourly', 'spread']);
    expect(s.hourly?.every).toBe(3_600_000);
    expect(s.hourly?.template?.data).toEqual({ connector: 'hourly', trigger: 'schedule' });
    expect(s.berlin?.pattern).toBe('0 6 * * *');
    expect(s.berlin?.tz).toBe('Europe/Berlin');
    const offset = scheduleOffset('spread', ms('2m'), ms('15m'));
    expect(offset).toBeGreaterThan(0);
    expect(s.spread?.offset).toBe(offset);
    // Jitter as an offset on the epoch grid: the next run is at k * 15m + offset.
    expect(((s.spread?.next ?? 0) - offset) % ms('15m')).toBe(0);
    expect(await pendingJobsOf('hourly')).toHaveLength(1);
    const spreadNext = s.spread?.next;

    // Booting again with the same config (another worker, a restart) changes nothing.
    await syncSchedules(queue, first);
    s = await byId();
    expect(s.spread?.next).toBe(spreadNext);
    expect(await pendingJobsOf('hourly')).toHaveLength(1);
    expect(await pendingJobsOf('spread')).toHaveLength(1);

    // New config: hourly becomes two-hourly, berlin is gone, button gets a schedule.
    const second: { name: string; schedule: Schedule }[] = [
      { name: 'hourly', schedule: { every: ms('2h') } },
      { name: 'button', schedule: { every: ms('30m') } },
      { name: 'spread', schedule: { every: ms('15m'), jitter: ms('2m') } },
    ];
    const r2 = await syncSchedules(queue, second);
    expect(r2.removed).toEqual(['berlin']);
    s = await byId();
    expect(Object.keys(s).sort()).toEqual(['button', 'hourly', 'spread']);
    expect(s.hourly?.every).toBe(7_200_000);
    expect(await pendingJobsOf('hourly')).toHaveLength(1);
    expect(await pendingJobsOf('berlin')).toHaveLength(0);

    // A connector turned manual loses its scheduler.
    const r3 = await syncSchedules(queue, [{ name: 'hourly', schedule: { manual: true } }]);
    expect(r3.removed.sort()).toEqual(['button', 'hourly', 'spread']);
    expect(await queue.getJobSchedulersCount()).toBe(0);
  });

  it('puts cron jitter in the job data, for the processor to delay by', async () => {
    await syncSchedules(queue, [
      { name: 'nightly', schedule: { cron: '0 2 * * *', jitter: ms('10m') } as Schedule },
    ]);
    const s = await queue.getJobScheduler('nightly');
    expect(s?.template?.data?.jitterMs).toBe(scheduleOffset('nightly', ms('10m')));
  });
});

describe('scheduleOffset', () => {
  it('is deterministic, within the jitter and below the interval, and spreads connectors', () => {
    const names = Array.from({ length: 20 }, (_, i) => `connector-${i}`);
    const offsets = names.map((n) => scheduleOffset(n, 120_000, 3_600_000));
    expect(names.map((n) => scheduleOffset(n, 120_000, 3_600_000))).toEqual(offsets);
    for (const o of offsets) {
      expect(o).toBeGreaterThanOrEqual(0);
      expect(o).toBeLessThan(120_000);
    }
    expect(new Set(offsets).size).toBeGreaterThan(15);
    expect(scheduleOffset('x', 600_000, 60_000)).toBeLessThan(60_000);
    expect(scheduleOffset('x', undefined)).toBe(0);
  });
});
