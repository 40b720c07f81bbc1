/**
 * Benchmark of the Microsoft Graph connector: a full sync from the emulator (in a separate
 * process, over HTTPS with its own certificate) through the pipeline into a fresh database.
 * Prints requests, wall time, phase times, peak RSS of this (the syncing) process and records read.
 *
 *   node --import tsx bench/idp-graph.ts [--users 100000] [--groups 10000] [--members-per-group 100]
 *     [--nesting-depth 4] [--seed 1] [--concurrency 4] [--max-concurrency 16] [--batch-size 20] [--page-size 999]
 *     [--budget 8000] [--tenant-limit 8000] [--latency 0] [--read-only | --feed | --series]
 *
 * Each flag can also be given as an environment variable (BENCH_USERS, BENCH_GROUPS,
 * BENCH_MEMBERS, BENCH_DEPTH, BENCH_SEED, BENCH_CONCURRENCY, BENCH_BATCH, BENCH_PAGE_SIZE,
 * BENCH_BUDGET, BENCH_TENANT_LIMIT, BENCH_LATENCY). `--budget` is the connector's request budget
 * and `--tenant-limit` the emulator's throttle, both per 10 s and counting every request inside a
 * `$batch` (8,000 is a large tenant's quota; 0 turns the emulator's limit off). `--read-only`
 * drains the connector without the pipeline (no database needed) and prints records/s and
 * requests/s. `--feed` (no database either) measures the change feed: a full read (which takes the
 * delta links first), an unchanged feed, a feed after 1% of users changed and 1% of memberships
 * moved (the emulator's seeded `POST /__emulator/mutate`), and a full read through delta for
 * comparison; each with requests, wall time, the time its requests take at Graph's production
 * throttling quota (resource units per 10 s, see connectors/graph/README.md), and the emulator
 * process's RSS after the step and peak RSS so far (from `/__emulator/stats`). `--series`: a first
 * run, an unchanged re-sync, a 1% re-sync and a reconcile through the whole pipeline into one
 * database (bench/idp-series.ts).
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { Agent, request } from 'undici';
import { parseConnectorConfig } from '../config/load.js';
import { graphConnector } from '../connectors/graph/index.js';
import { initialCursor } from '../connectors/graph/feed.js';
import type { ChangeFeed, Connector, ConnectorContext } from '../connectors/types.js';
import type { Ready } from './idp-harness.js';
import { seriesBench } from './idp-series.js';
import {
  envFlag,
  mb,
  measure,
  parseBenchArgs,
  passFlags,
  readOnlyFigures,
  startEmulatorProcess,
  syncFigures,
  useReadyEnv,
} from './idp-harness.js';

// `--feed` is this bench's own switch; the shared flag parser knows only `--read-only`.
const feedMode = process.argv.includes('--feed');
if (feedMode) process.argv.splice(process.argv.indexOf('--feed'), 1);
const values = parseBenchArgs({
  'nesting-depth': envFlag('BENCH_DEPTH', '4'),
  concurrency: envFlag('BENCH_CONCURRENCY', '4'),
  'max-concurrency': envFlag('BENCH_MAX_CONCURRENCY', '16'),
  'batch-size': envFlag('BENCH_BATCH', '20'),
  'page-size': envFlag('BENCH_PAGE_SIZE', '999'),
  budget: envFlag('BENCH_BUDGET', '8000'),
  'tenant-limit': envFlag('BENCH_TENANT_LIMIT', '8000'),
});

/**
 * Graph's documented quota for an app in a tenant: 3,500 / 5,000 / 8,000 resource units per 10 s
 * (small / medium / large tenant). Costs assumed per request: a list page with `$select` 1 unit
 * (base 2, `$select` −1), a delta page 1 unit (as Microsoft prices a delta with a token); each
 * request inside a `$batch` counts on its own.
 */
const QUOTAS: Record<string, number> = { small: 3500, medium: 5000, large: 8000 };
function atQuota(units: number): Record<string, string> {
  return Object.fromEntries(
    Object.entries(QUOTAS).map(([k, q]) => [k, `${((units / q) * 10).toFixed(1)} s`]),
  );
}

type Counters = Record<string, number>;

/** Graph requests as Graph counts them: each call, minus `$batch` envelopes, plus their insides. */
const graphCounted = (n: (counter: string) => number) =>
  n('graphRequests') - n('batchRequests') + n('innerRequests');

const t0 = performance.now();
const { ready, stop, cpuSeconds } = await startEmulatorProcess<
  Ready & { connector: { tls: { caFile: string } } }
