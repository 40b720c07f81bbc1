/**
 * What every emulator's `main.ts` shares: the org-shape flags (--port --host --users --groups
 * --members-per-group --nesting-depth --seed --latency --error-rate), the ready line on stdout and
 * the shutdown on SIGINT/SIGTERM. Each IdP adds its own flags through `extra`.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { readyLine } from './types.js';
import type { EmulatorOptions, RunningEmulator } from './types.js';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

/**
 * How numeric flags are checked:
 * - `non-negative`: a finite number >= 0, otherwise the process prints why and exits with 2;
 * - `finite`: a finite number, otherwise an Error is thrown;
 * - `none`: `Number(value)` as is.
 */
export type NumberCheck = 'non-negative' | 'finite' | 'none';

export interface EmulatorArgsSpec {
  /** Defaults to the process's own arguments. */
  argv?: string[];
  /** The IdP's own flags. */
  extra?: ParseArgsOptionsConfig;
  /** Default for --nesting-depth (`'3'` unless given). */
  nestingDepth?: string;
  check: NumberCheck;
}

function commonOptions(nestingDepth: string) {
  return {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    users: { type: 'string', default: '1000' },
    groups: { type: 'string', default: '100' },
    'members-per-group': { type: 'string', default: '20' },
    'nesting-depth': { type: 'string', default: nestingDepth },
    seed: { type: 'string', default: '1' },
    latency: { type: 'string', default: '0' },
    'error-rate': { type: 'string', default: '0' },
  } as const satisfies ParseArgsOptionsConfig;
}

export interface EmulatorArgs {
  /** The shared options, ready for an emulator's `startEmulator`. */
  options: EmulatorOptions & { host: string; port: number; latencyMs: number };
  /** Every flag's raw value, the IdP's own included. */
  values: Record<string, string | boolean | undefined>;
  /** A numeric flag, checked as the shared ones are. */
  num(name: string): number;
}

/** Parses the shared emulator flags plus `extra`. Unknown flags are an error (parseArgs strict). */
export function parseEmulatorArgs(spec: EmulatorArgsSpec): EmulatorArgs {
  const { values } = parseArgs({
    ...(spec.argv ? { args: spec.argv } : {}),
    options: { ...commonOptions(spec.nestingDepth ?? '3'), ...spec.extra },
    strict: true,
  });
  const raw = values as Record<string, string | boolean | undefined>;
  const num = (name: string): number => {
    const value = raw[name];
    const n = Number(value);
    if (spec.check === 'non-negative' && (!Number.isFinite(n) || n < 0)) {
      console.error(`--${name} must be a non-negative number`);
      process.exit(2);
    }
    if (spec.check === 'finite' && !Number.isFinite(n)) throw new Error(`--${name} must be a number`);
    return n;
  };
  const port = num('port');
  const users = num('users');
  const groups = num('groups');
  const membersPerGroup = num('members-per-group');
  const nestingDepth = num('nesting-depth');
  const seed = num('seed');
  const latencyMs = num('latency');
  const errorRate = num('error-rate');
  return {
    options: {
      port,
      host: raw.host as string,
      users,
      groups,
      membersPerGroup,
      nestingDepth,
      seed,
      latencyMs,
      // A rate of 0 (or below, or NaN) never draws a fault, so no `faults` is the same thing.
      ...(errorRate > 0 ? { faults: { errorRate } } : {}),
    },
    values: raw,
    num,
  };
}

/**
 * Starts the emulator, prints its ready line (one JSON object) on stdout and closes it on
 * SIGINT/SIGTERM (exit 0 once closed, 1 if closing fails).
 */
export async function runEmulatorMain(start: () => Promise<RunningEmulator>): Promise<RunningEmulator> {
  const emu = await start();
  console.log(readyLine(emu));
  const stop = () => {
    emu.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return emu;
}
