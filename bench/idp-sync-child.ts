/**
 * One sync of the IdP benches' `--series` (bench/idp-series.ts), in a process of its own so that
 * its peak RSS is this sync's alone (the parent holds the emulator client, the counters and the
 * earlier runs' garbage). The job comes in `BENCH_SYNC_JOB` (JSON: the connector entry and the
 * database URL; the emulator's fake credentials are in the inherited environment); the result is
 * the last line on stdout. Its log goes to stderr at `BENCH_LOG` (default `warn`).
 *
 *   BENCH_SYNC_JOB='{"entry":{...},"databaseUrl":"postgres://..."}' node --import tsx bench/idp-sync-child.ts
 */
import { parseConnectorConfig } from '../config/load.js';
import { connectorFor } from '../connectors/registry.js';
import { createLogger } from '../src/logger.js';
import { runSync, type RunSummary } from '../src/pipeline/run.js';
import { CONNECTIONS_PER_RUN, createPool } from '../src/store/db.js';

/** What the parent asks for: one `runSync` of this connector entry into this database. */
export interface SyncJob {
  /** The connector entry as in the config file (`kind`, `name`, the emulator's settings). */
  entry: Record<string, unknown> & { kind: string };
  databaseUrl: string;
}

/** What the child prints back. */
export interface SyncResult {
  summary: RunSummary;
  /** Wall time of `runSync` alone (not the process start, which a worker pays once). */
  wallMs: number;
  /** Peak resident set of this process (the whole sync, the connector's SDK included). */
  peakRssMb: number;
}

const job = JSON.parse(process.env.BENCH_SYNC_JOB ?? 'null') as SyncJob | null;
if (!job) throw new Error('BENCH_SYNC_JOB is not set: this script is started by bench/idp-series.ts');

const connector = connectorFor(job.entry.kind);
const config = parseConnectorConfig(job.entry, connector);
const pool = createPool(job.databaseUrl, CONNECTIONS_PER_RUN + 2);
try {
  const started = performance.now();
  // The trigger a worker's scheduled run records: the reconcile is the schedule's business.
  const logger = createLogger(process.env.BENCH_LOG ?? 'warn');
  const summary = await runSync({ pool, config, connector, trigger: 'schedule', logger });
  const result: SyncResult = {
    summary,
    wallMs: performance.now() - started,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await pool.end();
}
