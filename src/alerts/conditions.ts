/**
 * Evaluates the alert conditions of every configured connector from the run history and records
 * each transition (fired, recovered, a new held run) once, with what to send in the outbox, in the
 * same transaction. Any number of processes may evaluate at once: the state row lock makes exactly
 * one of them see, and send, each transition.
 */
import type pg from 'pg';
import type { AlertsConfig } from '../../config/schema.js';
import type { AlertEvent } from './events.js';

interface ConnectorFacts {
  connector: string;
  recent: { id: string; status: string; error_code: string | null; error_message: string | null }[] | null;
  last_success: Date | null;
  first_run: Date | null;
  held_run: string | null;
  held_guard: unknown;
}

/** The receivers an event goes to: `webhook:<index>` and `email`. */
export function channelsOf(cfg: AlertsConfig): string[] {
  return [...cfg.webhooks.map((_, i) => `webhook:${i}`), ...(cfg.email ? ['email'] : [])];
}

async function facts(db: pg.Pool, names: string[], n: number): Promise<ConnectorFacts[]> {
  const { rows } = await db.query<ConnectorFacts>(
    `SELECT x.connector,
            (SELECT json_agg(l ORDER BY l.id DESC) FROM (
               SELECT r.id, r.status, r.error_code, r.error_message FROM dirsync.runs r
                WHERE r.connector = x.connector AND NOT r.dry_run AND r.status IN ('succeeded', 'failed', 'approved')
                ORDER BY r.id DESC LIMIT $2) l) AS recent,
            (SELECT max(coalesce(r.finished_at, r.started_at)) FROM dirsync.runs r
              WHERE r.connector = x.connector AND NOT r.dry_run AND r.status IN ('succeeded', 'approved')) AS last_success,
            (SELECT min(r.started_at) FROM dirsync.runs r WHERE r.connector = x.connector) AS first_run,
            h.id AS held_run, h.guard AS held_guard
       FROM unnest($1::text[]) AS x(connector)
       LEFT JOIN LATERAL (SELECT r.id, r.guard FROM dirsync.runs r
                           WHERE r.connector = x.connector AND r.status = 'needs_approval'
                           ORDER BY r.id DESC LIMIT 1) h ON true`,
    [names, n],
  );
  return rows;
}

interface Desired {
  condition: 'failing' | 'stale' | 'held';
  firing: boolean;
  ref: string | null;
  /** Sent when the state changes to firing (or, for held, to a new run). */
  fire?: AlertEvent;
  /** Sent when a firing condition clears (not for held). */
  recover?: AlertEvent;
}