>('graph', [
  ...passFlags(values, ['users', 'groups', 'members-per-group', 'nesting-depth', 'seed', 'latency']),
  ...['--throttle-limit', values['tenant-limit'], '--throttle-window-ms', '10000'],
]);
const startupMs = performance.now() - t0;
// Applying a 1% plan to a 100k-user emulator can take a while: no header timeout on admin calls.
const admin = new Agent({
  connect: { ca: readFileSync(ready.connector.tls.caFile, 'utf8') },
  headersTimeout: 0,
  bodyTimeout: 0,
});
const counters = async (): Promise<Counters> => {
  const res = await request(`${ready.url}/__emulator/stats`, { dispatcher: admin });
  return (await res.body.json()) as Counters;
};
try {
  useReadyEnv(ready);
  const connector = graphConnector as unknown as Connector;
  const entry = {
    ...ready.connector,
    kind: 'graph',
    name: 'bench-graph',
    concurrency: Number(values.concurrency),
    maxConcurrency: Number(values['max-concurrency']),
    batchSize: Number(values['batch-size']),
    pageSize: Number(values['page-size']),
    requestBudget: { requests: Number(values.budget), perSeconds: 10 },
    guard: { minRemovals: 100_000_000 },
  };
  const config = parseConnectorConfig(entry, connector);
  console.log(
    `emulator ready in ${(startupMs / 1000).toFixed(1)} s: ${values.users} users, ${values.groups} groups, ` +
      `~${Number(values.groups) * Number(values['members-per-group'])} memberships (${ready.url}), ` +
      `emulator RSS ${mb((await counters()).rssBytes ?? 0)}`,
  );
  if (values.series) {
    await seriesBench({
      entry,
      url: ready.url,
      caFile: ready.connector.tls.caFile,
      seed: Number(values.seed),
      countsAdminReads: true,
      // Counters only: the emulator's RSS figures beside them are gauges, not per-run amounts.
      counters: {
        path: '/__emulator/stats',
        keys: ['requests', 'graphRequests', 'batchRequests', 'innerRequests', 'tokenRequests', 'throttled'],
      },
      idpRequests: (served) => graphCounted((k) => served[k] as number),
      atProductionLimits: (served) => ({ atQuota: atQuota(graphCounted((k) => served[k] as number)) }),
      emulatorCpuSeconds: cpuSeconds,
    });
  } else if (feedMode) {
    await feedBench(connector, config);
  } else {
    const before = await counters();
    const cpuBefore = cpuSeconds();
    const m = await measure({
      connector,
      config,
      logger: pino({ level: 'warn' }),
      readOnly: values['read-only'],
      preload: () => import('../connectors/graph/source.js'),
    });
    const summary: Record<string, unknown> =
      m.mode === 'read-only' ? { snapshot: m.counts, ...m.stats } : syncFigures(m.summary);
    const after = await counters();
    const cpuAfter = cpuSeconds();
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
          ...(m.mode === 'read-only'
            ? {
                ...readOnlyFigures(
                  m,
                  delta('requests'),
                  cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
                ),
                innerRequestsPerSecond: Math.round(delta('innerRequests') / (m.wallMs / 1000)),
              }
            : {}),
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
  }
} finally {
  await admin.close();
  stop();
}

async function feedBench(connector: Connector, config: Parameters<Connector['open']>[0]): Promise<void> {
  const ctx: ConnectorContext = {
    logger: pino({ level: 'warn' }),
    signal: new AbortController().signal,
    progress: () => {},
  };
  const step = async (name: string, run: () => Promise<{ items: number; cursor: string }>) => {
    const before = await counters();
    const t = performance.now();
    const r = await run();
    const wallMs = performance.now() - t;
    const after = await counters();
    const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    const units = graphCounted(d);
    const figures = {
      step: name,
      items: r.items,
      httpRequests: d('graphRequests'),
      graphRequestsCounted: units,
      wallSeconds: Number((wallMs / 1000).toFixed(2)),
      atProductionQuota: atQuota(units),
      emulatorRss: mb(after.rssBytes ?? 0),
      emulatorPeakRss: mb(after.peakRssBytes ?? 0),
    };
    console.log(JSON.stringify(figures));
    return { ...r, units };
  };
  const drainFeed = async (feed: ChangeFeed) => {
    let items = 0;
    try {
      for await (const _ of feed.read()) items++;
      return { items, cursor: feed.cursor() };
    } finally {
      await feed.close();
    }
  };
  const full = await step('full read (delta links first)', async () => {
    const source = await connector.open(config, ctx);
    let items = 0;
    try {
      for await (const _ of source.read()) items++;
    } finally {
      await source.close();
    }
    return { items, cursor: source.cursor?.() as string };
  });
  const unchanged = await step('unchanged feed', async () =>
    drainFeed(await connector.openFeed!(config, ctx, full.cursor)),
  );
  const tMutate = performance.now();
  const res = await request(`${ready.url}/__emulator/mutate`, {
    dispatcher: admin,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ seed: Number(values.seed) + 1, users: 0.01, memberships: 0.01 }),
  });
  const plan = (await res.body.json()) as { applied: number; ops: Record<string, number> };
  const mutateSeconds = Number(((performance.now() - tMutate) / 1000).toFixed(2));
  console.log(JSON.stringify({ mutated: plan.applied, ops: plan.ops, mutateSeconds }));
  const changed = await step('feed after 1% users + 1% memberships', async () =>
    drainFeed(await connector.openFeed!(config, ctx, unchanged.cursor)),
  );
  await step('full read through delta (for comparison)', async () =>
    drainFeed(await connector.openFeed!(config, ctx, initialCursor(ctx))),
  );
  console.log(
    JSON.stringify({
      unchangedRequests: unchanged.units,
      onePercentShareOfFull: `${((changed.units / full.units) * 100).toFixed(2)} %`,
      peakRss: mb(process.resourceUsage().maxRSS * 1024),
    }),
  );
}
