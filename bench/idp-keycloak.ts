/**
 * Benchmark of the Keycloak connector: a full sync from the emulator (in a separate process)
 * through the pipeline into a fresh database. Prints requests, wall time, phase times, peak RSS of
 * this (the syncing) process and records read.
 *
 *   node --import tsx bench/idp-keycloak.ts [--users 100000] [--groups 10000] [--members-per-group 100]
 *     [--nesting-depth 4] [--seed 1] [--concurrency 4] [--page-size 500] [--latency 0]
 *     [--read-only | --feed | --series]
 *
 * Each flag can also be given as an environment variable (BENCH_USERS, BENCH_GROUPS, BENCH_MEMBERS,
 * BENCH_DEPTH, BENCH_SEED, BENCH_CONCURRENCY, BENCH_PAGE_SIZE, BENCH_LATENCY). `--read-only`
 * drains the connector without the pipeline (no database needed) and prints records/s and
 * requests/s. `--feed` measures the admin-event change feed without the pipeline: a full read (its
 * cursor kept), a feed with nothing changed, then a feed after 1% of users changed and 1% of
 * memberships moved (a seeded plan applied inside the emulator through its mutation path, so the
 * emulator records admin events as Keycloak would); requests and time for each, and the targets
 * (unchanged ≤ 10 requests, 1% ≤ 3% of the full read's requests). `--series`: the same steps
 * through the whole pipeline into one database, a reconcile last (bench/idp-series.ts).
 */
import pino from 'pino';
import { Agent } from 'undici';
import { parseConnectorConfig } from '../config/load.js';
import { keycloakConnector } from '../connectors/keycloak/index.js';
import type { ConnectorConfig } from '../config/schema.js';
import type { Connector } from '../connectors/types.js';
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

// `--feed` is a bare flag; the shared parser knows only string flags and `--read-only`.
const feedMode = process.argv.includes('--feed');
process.argv = process.argv.filter((a) => a !== '--feed');

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
const { ready, stop, cpuSeconds } = await startEmulatorProcess(
  'keycloak',
  passFlags(values, ['users', 'groups', 'members-per-group', 'nesting-depth', 'seed', 'latency']),
);
const startupMs = performance.now() - t0;
try {
  useReadyEnv(ready);
  const connector = keycloakConnector as unknown as Connector;
  const entry = {
    ...ready.connector,
    kind: 'keycloak',
    name: 'bench-keycloak',
    concurrency: Number(values.concurrency),
    pageSize: Number(values['page-size']),
    guard: { minRemovals: 100_000_000 },
  };
  const config = parseConnectorConfig(entry, connector);
  const before = await state(ready.url);
  console.log(
    `emulator ready in ${(startupMs / 1000).toFixed(1)} s: ${before.users} users, ${before.groups} groups, ` +
      `${before.memberships} memberships (${ready.url})`,
  );
  if (values.series) {
    await seriesBench({
      entry,
      url: ready.url,
      seed: Number(values.seed),
      countsAdminReads: true,
      // Counters only: the org's sizes and the peak in flight beside them are not per-run amounts.
      counters: { path: '/__emulator/state', keys: ['requests', 'tokenRequests'] },
      atProductionLimits: () =>
        'no published rate limit: Keycloak is self-hosted and answers 503 when overloaded',
      emulatorCpuSeconds: cpuSeconds,
    });
  } else if (feedMode) {
    await feedBench(connector, config, ready.url);
  } else {
    const cpuBefore = cpuSeconds();
    const m = await measure({
      connector,
      config,
      logger: pino({ level: 'warn' }),
      readOnly: values['read-only'],
      preload: () => import('../connectors/keycloak/source.js'),
    });
    const cpuAfter = cpuSeconds();
    const summary: Record<string, unknown> =
      m.mode === 'read-only'
        ? {
            snapshot: m.counts,
            requests: m.stats.requests,
            throttled: m.stats.throttled,
            pages: m.stats.pages,
          }
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
          ...(m.mode === 'read-only'
            ? readOnlyFigures(
                m,
                m.stats.requests,
                cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
              )
            : {}),
        },
        null,
        2,
      ),
    );
  }
} finally {
  stop();
}

/** Full read, unchanged feed, 1% feed: requests and wall time of each (no pipeline, no database). */
async function feedBench(connector: Connector, config: ConnectorConfig, url: string): Promise<void> {
  const ctx = { logger: pino({ level: 'warn' }), signal: new AbortController().signal, progress: () => {} };
  const t0 = performance.now();
  const source = await connector.open(config as never, ctx);
  let records = 0;
  for await (const _ of source.read()) records++;
  const fullRequests = source.stats().requests;
  let cursor = source.cursor?.() as string;
  await source.close();
  const fullMs = performance.now() - t0;
  const row = (name: string, requests: number, ms: number, items: number) => ({
    phase: name,
    requests,
    seconds: Number((ms / 1000).toFixed(2)),
    items,
    cursorBytes: cursor.length,
  });
  const rows = [row('full read', fullRequests, fullMs, records)];

  async function runFeed(name: string): Promise<void> {
    const t = performance.now();
    const feed = await connector.openFeed!(config as never, ctx, cursor);
    let items = 0;
    try {
      for await (const _ of feed.read()) items++;
      cursor = feed.cursor();
    } finally {
      await feed.close();
    }
    rows.push(row(name, feed.stats().requests, performance.now() - t, items));
    console.log(JSON.stringify(rows[rows.length - 1])); // as it comes, in case a later phase fails
  }
  await runFeed('unchanged feed');
  // Applying a 1% plan to a 100k realm takes the emulator minutes on a loaded machine: no timeout.
  const res = await fetch(`${url}/__emulator/mutate`, {
    method: 'POST',
    body: JSON.stringify({ seed: 42, users: 0.01, memberships: 0.01 }),
    dispatcher: new Agent({ headersTimeout: 0, bodyTimeout: 0 }),
  } as RequestInit);
  const mutated = (await res.json()) as { planned: number; applied: number };
  await runFeed(`1% feed (${mutated.applied} changes)`);
  const [, unchanged, onePct] = rows as [unknown, { requests: number }, { requests: number }];
  console.log(
    JSON.stringify(
      {
        idp: 'keycloak',
        mode: 'feed',
        rows,
        targets: {
          unchangedAtMost10: unchanged.requests <= 10,
          onePercentAtMost3PercentOfFull: onePct.requests <= 0.03 * fullRequests,
          onePercentShareOfFull: `${((100 * onePct.requests) / fullRequests).toFixed(2)}%`,
        },
        peakRss: mb(process.resourceUsage().maxRSS * 1024),
      },
      null,
      2,
    ),
  );
}