function desiredStates(f: ConnectorFacts, cfg: AlertsConfig, now: Date): Desired[] {
  const at = now.toISOString();
  const url = (path: string) =>
    cfg.dashboardUrl ? `${cfg.dashboardUrl.replace(/\/$/, '')}${path}` : undefined;
  const recent = f.recent ?? [];
  const lastSuccess = f.last_success?.toISOString() ?? null;
  const out: Desired[] = [];

  const failing = recent.length >= cfg.failuresInARow && recent.every((r) => r.status === 'failed');
  const last = recent[0];
  out.push({
    condition: 'failing',
    firing: failing,
    ref: failing && last ? last.id : null,
    ...(last
      ? {
          fire: {
            type: 'connector.failing',
            connector: f.connector,
            runId: Number(last.id),
            at,
            summary: `${f.connector}: the last ${cfg.failuresInARow} runs failed (${last.error_code ?? 'error'})`,
            details: {
              failuresInARow: cfg.failuresInARow,
              errorCode: last.error_code,
              error: last.error_message,
              lastSuccessAt: lastSuccess,
            },
            ...(url(`/#/runs/${last.id}`) ? { url: url(`/#/runs/${last.id}`) } : {}),
          },
          recover: {
            type: 'connector.recovered',
            condition: 'failing',
            connector: f.connector,
            runId: Number(last.id),
            at,
            summary: `${f.connector}: runs succeed again (run ${last.id})`,
            details: { lastSuccessAt: lastSuccess },
            ...(url(`/#/connectors/${f.connector}`) ? { url: url(`/#/connectors/${f.connector}`) } : {}),
          },
        }
      : {}),
  });

  const since = f.last_success ?? f.first_run;
  const stale = since !== null && now.getTime() - since.getTime() > cfg.staleAfter;
  const hours = (ms: number) => Math.round((ms / 3_600_000) * 10) / 10;
  out.push({
    condition: 'stale',
    firing: stale,
    ref: stale ? (lastSuccess ?? 'never') : null,
    fire: {
      type: 'connector.stale',
      connector: f.connector,
      at,
      summary: f.last_success
        ? `${f.connector}: no successful sync for ${hours(now.getTime() - f.last_success.getTime())} h`
        : `${f.connector}: never synced successfully`,
      details: { lastSuccessAt: lastSuccess, staleAfterHours: hours(cfg.staleAfter) },
      ...(url(`/#/connectors/${f.connector}`) ? { url: url(`/#/connectors/${f.connector}`) } : {}),
    },
    recover: {
      type: 'connector.recovered',
      condition: 'stale',
      connector: f.connector,
      at,
      summary: `${f.connector}: synced successfully again`,
      details: { lastSuccessAt: lastSuccess },
    },
  });

  out.push({
    condition: 'held',
    firing: f.held_run !== null,
    ref: f.held_run,
    ...(f.held_run
      ? {
          fire: {
            type: 'run.held',
            connector: f.connector,
            runId: Number(f.held_run),
            at,
            summary: `${f.connector}: run ${f.held_run} is held for approval by the deletion guard`,
            details: {
              guard: f.held_guard,
              approve: `dirsync approve ${f.held_run}`,
              reject: `dirsync reject ${f.held_run}`,
            },
            ...(url(`/#/runs/${f.held_run}`) ? { url: url(`/#/runs/${f.held_run}`) } : {}),
          },
        }
      : {}),
  });
  return out;
}

/**
 * Evaluates every connector and records transitions; returns the events queued (for logs and
 * tests). Does nothing when no receiver is configured.
 */
export async function evaluateAlerts(
  db: pg.Pool,
  connectors: string[],
  cfg: AlertsConfig,
  now = new Date(),
): Promise<AlertEvent[]> {
  const channels = channelsOf(cfg);
  if (channels.length === 0 || connectors.length === 0) return [];
  const queued: AlertEvent[] = [];
  for (const f of await facts(db, connectors, cfg.failuresInARow)) {
    for (const d of desiredStates(f, cfg, now)) {
      const client = await db.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO dirsync.alert_state (connector, condition) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
          [f.connector, d.condition],
        );
        const { rows } = await client.query<{ firing: boolean; ref: string | null }>(
          `SELECT firing, ref FROM dirsync.alert_state WHERE connector = $1 AND condition = $2 FOR UPDATE`,
          [f.connector, d.condition],
        );
        const cur = rows[0] as { firing: boolean; ref: string | null };
        let send: AlertEvent | undefined;
        if (d.firing && (!cur.firing || (d.condition === 'held' && cur.ref !== d.ref))) send = d.fire;
        else if (!d.firing && cur.firing && d.condition !== 'held') send = d.recover;
        const changed = cur.firing !== d.firing || (d.firing && cur.ref !== d.ref);
        if (changed) {
          await client.query(
            `UPDATE dirsync.alert_state SET firing = $3, ref = $4, changed_at = now() WHERE connector = $1 AND condition = $2`,
            [f.connector, d.condition, d.firing, d.ref],
          );
        }
        if (send) {
          await client.query(
            `INSERT INTO dirsync.alert_outbox (channel, event) SELECT c, $2::jsonb FROM unnest($1::text[]) AS c`,
            [channels, JSON.stringify(send)],
          );
          queued.push(send);
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
  return queued;
}
