/**
 * Benchmark of the Okta connector: a full sync from the emulator (in a separate process) through
 * the pipeline into a fresh database. Prints requests, wall time, phase times, peak RSS of this
 * (the syncing) process, records read, and what the same requests would take under a real org's
 * rate limits.
 *
 *   node --import tsx bench/idp-okta.ts [--users 100000] [--groups 10000] [--members-per-group 100]
 *     [--seed 1] [--concurrency 4] [--max-concurrent 8] [--latency 0] [--rate-limit 1000000] [--read-only]
 *
 * Flags can also be given as BENCH_USERS, BENCH_GROUPS, BENCH_MEMBERS, BENCH_SEED, BENCH_CONCURRENCY,
 * BENCH_MAX_CONCURRENT, BENCH_LATENCY, BENCH_RATE_LIMIT. The emulator runs with generous rate limits
 * (1,000,000 requests per minute per endpoint family) by default, so the figures measure the
 * connector and pipeline, not Okta's throttling; see "real org" in the output for that.
 */
import pino from 'pino';
import { parseConnectorConfig } from '../config/load.js';
import { oktaConnector } from '../connectors/okta/index.js';
import type { Connector } from '../connectors/types.js';
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
  concurrency: envFlag('BENCH_CONCURRENCY', '4'),
  'max-concurrent': envFlag('BENCH_MAX_CONCURRENT', '8'),
  'rate-limit': envFlag('BENCH_RATE_LIMIT', '1000000'),
});

interface EmulatorStats {
  requests: number;
  tokenRequests: number;
  throttled: number;
  byFamily: Record<string, number>;
}

const stats = async (url: string) => (await (await fetch(`${url}/__emulator/stats`)).json()) as EmulatorStats;

/** Minutes the requests of one family need at a per-minute limit, keeping the connector's 20 % reserve. */
const minutesAt = (requests: number, perMinute: number) => Number((requests / (perMinute * 0.8)).toFixed(1));

const t0 = performance.now();
const { ready, stop } = await startEmulatorProcess(
  'okta',
  passFlags(values, ['users', 'groups', 'members-per-group', 'seed', 'latency', 'rate-limit']),
);
const startupMs = performance.now() - t0;
try {
  useReadyEnv(ready);
  const connector = oktaConnector as unknown as Connector;
  const config = parseConnectorConfig(
    {
      ...ready.connector,
      name: 'bench-okta',
      memberConcurrency: Number(values.concurrency),
      rateLimit: { maxConcurrent: Number(values['max-concurrent']), reservePercent: 20 },
      guard: { minRemovals: 100_000_000 },
    },
    connector,
  );
  console.log(`emulator ready in ${(startupMs / 1000).toFixed(1)} s (${ready.url})`);
  const before = await stats(ready.url);
  const m = await measure({
    connector,
    config,
    logger: pino({ level: 'warn' }),
    readOnly: values['read-only'],
  });
  const summary: Record<string, unknown> =
    m.mode === 'read-only'
      ? { snapshot: m.counts, requests: m.stats.requests, throttled: m.stats.throttled, pages: m.stats.pages }
      : syncFigures(m.summary);
  const after = await stats(ready.url);
  const family = (f: string) => (after.byFamily[f] ?? 0) - (before.byFamily[f] ?? 0);
  console.log(
    JSON.stringify(
      {
        idp: 'okta',
        wallSeconds: Number((m.wallMs / 1000).toFixed(1)),
        requestsByConnector: summary.requests,
        requestsServedByEmulator: after.requests - before.requests,
        requestsByFamily: { users: family('users'), groups: family('groups'), token: family('token') },
        peakRss: mb(process.resourceUsage().maxRSS * 1024),
        emulatorRateLimitPerMinute: Number(values['rate-limit']),
        memberConcurrency: Number(values.concurrency),
        ...summary,
        // Okta Workforce limits: list users 600/min, /api/v1/groups (lists and members) 500/min.
        realOrgMinutesAtWorkforceLimits: {
          users: minutesAt(family('users'), 600),
          groupsAndMembers: minutesAt(family('groups'), 500),
        },
      },
      null,
      2,
    ),
  );
} finally {
  stop();
}
