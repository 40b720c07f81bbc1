/**
 * Benchmark of the Okta connector against the emulator (in a separate process).
 *
 *   node --import tsx bench/idp-okta.ts [--users 100000] [--groups 10000] [--members-per-group 100]
 *     [--seed 1] [--concurrency N] [--max-concurrent 24] [--latency 0] [--rate-limit 1000000]
 *     [--read-only | --feed | --series] [--log-delay 0]
 *
 * Default: a full sync through the pipeline into a fresh database. `--read-only`: the connector's
 * full read drained on its own (no database), printing records/s and requests/s. `--feed`: the
 * change feed without the database: a full read (requests, time), an unchanged feed, and a feed
 * after 1% of users changed and 1% of memberships moved (through the emulator's admin API), each
 * with requests and time, plus the time each would take at Okta's documented per-minute limits.
 * `--series`: the same four steps through the whole pipeline into one database, a reconcile last
 * (bench/idp-series.ts); `--log-delay` then also sets how long the series waits for the System Log.
 *
 * Flags can also be given as BENCH_USERS, BENCH_GROUPS, BENCH_MEMBERS, BENCH_SEED, BENCH_CONCURRENCY,
 * BENCH_MAX_CONCURRENT, BENCH_LATENCY, BENCH_RATE_LIMIT. The emulator runs with generous rate limits
 * (1,000,000 requests per minute per endpoint family) by default, so the figures measure the
 * connector and pipeline, not Okta's throttling; see "real org" in the output for that.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseConnectorConfig } from '../config/load.js';
import { oktaConnector } from '../connectors/okta/index.js';
import type { ChangeFeed, Connector, ConnectorContext } from '../connectors/types.js';
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
import { seriesBench } from './idp-series.js';

// `--feed` and `--log-delay` are this bench's own; the harness parses the shared flags.
const own = parseArgs({
  options: { feed: { type: 'boolean', default: false }, 'log-delay': { type: 'string', default: '0' } },
  strict: false,
}).values;
process.argv = process.argv.filter(
  (a, i, all) => a !== '--feed' && a !== '--log-delay' && all[i - 1] !== '--log-delay',
);
const values = parseBenchArgs({
  concurrency: envFlag('BENCH_CONCURRENCY', ''),
  'max-concurrent': envFlag('BENCH_MAX_CONCURRENT', '24'),
  'rate-limit': envFlag('BENCH_RATE_LIMIT', '1000000'),
});

interface EmulatorStats {
  requests: number;
  tokenRequests: number;
  throttled: number;
  byFamily: Record<string, number>;
}

const stats = async (url: string) => (await (await fetch(`${url}/__emulator/stats`)).json()) as EmulatorStats;

/**
 * Okta's documented per-minute limits of a Workforce org for the families a sync uses (list users
 * 600, a user by id 2,000, `/api/v1/groups*` 500, a group by id 1,000, System Log 120), minus the
 * connector's 20 % reserve. Families are separate buckets, so the slowest family sets the time.
 * https://developer.okta.com/docs/reference/rl-global-mgmt/
 */
const PER_MINUTE: Record<string, number> = { users: 600, user: 2000, groups: 500, group: 1000, logs: 120 };
function minutesAtRealLimits(byFamily: Record<string, number>): number {
  let worst = 0;
  for (const [family, n] of Object.entries(byFamily)) {
    const limit = PER_MINUTE[family];
    if (limit) worst = Math.max(worst, n / (limit * 0.8));
  }
  return Number(worst.toFixed(2));
}

const diff = (a: EmulatorStats, b: EmulatorStats) => {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a.byFamily), ...Object.keys(b.byFamily)]))
    out[k] = (b.byFamily[k] ?? 0) - (a.byFamily[k] ?? 0);
  return out;
};

const t0 = performance.now();
const { ready, stop, cpuSeconds } = await startEmulatorProcess('okta', [
  ...passFlags(values, ['users', 'groups', 'members-per-group', 'seed', 'latency', 'rate-limit']),
  '--log-delay',
  String(own['log-delay']),
]);
const startupMs = performance.now() - t0;
try {
  useReadyEnv(ready);
  const connector = oktaConnector as unknown as Connector;
  const entry = {
    ...ready.connector,
    kind: 'okta',
    name: 'bench-okta',
    ...(values.concurrency ? { memberConcurrency: Number(values.concurrency) } : {}),
    rateLimit: { maxConcurrent: Number(values['max-concurrent']), reservePercent: 20 },
    guard: { minRemovals: 100_000_000 },
  };
  const config = parseConnectorConfig(entry, connector);
  console.log(`emulator ready in ${(startupMs / 1000).toFixed(1)} s (${ready.url})`);
  if (values.series) {
    await seriesBench({
      entry,
      url: ready.url,
      seed: Number(values.seed),
      countsAdminReads: true,
      counters: { path: '/__emulator/stats', keys: ['requests', 'tokenRequests', 'throttled', 'byFamily'] },
      atProductionLimits: (served) => ({
        workforceMinutes: minutesAtRealLimits(served.byFamily as Record<string, number>),
      }),
      // Events reach the System Log after its ingestion delay; the feed cannot see them before.
      settleMs: Number(own['log-delay']) + 50,
      emulatorCpuSeconds: cpuSeconds,
    });
  } else if (own.feed) await feedBench(connector, config as never, ready.url);
  else await fullBench(connector, config as never, ready.url);
} finally {
  stop();
}

