/** The IdP emulators by kind, for `dirsync emulate`, the demo and the benchmarks. */
import type { EmulatorOptions, RunningEmulator } from './emulator-kit/types.js';

export const EMULATOR_KINDS = ['graph', 'google', 'keycloak', 'okta'] as const;
export type EmulatorKind = (typeof EMULATOR_KINDS)[number];

/** Starts one emulator. Loaded lazily: a sync never pays for emulator code. */
export async function startEmulator(kind: EmulatorKind, opts: EmulatorOptions): Promise<RunningEmulator> {
  switch (kind) {
    case 'graph':
      return (await import('./graph/emulator/index.js')).startEmulator(opts);
    case 'google':
      return (await import('./google/emulator/index.js')).startEmulator(opts);
    case 'keycloak':
      return (await import('./keycloak/emulator/index.js')).startEmulator(opts);
    case 'okta':
      return (await import('./okta/emulator/index.js')).startEmulator(opts);
  }
}
