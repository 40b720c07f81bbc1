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
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseConnectorConfig } from '../config/load.js';
import { oktaConnector } from '../connectors/okta/index.js';
import type { Connector } from '../connectors/types.js';
import { runSync } from '../src/pipeline/run.js';
import { createTestDatabase } from '../test/helpers/db.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: process.env.BENCH_USERS ?? '100000' },
    groups: { type: 'string', default: process.env.BENCH_GROUPS ?? '10000' },
    'members-per-group': { type: 'string', default: process.env.BENCH_MEMBERS ?? '100' },
    seed: { type: 'string', default: process.env.BENCH_SEED ?? '1' },
    concurrency: { type: 'string', default: process.env.BENCH_CONCURRENCY ?? '4' },
    'max-concurrent': { type: 'string', default: process.env.BENCH_MAX_CONCURRENT ?? '8' },
    latency: { type: 'string', default: process.env.BENCH_LATENCY ?? '0' },
    'rate-limit': { type: 'string', default: process.env.BENCH_RATE_LIMIT ?? '1000000' },
    'read-only': { type: 'boolean', default: false },
  },
});

interface Ready {
  url: string;
  connector: Record<string, unknown>;
  env: Record<string, string>;
}

interface EmulatorStats {
  requests: number;
  tokenRequests: number;
  throttled: number;
  byFamily: Record<string, number>;
}

async function startEmulatorProcess(): Promise<{ ready: Ready; stop: () => void }> {
  const args = [
    ['--users', values.users],
    ['--groups', values.groups],
    ['--members-per-group', values['members-per-group']],
    ['--seed', values.seed],
    ['--latency', values.latency],
    ['--rate-limit', values['rate-limit']],
  ].flat() as string[];
  const child = spawn(process.execPath, ['--import', 'tsx', 'connectors/okta/emulator/main.ts', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code} before it was ready`)));
    lines.once('line', (line) => resolve(JSON.parse(line) as Ready));
  });
  return { ready, stop: () => child.kill('SIGTERM') };
}

const stats = async (url: string) => (await (await fetch(`${url}/__emulator/stats`)).json()) as EmulatorStats;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** Minutes the requests of one family need at a per-minute limit, keeping the connector's 20 % reserve. */
const minutesAt = (requests: number, perMinute: number) => Number((requests / (perMinute * 0.8)).toFixed(1));

const t0 = performance.now();
const { ready, stop } = await startEmulatorProcess();
const startupMs = performance.now() - t0;
try {
  for (const [k, v] of Object.entries(ready.env)) process.env[k] = v;
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
    const s = source.stats();
    await source.close();
    summary = { snapshot: counts, requests: s.requests, throttled: s.throttled, pages: s.pages };
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
  const after = await stats(ready.url);
  const family = (f: string) => (after.byFamily[f] ?? 0) - (before.byFamily[f] ?? 0);
  console.log(
    JSON.stringify(
      {
        idp: 'okta',
        wallSeconds: Number((wallMs / 1000).toFixed(1)),
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