async function fullBench(connector: Connector, config: never, url: string): Promise<void> {
  const before = await stats(url);
  const cpuBefore = cpuSeconds();
  const m = await measure({
    connector,
    config,
    logger: pino({ level: 'warn' }),
    readOnly: values['read-only'],
    preload: () => import('../connectors/okta/source.js'),
  });
  const cpuAfter = cpuSeconds();
  const secs = m.wallMs / 1000;
  const summary: Record<string, unknown> =
    m.mode === 'read-only'
      ? {
          snapshot: m.counts,
          requests: m.stats.requests,
          throttled: m.stats.throttled,
          pages: m.stats.pages,
          ...readOnlyFigures(
            m,
            m.stats.requests,
            cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
          ),
        }
      : syncFigures(m.summary);
  const after = await stats(url);
  const byFamily = diff(before, after);
  console.log(
    JSON.stringify(
      {
        idp: 'okta',
        mode: m.mode,
        wallSeconds: Number(secs.toFixed(1)),
        requestsServedByEmulator: after.requests - before.requests,
        requestsByFamily: byFamily,
        peakRss: mb(process.resourceUsage().maxRSS * 1024),
        emulatorRateLimitPerMinute: Number(values['rate-limit']),
        maxConcurrent: Number(values['max-concurrent']),
        ...summary,
        realOrgMinutesAtWorkforceLimits: minutesAtRealLimits(byFamily),
      },
      null,
      2,
    ),
  );
}

async function feedBench(connector: Connector, config: never, url: string): Promise<void> {
  const ctx: ConnectorContext = {
    logger: pino({ level: 'warn' }),
    signal: new AbortController().signal,
    progress: () => {},
  };
  const phase = async (
    name: string,
    open: () => Promise<{
      read(): AsyncIterable<unknown>;
      stats(): { requests: number };
      close(): Promise<void>;
    }>,
  ) => {
    const before = await stats(url);
    const started = performance.now();
    const source = await open();
    let items = 0;
    try {
      for await (const _ of source.read()) items++;
    } finally {
      await source.close();
    }
    const wallMs = performance.now() - started;
    const after = await stats(url);
    const byFamily = diff(before, after);
    return {
      name,
      source,
      figures: {
        items,
        requests: source.stats().requests,
        wallSeconds: Number((wallMs / 1000).toFixed(2)),
        requestsByFamily: byFamily,
        realOrgMinutesAtWorkforceLimits: minutesAtRealLimits(byFamily),
      },
    };
  };

  const full = await phase('full read', () => connector.open(config, ctx));
  const fullCursor = (full.source as { cursor?(): string | null }).cursor?.() as string;
  const unchanged = await phase('unchanged feed', () => connector.openFeed!(config, ctx, fullCursor));
  const cursor2 = (unchanged.source as unknown as ChangeFeed).cursor();
  const res = await fetch(`${url}/__emulator/mutate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ seed: Number(values.seed) + 1000, users: 0.01, memberships: 0.01 }),
  });
  const plan = (await res.json()) as { applied: number; ops: Record<string, number> };
  const changed = await phase('feed after 1% users + 1% memberships', () =>
    connector.openFeed!(config, ctx, cursor2),
  );
  const fullRequests = full.figures.requests;
  console.log(
    JSON.stringify(
      {
        idp: 'okta',
        mode: 'feed',
        users: Number(values.users),
        groups: Number(values.groups),
        mutations: plan,
        fullRead: full.figures,
        unchangedFeed: { ...unchanged.figures, targetRequests: 10, ok: unchanged.figures.requests <= 10 },
        onePercentFeed: {
          ...changed.figures,
          shareOfFullReadRequests: Number((changed.figures.requests / fullRequests).toFixed(4)),
          targetShare: 0.03,
          ok: changed.figures.requests <= 0.03 * fullRequests,
        },
        peakRss: mb(process.resourceUsage().maxRSS * 1024),
      },
      null,
      2,
    ),
  );
}
