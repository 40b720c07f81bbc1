/**
 * Benchmark of the Google connector: a full sync from the emulator (in a separate process) through
 * the pipeline into a fresh database. Prints requests, wall time, phase times, peak RSS of this
 * (the syncing) process and records read.
 *
 *   node --import tsx bench/idp-google.ts [--users 100000] [--groups 10000] [--members-per-group 100]
 *     [--nesting-depth 4] [--seed 1] [--concurrency 8] [--rpm 0] [--latency 0] [--read-only]
 *
 * Each flag can also be given as an environment variable (BENCH_USERS, BENCH_GROUPS,
 * BENCH_MEMBERS, BENCH_DEPTH, BENCH_SEED, BENCH_CONCURRENCY, BENCH_RPM, BENCH_LATENCY).
 * `--rpm 0` turns the connector's request budget off and the emulator's per-user quota with it,
 * so the figures measure the connector and pipeline, not Google's default 2,400 requests/minute
 * (the report prints what that quota alone would cost). `--read-only` reads the snapshot through
 * the connector without the pipeline (no database needed).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseConnectorConfig } from '../config/load.js';
import { googleConnector } from '../connectors/google/index.js';
import type { Connector } from '../connectors/types.js';
import { runSync } from '../src/pipeline/run.js';
import { createTestDatabase } from '../test/helpers/db.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: process.env.BENCH_USERS ?? '100000' },
    groups: { type: 'string', default: process.env.BENCH_GROUPS ?? '10000' },
    'members-per-group': { type: 'string', default: process.env.BENCH_MEMBERS ?? '100' },
    'nesting-depth': { type: 'string', default: process.env.BENCH_DEPTH ?? '4' },
    seed: { type: 'string', default: process.env.BENCH_SEED ?? '1' },
    concurrency: { type: 'string', default: process.env.BENCH_CONCURRENCY ?? '8' },
    rpm: { type: 'string', default: process.env.BENCH_RPM ?? '0' },
    latency: { type: 'string', default: process.env.BENCH_LATENCY ?? '0' },
    'read-only': { type: 'boolean', default: false },
  },
});

interface Ready {
  url: string;
  connector: Record<string, unknown>;
  env: Record<string, string>;
}

async function startEmulatorProcess(): Promise<{ ready: Ready; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'connectors/google/emulator/main.ts',
      '--users',
      values.users as string,
      '--groups',
      values.groups as string,
      '--members-per-group',
      values['members-per-group'] as string,
      '--nesting-depth',
      values['nesting-depth'] as string,
      '--seed',
      values.seed as string,
      '--latency',
      values.latency as string,
      // The emulator enforces Google's per-user quota unless the bench measures without it.
      '--user-qpm',
      values.rpm === '0' ? '0' : '2400',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return { ready: JSON.parse(first) as Ready, stop: () => child.kill('SIGTERM') };
}

const t0 = performance.now();
const { ready, stop } = await startEmulatorProcess();
const emulatorStartMs = Math.round(performance.now() - t0);
for (const [k, v] of Object.entries(ready.env)) process.env[k] = v;
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
  const started = performance.now();
  let figures: Record<string, unknown>;
  if (values['read-only']) {
    const counts = { user: 0, group: 0, edge: 0, problem: 0 };
    const source = await connector.open(config as never, {
      logger,
      signal: new AbortController().signal,
      progress: () => {},
    });
    for await (const item of source.read()) counts[item.kind]++;
    await source.close();
    const stats = source.stats();
    figures = { mode: 'read-only', records: counts, ...stats };
  } else {
    const db = await createTestDatabase('dirsync_bench');
    try {
      const summary = await runSync({ pool: db.pool, config, connector, trigger: 'test', logger });
      figures = {
        mode: 'sync',
        status: summary.status,
        records: summary.snapshot,
        requests: summary.requests,
        throttled: summary.throttled,
        phaseMs: summary.phaseMs,
        counts: summary.counts,
      };
    } finally {
      await db.drop();
    }
  }
  const wallMs = Math.round(performance.now() - started);
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
    emulatorRequests: stats.requests,
    // Google's default quota, 2,400 queries per minute per user: the floor on a real tenant.
    atDefaultQuotaMinutes: Math.round((requests / 2400) * 10) / 10,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    ...figures,
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  stop();
}
