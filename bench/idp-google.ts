/**
 * Benchmark of the Google connector: a full sync from the emulator (in a separate process) through
 * the pipeline into a fresh database. Prints requests, wall time, phase times, peak RSS of this
 * (the syncing) process and records read.
 *
 *   node --import tsx bench/idp-google.ts [--users 100000] [--groups 10000] [--members-per-group 100]
 *     [--nesting-depth 4] [--seed 1] [--concurrency 8] [--rpm 0] [--latency 0] [--read-only | --feed 1 | --series]
 *
 * Each flag can also be given as an environment variable (BENCH_USERS, BENCH_GROUPS,
 * BENCH_MEMBERS, BENCH_DEPTH, BENCH_SEED, BENCH_CONCURRENCY, BENCH_RPM, BENCH_LATENCY).
 * `--rpm 0` turns the connector's request budget off and the emulator's per-user quota with it,
 * so the figures measure the connector and pipeline, not Google's default 2,400 requests/minute
 * (the report prints what that quota alone would cost). `--read-only` reads the snapshot through
 * the connector without the pipeline (no database needed) and prints records/s and requests/s.
 *
 * `--feed 1` measures the change feed instead, connector only (no database): a full read, a feed
 * on the unchanged directory, and a feed after 1% of the users changed and 1% of the memberships
 * moved (a seeded plan applied through the emulator's admin API), each with requests, time and
 * items, and what each would take at Google's documented default quota (2,400 queries per minute
 * per user; the Reports API's quota is separate and larger, counted here at the same rate).
 *
 * `--series`: a first run, an unchanged re-sync, a 1% re-sync and a reconcile through the whole
 * pipeline into one database (bench/idp-series.ts), with the same quota figure per run.
 */
import pino from 'pino';
import { parseConnectorConfig } from '../config/load.js';
import type { ConnectorConfig } from '../config/schema.js';
import { googleConnector } from '../connectors/google/index.js';
import type { Connector } from '../connectors/types.js';
import { feedBench } from './idp-google-feed.js';
import {
  envFlag,
  measure,
  parseBenchArgs,
  passFlags,
  startEmulatorProcess,
  useReadyEnv,
} from './idp-harness.js';
import { seriesBench } from './idp-series.js';

const values = parseBenchArgs({
  'nesting-depth': envFlag('BENCH_DEPTH', '4'),
  concurrency: envFlag('BENCH_CONCURRENCY', '8'),
  rpm: envFlag('BENCH_RPM', '0'),
  feed: envFlag('BENCH_FEED', '0'),
});

const t0 = performance.now();
const { ready, stop, cpuSeconds } = await startEmulatorProcess('google', [
  ...passFlags(values, ['users', 'groups', 'members-per-group', 'nesting-depth', 'seed', 'latency']),
  // The emulator enforces Google's per-user quota unless the bench measures without it.
  ...['--user-qpm', values.rpm === '0' ? '0' : '2400'],
]);
const emulatorStartMs = Math.round(performance.now() - t0);
useReadyEnv(ready);
const connector = googleConnector as unknown as Connector;
const logger = pino({ level: process.env.BENCH_LOG ?? 'warn' });

try {
  const raw = {
    ...ready.connector,
    name: 'google-bench',
    memberConcurrency: Number(values.concurrency),
    requestsPerMinute: Number(values.rpm),
    guard: { minRemovals: 100_000_000 },
  };
  const config = parseConnectorConfig(raw, connector);
  if (values.series) {
    await seriesBench({
      entry: { ...raw, kind: 'google' },
      url: ready.url,
      seed: Number(values.seed),
      counters: { path: '/__emulator/stats', keys: ['requests'] },
      atProductionLimits: (_served, requests) => ({
        defaultQuotaMinutes: Math.round((requests / 2400) * 100) / 100,
      }),
      // The emulator's Reports API serves events at once (no lag set); a scheduled run comes later.
      settleMs: 50,
      emulatorCpuSeconds: cpuSeconds,
    });
  } else if (values.feed !== '0')
    console.log(JSON.stringify(await feedBench(ready.url, config, logger), null, 2));
  else await fullBench(config);
} finally {
  stop();
}

async function fullBench(config: ConnectorConfig): Promise<void> {
  const m = await measure({ connector, config, logger, readOnly: values['read-only'] });
  const figures: Record<string, unknown> =
    m.mode === 'read-only'
      ? { mode: 'read-only', records: m.counts, ...m.stats }
      : {
          mode: 'sync',
          status: m.summary.status,
          records: m.summary.snapshot,
          requests: m.summary.requests,
          throttled: m.summary.throttled,
          phaseMs: m.summary.phaseMs,
          counts: m.summary.counts,
        };
  const wallMs = Math.round(m.wallMs);
  const stats = (await (await fetch(`${ready.url}/__emulator/stats`)).json()) as { requests: number };
  const requests = Number((figures as { requests?: number }).requests ?? stats.requests);
  const report = {
    idp: 'google',
    org: {
      users: Number(values.users),
      groups: Number(values.groups),
      membersPerGroup: Number(values['members-per-group']),
      nestingDepth: Number(values['nesting-depth']),
    },
    concurrency: Number(values.concurrency),
    requestsPerMinute: Number(values.rpm),
    latencyMs: Number(values.latency),
    emulatorStartMs,
    wallMs,
    requestsPerSecond: Math.round((requests / wallMs) * 1000),
    ...(m.mode === 'read-only'
      ? {
          recordsPerSecond: Math.round(
            ((m.counts.user ?? 0) + (m.counts.group ?? 0) + (m.counts.edge ?? 0)) / (wallMs / 1000),
          ),
        }
      : {}),
    emulatorRequests: stats.requests,
    // Google's default quota, 2,400 queries per minute per user: the floor on a real tenant.
    atDefaultQuotaMinutes: Math.round((requests / 2400) * 10) / 10,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    ...figures,
  };
  console.log(JSON.stringify(report, null, 2));
}
