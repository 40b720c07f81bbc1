/**
 * What the IdP benchmarks (bench/idp-*.ts) share: flags with environment-variable defaults, the
 * emulator in its own process (`node --import tsx connectors/<kind>/emulator/main.ts`, ready line
 * on stdout), and one measured read: either the connector drained on its own (`--read-only`, no
 * database) or a full `runSync` into a fresh database that is dropped afterwards.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import type { Logger } from 'pino';
import type { ConnectorConfig } from '../config/schema.js';
import type { Connector, SourceStats } from '../connectors/types.js';
import { runSync } from '../src/pipeline/run.js';
import type { RunSummary } from '../src/pipeline/run.js';
import { createTestDatabase } from '../test/helpers/db.js';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** A string flag whose default comes from `env` when set, else `fallback`. */
export const envFlag = (env: string, fallback: string) =>
  ({ type: 'string', default: process.env[env] ?? fallback }) as const;

/** The org-shape flags every IdP bench takes, with the same defaults (a 100k-user org). */
const ORG_FLAGS = {
  users: envFlag('BENCH_USERS', '100000'),
  groups: envFlag('BENCH_GROUPS', '10000'),
  'members-per-group': envFlag('BENCH_MEMBERS', '100'),
  seed: envFlag('BENCH_SEED', '1'),
  latency: envFlag('BENCH_LATENCY', '0'),
};

type OrgFlag = keyof typeof ORG_FLAGS;

/**
 * Parses --users --groups --members-per-group --seed --latency (BENCH_USERS, BENCH_GROUPS,
 * BENCH_MEMBERS, BENCH_SEED, BENCH_LATENCY), `--read-only`, and the bench's own string flags
 * (see `envFlag`).
 */
export function parseBenchArgs<K extends string>(
  options: Record<K, ReturnType<typeof envFlag>>,
): Record<K | OrgFlag, string> & { 'read-only': boolean } {
  const { values } = parseArgs({
    options: {
      ...ORG_FLAGS,
      ...options,
      'read-only': { type: 'boolean', default: false },
    } satisfies OptionsConfig,
  });
  return values as unknown as Record<K | OrgFlag, string> & { 'read-only': boolean };
}

/** The emulator's ready line. */
export interface Ready {
  url: string;
  connector: Record<string, unknown>;
  env: Record<string, string>;
}

/** Starts `connectors/<kind>/emulator/main.ts` with `args` and waits for its ready line. */
export async function startEmulatorProcess<R extends Ready = Ready>(
  kind: string,
  args: string[],
): Promise<{ ready: R; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `connectors/${kind}/emulator/main.ts`, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise<R>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code} before it was ready`)));
    lines.once('line', (line) => resolve(JSON.parse(line) as R));
  });
  return { ready, stop: () => child.kill('SIGTERM') };
}

/** `--flag value` pairs for the given keys of the bench's flags. */
export function passFlags<K extends string>(values: Record<K, string>, keys: readonly K[]): string[] {
  return keys.flatMap((k) => [`--${k}`, String(values[k])]);
}

/** Puts the emulator's fake credentials into the environment, where the connector entry points. */
export function useReadyEnv(ready: Ready): void {
  for (const [k, v] of Object.entries(ready.env)) process.env[k] = v;
}

export type Measured =
  | { mode: 'read-only'; counts: Record<string, number>; stats: SourceStats; wallMs: number }
  | { mode: 'sync'; summary: RunSummary; wallMs: number };

/**
 * Reads the IdP once, timed: drains the connector (`readOnly`) or runs a full sync into a fresh
 * database (`dirsync_bench_*`, dropped afterwards).
 */
export async function measure(opts: {
  connector: Connector;
  config: ConnectorConfig;
  logger: Logger;
  readOnly: boolean;
}): Promise<Measured> {
  const { connector, config, logger } = opts;
  const started = performance.now();
  if (opts.readOnly) {
    const source = await connector.open(config as never, {
      logger,
      signal: new AbortController().signal,
      progress: () => {},
    });
    const counts: Record<string, number> = { user: 0, group: 0, edge: 0, problem: 0 };
    for await (const item of source.read()) counts[item.kind] = (counts[item.kind] ?? 0) + 1;
    const stats = source.stats();
    await source.close();
    return { mode: 'read-only', counts, stats, wallMs: performance.now() - started };
  }
  const db = await createTestDatabase('dirsync_bench');
  let summary: RunSummary;
  try {
    summary = await runSync({ pool: db.pool, config, connector, trigger: 'test', logger });
  } finally {
    await db.drop();
  }
  // The wall time includes creating and dropping the database.
  return { mode: 'sync', summary, wallMs: performance.now() - started };
}

/** The run's figures most benches print after a sync. */
export function syncFigures(s: RunSummary): Record<string, unknown> {
  return {
    snapshot: s.snapshot,
    phaseMs: s.phaseMs,
    requests: s.requests,
    throttled: s.throttled,
    counts: s.counts,
  };
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
