/**
 * When each application last used the Crowd API, for the dashboard. Written at most once a minute
 * per application (a poll every few seconds must not become a write every few seconds); the
 * request count in between is added on the next write.
 */
import type pg from 'pg';
import type { CrowdApplication } from './auth.js';

const EVERY_MS = 60_000;

export class AccessRecorder {
  private readonly pending = new Map<string, { last: number; count: number }>();
  constructor(private readonly pool: pg.Pool) {}

  touched(app: CrowdApplication, address: string): void {
    const now = Date.now();
    const p = this.pending.get(app.name) ?? { last: 0, count: 0 };
    p.count++;
    this.pending.set(app.name, p);
    if (now - p.last < EVERY_MS) return;
    const count = p.count;
    p.last = now;
    p.count = 0;
    this.pool
      .query(
        `INSERT INTO dirsync.crowd_access (application, last_access_at, last_address, requests)
         VALUES ($1, now(), $2, $3)
         ON CONFLICT (application) DO UPDATE
           SET last_access_at = now(), last_address = EXCLUDED.last_address,
               requests = dirsync.crowd_access.requests + EXCLUDED.requests`,
        [app.name, address, count],
      )
      .catch(() => {
        // Bookkeeping only: a failed write must not fail the application's request.
        p.count += count;
      });
  }
}

export interface ApplicationAccess {
  application: string;
  lastAccessAt: string | null;
  lastAddress: string | null;
  requests: number;
}

export async function readAccess(pool: pg.Pool): Promise<Map<string, ApplicationAccess>> {
  const { rows } = await pool.query<{
    application: string;
    last_access_at: Date;
    last_address: string | null;
    requests: string;
  }>('SELECT application, last_access_at, last_address, requests FROM dirsync.crowd_access');
  return new Map(
    rows.map((r) => [
      r.application,
      {
        application: r.application,
        lastAccessAt: r.last_access_at.toISOString(),
        lastAddress: r.last_address,
        requests: Number(r.requests),
      },
    ]),
  );
}
