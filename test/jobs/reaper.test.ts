import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { reapAbandonedRuns } from '../../jobs/reaper.js';
import { RUN_LOCK, lockKeySql } from '../../src/pipeline/apply.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase();

async function runningRow(connector: string, jobId: string | null = null): Promise<number> {
  const { rows } = await db().pool.query<{ id: string }>(
    `INSERT INTO dirsync.runs (connector, kind, trigger, status, phase, job_id) VALUES ($1, 'file', 'schedule', 'running', 'apply', $2) RETURNING id`,
    [connector, jobId],
  );
  return Number(rows[0]?.id);
}

async function row(id: number) {
  const { rows } = await db().pool.query(
    'SELECT status, error_code, error_message, finished_at FROM dirsync.runs WHERE id = $1',
    [id],
  );
  return rows[0];
}

describe('reapAbandonedRuns', () => {
  it('fails running rows whose run lock nobody holds, and leaves live runs alone', async () => {
    const dead = await runningRow('dead', 'job-1');
    const alive = await runningRow('alive', 'job-2');
    const other = await runningRow('other');
    const holder = new pg.Client({ connectionString: db().url });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(${RUN_LOCK}, ${lockKeySql})`, ['alive']);

      // Scoped to one connector: only that one is looked at.
      expect(await reapAbandonedRuns(db().pool, { connector: 'dead' })).toEqual([
        { id: dead, connector: 'dead', jobId: 'job-1' },
      ]);
      const r = await row(dead);
      expect(r.status).toBe('failed');
      expect(r.error_code).toBe('DIRSYNC_E_RUN_CANCELLED');
      expect(r.error_message).toContain('abandoned while apply');
      expect(r.finished_at).not.toBeNull();
      expect((await row(other)).status).toBe('running');

      expect((await reapAbandonedRuns(db().pool)).map((x) => x.id)).toEqual([other]);
      expect((await row(alive)).status).toBe('running');
    } finally {
      await holder.end();
    }
    // The holder's session is gone, so its lock is too.
    expect((await reapAbandonedRuns(db().pool)).map((x) => x.id)).toEqual([alive]);
    expect(await reapAbandonedRuns(db().pool)).toEqual([]);
  });
});
