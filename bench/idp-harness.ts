/**
 * What the IdP benchmarks (bench/idp-*.ts) share: flags with environment-variable defaults, the
 * emulator in its own process (`node --import tsx connectors/<kind>/emulator/main.ts`, ready line
 * on stdout), and one measured read: either the connector drained on its own (`--read-only`, no
 * database) or a full `runSync` into a fresh database that is dropped afterwards. `--series` is
 * parsed here for all four benches and run by bench/idp-series.ts.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
 * BENCH_MEMBERS, BENCH_SEED, BENCH_LATENCY), `--read-only`, `--series` (bench/idp-series.ts), and the
 * bench's own string flags (see `envFlag`).
 */
export function parseBenchArgs<K extends string>(
  options: Record<K, ReturnType<typeof envFlag>>,
): Record<K | OrgFlag, string> & { 'read-only': boolean; series: boolean } {
  const { values } = parseArgs({
    options: {
      ...ORG_FLAGS,
      ...options,
      'read-only': { type: 'boolean', default: false },
      series: { type: 'boolean', default: false },
    } satisfies OptionsConfig,
  });
  return values as unknown as Record<K | OrgFlag, string> & { 'read-only': boolean; series: boolean };
}

/** The emulator's ready line. */
export interface Ready {
  url: string;
  connector: Record<string, unknown>;
  env: Record<string, string>;
}

/**
 * CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat` (Linux; `null`
 * elsewhere). Read before and after a measured read, it tells how much of the wall time the
 * emulator's own work took, which on a 2-core machine competes with the connector for the CPU.
 */
export function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    // The command name (field 2) may hold spaces; the counters follow its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line (11 and 12 after the name), in clock ticks
    // of 1/100 s on Linux.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Starts `connectors/<kind>/emulator/main.ts` with `args` and waits for its ready line. */
export async function startEmulatorProcess<R extends Ready = Ready>(
  kind: string,
  args: string[],
): Promise<{ ready: R; stop: () => void; cpuSeconds: () => number | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `connectors/${kind}/emulator/main.ts`, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise<R>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code} before it was ready`)));
    lines.once('line', (line) => resolve(JSON.parse(line) as R));
  });
  return { ready, stop: () => child.kill('SIGTERM'), cpuSeconds: () => processCpuSeconds(child.pid) };
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
  | {
      mode: 'read-only';
      counts: Record<string, number>;
      stats: SourceStats;
      wallMs: number;
      /** CPU time (user + system) of this process during the read. */
      cpuMs: number;
      /** When each progress phase (`users`, `groups`, `members`, ...) was first reported, ms after the start. */
      phaseStartMs: Record<string, number>;
      /** Time `preload` took before the clock started (loading the connector's SDK), if given. */
      loadMs: number | null;
    }
  | { mode: 'sync'; summary: RunSummary; wallMs: number };

/**
 * Reads the IdP once, timed: drains the connector (`readOnly`) or runs a full sync into a fresh
 * database (`dirsync_bench_*`, dropped afterwards). With `readOnly`, `preload` (the import of the
 * connector's implementation, which loads its SDK) runs first and is timed on its own: a catalog
 * reader loads its SDK when its process starts, not in its read, so the read is compared without
 * it (and `loadMs` says what a cold process pays on top). A full sync keeps the load inside its
 * fetch phase, as a one-shot `dirsync sync` pays it.
 */
export async function measure(opts: {
  connector: Connector;
  config: ConnectorConfig;
  logger: Logger;
  readOnly: boolean;
  preload?: () => Promise<unknown>;
}): Promise<Measured> {
  const { connector, config, logger } = opts;
  let loadMs: number | null = null;
  if (opts.readOnly && opts.preload) {
    const t = performance.now();
    await opts.preload();
    loadMs = performance.now() - t;
  }
  const started = performance.now();
  if (opts.readOnly) {
    const cpu = process.cpuUsage();
    const phaseStartMs: Record<string, number> = {};
    const source = await connector.open(config as never, {
      logger,
      signal: new AbortController().signal,
      progress: (p) => {
        phaseStartMs[p.phase] ??= Math.round(performance.now() - started);
      },
    });
    const counts: Record<string, number> = { user: 0, group: 0, edge: 0, problem: 0 };
    for await (const item of source.read()) counts[item.kind] = (counts[item.kind] ?? 0) + 1;
    const stats = source.stats();
    await source.close();
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    return {
      mode: 'read-only',
      counts,
      stats,
      wallMs,
      cpuMs: (used.user + used.system) / 1000,
      phaseStartMs,
      loadMs,
    };
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

/**
 * What `--read-only` prints for comparison with other readers: records and requests per second of
 * wall time, and where the CPU went (this process, i.e. the connector, and the emulator's process;
 * `null` where /proc is not available).
 */
export function readOnlyFigures(
  m: Extract<Measured, { mode: 'read-only' }>,
  requests: number,
  emulatorCpuSeconds: number | null,
): Record<string, unknown> {
  const secs = m.wallMs / 1000;
  const records = Object.values(m.counts).reduce((a, b) => a + b, 0);
  return {
    ...(m.loadMs === null ? {} : { sdkLoadSeconds: Number((m.loadMs / 1000).toFixed(1)) }),
    phaseStartMs: m.phaseStartMs,
    recordsPerSecond: Math.round(records / secs),
    requestsPerSecond: Math.round(requests / secs),
    cpuSeconds: {
      connector: Number((m.cpuMs / 1000).toFixed(1)),
      emulator: emulatorCpuSeconds === null ? null : Number(emulatorCpuSeconds.toFixed(1)),
    },
  };
}
