/**
 * Benchmark of the Microsoft Graph connector: a full sync from the emulator (in a separate
 * process, over HTTPS with its own certificate) through the pipeline into a fresh database.
 * Prints requests, wall time, phase times, peak RSS of this (the syncing) process and records read.
 *
 *   node --import tsx bench/idp-graph.ts [--users 100000] [--groups 10000] [--members-per-group 100]
 *     [--nesting-depth 4] [--seed 1] [--concurrency 4] [--batch-size 20] [--page-size 999]
 *     [--budget 8000] [--tenant-limit 8000] [--latency 0] [--read-only]
 *
 * Each flag can also be given as an environment variable (BENCH_USERS, BENCH_GROUPS,
 * BENCH_MEMBERS, BENCH_DEPTH, BENCH_SEED, BENCH_CONCURRENCY, BENCH_BATCH, BENCH_PAGE_SIZE,
 * BENCH_BUDGET, BENCH_TENANT_LIMIT, BENCH_LATENCY). `--budget` is the connector's request budget
 * and `--tenant-limit` the emulator's throttle, both per 10 s and counting every request inside a
 * `$batch` (8,000 is a large tenant's quota; 0 turns the emulator's limit off). `--read-only`
 * drains the connector without the pipeline (no database needed).
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { Agent, request } from 'undici';
import { parseConnectorConfig } from '../config/load.js';
import { graphConnector } from '../connectors/graph/index.js';
import type { Connector } from '../connectors/types.js';
import type { Ready } from './idp-harness.js';
import {
  envFlag,
  mb,
  measure,
  parseBenchArgs,
  passFlags,
  startEmulatorProcess,
  syncFigures,
  useReadyEnv,
} from './idp-harness.js';

const values = parseBenchArgs({
  'nesting-depth': envFlag('BENCH_DEPTH', '4'),
  concurrency: envFlag('BENCH_CONCURRENCY', '4'),
  'batch-size': envFlag('BENCH_BATCH', '20'),
  'page-size': envFlag('BENCH_PAGE_SIZE', '999'),
  budget: envFlag('BENCH_BUDGET', '8000'),
  'tenant-limit': envFlag('BENCH_TENANT_LIMIT', '8000'),
});

type Counters = Record<string, number>;

const t0 = performance.now();
const { ready, stop } = await startEmulatorProcess<Ready & { connector: { tls: { caFile: string } } }>(
  'graph',
  [
    ...passFlags(values, ['users', 'groups', 'members-per-group', 'nesting-depth', 'seed', 'latency']),
    ...['--throttle-limit', values['tenant-limit'], '--throttle-window-ms', '10000'],
  ],
);
const startupMs = performance.now() - t0;
const admin = new Agent({ connect: { ca: readFileSync(ready.connector.tls.caFile, 'utf8') } });
const counters = async (): Promise<Counters> => {
  const res = await request(`${ready.url}/__emulator/stats`, { dispatcher: admin });
  return (await res.body.json()) as Counters;
};
try {
  useReadyEnv(ready);
  const connector = graphConnector as unknown as Connector;
  const config = parseConnectorConfig(
    {
      ...ready.connector,
      name: 'bench-graph',
      concurrency: Number(values.concurrency),
      batchSize: Number(values['batch-size']),
      pageSize: Number(values['page-size']),
      requestBudget: { requests: Number(values.budget), perSeconds: 10 },
      guard: { minRemovals: 100_000_000 },
    },
    connector,
  );
  console.log(
    `emulator ready in ${(startupMs / 1000).toFixed(1)} s: ${values.users} users, ${values.groups} groups, ` +
      `~${Number(values.groups) * Number(values['members-per-group'])} memberships (${ready.url})`,
  );
  const before = await counters();
  const m = await measure({
    connector,
    config,
    logger: pino({ level: 'warn' }),
    readOnly: values['read-only'],
  });
  const summary: Record<string, unknown> =
    m.mode === 'read-only' ? { snapshot: m.counts, ...m.stats } : syncFigures(m.summary);
  const after = await counters();
  const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  console.log(
    JSON.stringify(
      {
        idp: 'graph',
        wallSeconds: Number((m.wallMs / 1000).toFixed(1)),
        requestsByConnector: summary.requests,
        httpRequestsServed: delta('requests'),
        batchCalls: delta('batchRequests'),
        requestsInsideBatches: delta('innerRequests'),
        tokenRequests: delta('tokenRequests'),
        throttledByEmulator: delta('throttled'),
        peakRss: mb(process.resourceUsage().maxRSS * 1024),
        concurrency: Number(values.concurrency),
        batchSize: Number(values['batch-size']),
        pageSize: Number(values['page-size']),
        budgetPer10s: Number(values.budget),
        ...summary,
      },
      null,
      2,
    ),
  );
} finally {
  await admin.close();
  stop();
}
