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
import pino from 'pino';
import { parseConnectorConfig } from '../config/load.js';
import { keycloakConnector } from '../connectors/keycloak/index.js';
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
  'nesting-depth': envFlag('BENCH_DEPTH', '4'),
  concurrency: envFlag('BENCH_CONCURRENCY', '4'),
  'page-size': envFlag('BENCH_PAGE_SIZE', '500'),
});

interface EmulatorState {
  users: number;
  groups: number;
  memberships: number;
  requests: number;
  tokenRequests: number;
  peakInFlight: number;
}

async function state(url: string): Promise<EmulatorState> {
  return (await (await fetch(`${url}/__emulator/state`)).json()) as EmulatorState;
}

const t0 = performance.now();
const { ready, stop } = await startEmulatorProcess(
  'keycloak',
  passFlags(values, ['users', 'groups', 'members-per-group', 'nesting-depth', 'seed', 'latency']),
);
const startupMs = performance.now() - t0;
try {
  useReadyEnv(ready);
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
  const after = await state(ready.url);
  const rss = process.resourceUsage().maxRSS * 1024;
  console.log(
    JSON.stringify(
      {
        idp: 'keycloak',
        wallSeconds: Number((m.wallMs / 1000).toFixed(1)),
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
