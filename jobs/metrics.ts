/**
 * Prometheus metrics of sync runs, in their own registry (nothing global, so the dashboard and
 * tests can hold several). The dashboard serves `syncMetrics().registry` at `/metrics`; a worker
 * process can serve its own with `startMetricsServer`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunSummary } from '../src/pipeline/run.js';

export interface SyncMetrics {
  registry: Registry;
  runs: Counter<'connector' | 'status'>;
  runDuration: Histogram<'connector' | 'status'>;
  objectsChanged: Counter<'connector' | 'object' | 'op'>;
  idpRequests: Counter<'connector'>;
  idpThrottled: Counter<'connector'>;
  lastSuccess: Gauge<'connector'>;
}

export function createSyncMetrics(opts: { defaultMetrics?: boolean } = {}): SyncMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'dirsync_process_' });
  const registers = [registry];
  return {
    registry,
    runs: new Counter({
      name: 'dirsync_runs_total',
      help: 'Sync runs by connector and outcome (succeeded, needs_approval, failed, retrying)',
      labelNames: ['connector', 'status'],
      registers,
    }),
    runDuration: new Histogram({
      name: 'dirsync_run_duration_seconds',
      help: 'Duration of sync runs',
      labelNames: ['connector', 'status'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    objectsChanged: new Counter({
      name: 'dirsync_objects_changed_total',
      help: 'Directory changes applied, by object (users, groups, memberships) and operation',
      labelNames: ['connector', 'object', 'op'],
      registers,
    }),
    idpRequests: new Counter({
      name: 'dirsync_idp_requests_total',
      help: 'Requests sent to the identity provider',
      labelNames: ['connector'],
      registers,
    }),
    idpThrottled: new Counter({
      name: 'dirsync_idp_throttled_total',
      help: 'Throttling answers (429 and the like) from the identity provider',
      labelNames: ['connector'],
      registers,
    }),
    lastSuccess: new Gauge({
      name: 'dirsync_last_success_timestamp_seconds',
      help: 'Unix time of the last successful run per connector',
      labelNames: ['connector'],
      registers,
    }),
  };
}

let shared: SyncMetrics | null = null;

/** The process-wide metrics (what a worker records and `/metrics` serves). */
export function syncMetrics(): SyncMetrics {
  shared ??= createSyncMetrics({ defaultMetrics: true });
  return shared;
}

/** Records a finished run (succeeded or held for approval). */
export function recordRunSummary(m: SyncMetrics, s: RunSummary, seconds: number): void {
  m.runs.inc({ connector: s.connector, status: s.status });
  m.runDuration.observe({ connector: s.connector, status: s.status }, seconds);
  m.idpRequests.inc({ connector: s.connector }, s.requests);
  m.idpThrottled.inc({ connector: s.connector }, s.throttled);
  if (s.status === 'succeeded' && !s.dryRun) {
    m.lastSuccess.set({ connector: s.connector }, Date.now() / 1000);
    for (const [object, ops] of Object.entries(s.counts)) {
      for (const [op, n] of Object.entries(ops as Record<string, number>)) {
        if (n > 0) m.objectsChanged.inc({ connector: s.connector, object, op }, n);
      }
    }
  }
}

/** Records a failed attempt; `status` is `failed` (final) or `retrying`. */
export function recordRunFailure(
  m: SyncMetrics,
  connector: string,
  status: 'failed' | 'retrying',
  seconds: number,
  figures?: { requests: number; throttled: number },
): void {
  m.runs.inc({ connector, status });
  m.runDuration.observe({ connector, status: 'failed' }, seconds);
  if (figures) {
    m.idpRequests.inc({ connector }, figures.requests);
    m.idpThrottled.inc({ connector }, figures.throttled);
  }
}

/** Seeds the last-success gauge from the run history, so a restarted worker does not report 0. */
export async function loadLastSuccess(m: SyncMetrics, pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ connector: string; at: number }>(
    `SELECT connector, extract(epoch FROM max(finished_at))::float8 AS at
       FROM dirsync.runs WHERE status IN ('succeeded', 'approved') AND NOT dry_run GROUP BY connector`,
  );
  for (const r of rows) if (r.at) m.lastSuccess.set({ connector: r.connector }, r.at);
}

/** A tiny `/metrics` listener for a worker process. Returns the bound port and a close function. */
export async function startMetricsServer(
  registry: Registry,
  opts: { port: number; host?: string },
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
