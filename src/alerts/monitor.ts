/**
 * The alert loop every worker runs: evaluate the conditions, then send what the outbox holds.
 * Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several workers share the sending; a failed
 * delivery is retried with doubling backoff (5 s, 10 s, … at most 1 h) until `maxAttempts`.
 * Nothing here runs inside a sync, and nothing it does can fail one.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { AlertsConfig } from '../../config/schema.js';
import { channelsOf, evaluateAlerts } from './conditions.js';
import { deliver, DeliveryError } from './deliver.js';
import type { AlertEvent } from './events.js';

export interface AlertMonitor {
  /** One evaluation and one sending pass now (tests and `dirsync alerts`). */
  tick(): Promise<{ queued: number; sent: number; failed: number }>;
  close(): Promise<void>;
}

export function backoffMs(attempt: number): number {
  return Math.min(3_600_000, 5_000 * 2 ** Math.max(0, attempt - 1));
}

/** Sends every due outbox row once; returns how many were sent and how many failed this pass. */
export async function drainOutbox(
  db: pg.Pool,
  cfg: AlertsConfig,
  log: Logger,
  now = () => new Date(),
): Promise<{ sent: number; failed: number }> {
  let sent = 0;
  let failed = 0;
  for (;;) {
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{
        id: string;
        channel: string;
        event: AlertEvent;
        attempts: number;
      }>(
        `SELECT id, channel, event, attempts FROM dirsync.alert_outbox
          WHERE sent_at IS NULL AND failed_at IS NULL AND next_at <= $1
          ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [now()],
      );
      const row = rows[0];
      if (!row) {
        await client.query('COMMIT');
        return { sent, failed };
      }
      const attempts = row.attempts + 1;
      try {
        await deliver(cfg, row.channel, row.event);
        await client.query(
          `UPDATE dirsync.alert_outbox SET sent_at = now(), attempts = $2, last_error = NULL WHERE id = $1`,
          [row.id, attempts],
        );
        sent++;
        log.info(
          { alert: row.event.type, connector: row.event.connector, channel: row.channel },
          'alert sent',
        );
      } catch (e) {
        failed++;
        const message = e instanceof Error ? e.message : String(e);
        const giveUp = attempts >= cfg.maxAttempts || (e instanceof DeliveryError && !e.retryable);
        await client.query(
          `UPDATE dirsync.alert_outbox SET attempts = $2, last_error = $3,
                  next_at = $4, failed_at = CASE WHEN $5 THEN now() END WHERE id = $1`,
          [row.id, attempts, message.slice(0, 500), new Date(now().getTime() + backoffMs(attempts)), giveUp],
        );
        log.warn(
          {
            alert: row.event.type,
            connector: row.event.connector,
            channel: row.channel,
            attempts,
            err: message,
          },
          giveUp ? 'alert given up' : 'alert delivery failed; will retry',
        );
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }
}

/**
 * Starts the loop (every `checkEvery`). Errors are logged, never thrown: a database that is away
 * now is tried again next time.
 */
export function startAlertMonitor(o: {
  pool: pg.Pool;
  connectors: () => string[];
  alerts: AlertsConfig;
  logger: Logger;
}): AlertMonitor {
  const log = o.logger.child({ component: 'alerts' });
  let running: Promise<unknown> = Promise.resolve();
  let closed = false;
  const tick = async () => {
    if (channelsOf(o.alerts).length === 0) return { queued: 0, sent: 0, failed: 0 };
    const queued = await evaluateAlerts(o.pool, o.connectors(), o.alerts);
    const { sent, failed } = await drainOutbox(o.pool, o.alerts, log);
    return { queued: queued.length, sent, failed };
  };
  const loop = () => {
    if (closed) return;
    running = tick()
      .catch((e: unknown) =>
        log.warn({ err: (e as Error).message }, 'alert check failed; trying again later'),
      )
      .finally(() => {
        if (!closed) timer = setTimeout(loop, o.alerts.checkEvery).unref();
      });
  };
  let timer = setTimeout(loop, 1_000).unref();
  return {
    tick: () => {
      const p = running.then(tick);
      running = p.catch(() => undefined);
      return p;
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await running.catch(() => undefined);
    },
  };
}
