/**
 * Benchmark of the Keycloak connector: a full sync from the emulator (in a separate process)
 * through the pipeline into a fresh database. Prints requests, wall time, phase times, peak RSS of
 * this (the syncing) process and records read.
 *
 *   node --import tsx bench/idp-keycloak.ts [--users 100000] [--groups 10000] [--members-per-group 100]
 *     [--nesting-depth 4] [--seed 1] [--concurrency 4] [--page-size 500] [--latency 0] [--read-only]
 *
 * Each flag can also be given as an environment variable (BENCH_USERS, BENCH_GROUPS, BENCH_MEMBERS,
 * BENCH_DEPTH, BENCH_SEED, BENCH_CONCURRENCY, BENCH_PAGE_SIZE, BENCH_LATENCY). `--read-only`
 * drains the connector without the pipeline (no database needed).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseConnectorConfig } from '../config/load.js';
import { keycloakConnector } from '../connectors/keycloak/index.js';
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
    'page-size': { type: 'string', default: process.env.BENCH_PAGE_SIZE ?? '500' },
    latency: { type: 'string', default: process.env.BENCH_LATENCY ?? '0' },
    'read-only': { type: 'boolean', default: false },
  },
});

interface EmulatorState {
  users: number;
  groups: number;
  memberships: number;
  requests: number;
  tokenRequests: number;
  peakInFlight: number;
}

interface Ready {
  url: string;
  connector: Record<string, unknown>;
  env: Record<string, string>;
}

async function startEmulatorProcess(): Promise<{ ready: Ready; stop: () => void }> {
  const keys = ['users', 'groups', 'members-per-group', 'nesting-depth', 'seed', 'latency'] as const;
  const args = keys.flatMap((k) => [`--${k}`, String(values[k])]);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'connectors/keycloak/emulator/main.ts', ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code} before it was ready`)));
    lines.once('line', (line) => resolve(JSON.parse(line) as Ready));
  });
  return { ready, stop: () => child.kill('SIGTERM') };
}

async function state(url: string): Promise<EmulatorState> {
  return (await (await fetch(`${url}/__emulator/state`)).json()) as EmulatorState;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

const t0 = performance.now();
const { ready, stop } = await startEmulatorProcess();
const startupMs = performance.now() - t0;
try {
  for (const [k, v] of Object.entries(ready.env)) process.env[k] = v;
  const connector = keycloakConnector as unknown as Connector;
  const config = parseConnectorConfig(
    {
      ...ready.connector,
      name: 'bench-keycloak',
      concurrency: Number(values.concurrency),
      pageSize: Number(values['page-size']),
      guard: { minRemovals: 100_000_000 },
    },
    connector,
  );
  const before = await state(ready.url);
  console.log(
    `emulator ready in ${(startupMs / 1000).toFixed(1)} s: ${before.users} users, ${before.groups} groups, ` +
      `${before.memberships} memberships (${ready.url})`,
  );
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
    summary = { snapshot: counts, requests: stats.requests, throttled: stats.throttled, pages: stats.pages };
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
  const after = await state(ready.url);
  const rss = process.resourceUsage().maxRSS * 1024;
  console.log(
    JSON.stringify(
      {
        idp: 'keycloak',
        wallSeconds: Number((wallMs / 1000).toFixed(1)),
        requestsByConnector: summary.requests,
        requestsServedByEmulator: after.requests - before.requests,
        tokenRequests: after.tokenRequests - before.tokenRequests,
        peakInFlight: after.peakInFlight,
        peakRss: mb(rss),
        concurrency: Number(values.concurrency),
        pageSize: Number(values['page-size']),
        ...summary,
      },
      null,
      2,
    ),
  );
} finally {
  stop();
}
