/**
 * Connector problems a worker finds at start (issue 9, item 8): a missing env var or secret file,
 * a schedule the queue refused. One broken connector must not stop the others, so the worker logs
 * the problem, records it in `dirsync.connector_problems` (shown by the API and the dashboard on the
 * connector) and goes on; that connector's runs fail on their own with the precise error.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { connectorEnvironmentProblems } from '../config/environment.js';
import type { DirsyncConfig } from '../config/schema.js';

export interface ConnectorProblem {
  path: string;
  reason: string;
}

/** Env/secret problems per connector name (connectors without any are absent). */
export function configProblems(config: Pick<DirsyncConfig, 'connectors'>): Map<string, ConnectorProblem[]> {
  const out = new Map<string, ConnectorProblem[]>();
  config.connectors.forEach((c, i) => {
    const p = connectorEnvironmentProblems(c, i).map(({ path, reason }) => ({ path, reason }));
    if (p.length > 0) out.set(c.name, p);
  });
  return out;
}

/**
 * Replaces the recorded problems of the configured connectors with `problems` (rows of connectors
 * without problems are deleted, so a fixed connector turns healthy at the next worker start).
 */
export async function recordConnectorProblems(
  pool: pg.Pool,
  names: readonly string[],
  problems: ReadonlyMap<string, ConnectorProblem[]>,
  reportedBy: string,
  log?: Logger,
): Promise<void> {
  const rows = [...problems].map(([connector, p]) => ({ connector, problems: p }));
  await pool.query(
    `DELETE FROM dirsync.connector_problems WHERE connector = ANY($1::text[]) AND NOT connector = ANY($2::text[])`,
    [names, rows.map((r) => r.connector)],
  );
  await pool.query(
    `INSERT INTO dirsync.connector_problems (connector, problems, reported_by)
     SELECT r.connector, r.problems, $2 FROM jsonb_to_recordset($1::jsonb) AS r(connector text, problems jsonb)
     ON CONFLICT (connector) DO UPDATE SET problems = EXCLUDED.problems, reported_by = EXCLUDED.reported_by,
                                           reported_at = now()`,
    [JSON.stringify(rows), reportedBy],
  );
  for (const r of rows) {
    log?.error(
      { connector: r.connector, problems: r.problems },
      'connector cannot run as configured; the other connectors run',
    );
  }
}
