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
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Agent, request } from 'undici';
import { parseConnectorConfig } from '../config/load.js';
import { graphConnector } from '../connectors/graph/index.js';
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
    concurrency: { type: 'string', default: process.env.BENCH_CONCURRENCY ?? '4' },
    'batch-size': { type: 'string', default: process.env.BENCH_BATCH ?? '20' },
    'page-size': { type: 'string', default: process.env.BENCH_PAGE_SIZE ?? '999' },
    budget: { type: 'string', default: process.env.BENCH_BUDGET ?? '8000' },
    'tenant-limit': { type: 'string', default: process.env.BENCH_TENANT_LIMIT ?? '8000' },
    latency: { type: 'string', default: process.env.BENCH_LATENCY ?? '0' },
    'read-only': { type: 'boolean', default: false },
  },
});

interface Ready {
  url: string;
  connector: Record<string, unknown> & { tls: { caFile: string } };
  env: Record<string, string>;
}

type Counters = Record<string, number>;

async function startEmulatorProcess(): Promise<{ ready: Ready; stop: () => void }> {
  const keys = ['users', 'groups', 'members-per-group', 'nesting-depth', 'seed', 'latency'] as const;
  const args = keys.flatMap((k) => [`--${k}`, String(values[k])]);
  args.push('--throttle-limit', String(values['tenant-limit']), '--throttle-window-ms', '10000');
  const child = spawn(process.execPath, ['--import', 'tsx', 'connectors/graph/emulator/main.ts', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code} before it was ready`)));
    lines.once('line', (line) => resolve(JSON.parse(line) as Ready));
  });
  return { ready, stop: () => child.kill('SIGTERM') };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

const t0 = performance.now();
const { ready, stop } = await startEmulatorProcess();
const startupMs = performance.now() - t0;
const admin = new Agent({ connect: { ca: readFileSync(ready.connector.tls.caFile, 'utf8') } });
const counters = async (): Promise<Counters> => {
  const res = await request(`${ready.url}/__emulator/stats`, { dispatcher: admin });
  return (await res.body.json()) as Counters;
};
try {
  for (const [k, v] of Object.entries(ready.env)) process.env[k] = v;
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
  const started = performance.now();
  let summary: Record<string, unknown>;
  if (values['read-only']) {
    const source = await connector.open(config as never, {
      logger: pino({ level: 'warn' }),
      signal: new AbortController().signal,
      progress: () => {},
    });
    const counts: Record<string, number> = { user: 0, group: 0, edge: 0, problem: 0 };
    for await (const item of source.read()) counts[item.kind] = (counts[item.kind] ?? 0) + 1;
    const stats = source.stats();
    await source.close();
    summary = { snapshot: counts, ...stats };
  } else {
    const db = await createTestDatabase('dirsync_bench');
    try {
      const s = await runSync({
        pool: db.pool,
        config,
        connector,
        trigger: 'test',
        logger: pino({ level: 'warn' }),
      });
      summary = {
        snapshot: s.snapshot,
        phaseMs: s.phaseMs,
        requests: s.requests,
        throttled: s.throttled,
        counts: s.counts,
      };
    } finally {
      await db.drop();
    }
  }
  const wallMs = performance.now() - started;
  const after = await counters();
  const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  console.log(
    JSON.stringify(
      {
        idp: 'graph',
        wallSeconds: Number((wallMs / 1000).toFixed(1)),
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
