/**
 * What every IdP emulator offers, so `dirsync emulate <kind>`, the tests, the demo and the
 * benchmarks drive them all the same way.
 */
import type { Org } from './org.js';

export interface FaultOptions {
  /** Probability (0..1) that a request answers 500/503. */
  errorRate?: number;
  /** Probability that a request hangs until the client gives up. */
  timeoutRate?: number;
  /** Probability that the connection is reset mid-response. */
  resetRate?: number;
  /** Probability that a list page is cut off (invalid JSON). */
  truncateRate?: number;
}

export interface EmulatorOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  users: number;
  groups: number;
  membersPerGroup: number;
  nestingDepth: number;
  seed: number;
  /** Added to every response, in milliseconds. */
  latencyMs?: number;
  faults?: FaultOptions;
  /** A ready org instead of a generated one. */
  org?: Org;
}

export interface RunningEmulator {
  kind: string;
  /** Base URL of the emulated API, e.g. `http://127.0.0.1:43817`. */
  url: string;
  /**
   * A ready-to-use entry for `connectors[]` in dirsync.yaml. Secrets in it are references
   * (`{ env: NAME }`); `env` holds their values for the emulator's fake credentials.
   */
  connector: Record<string, unknown>;
  env: Record<string, string>;
  /** Requests served so far (all endpoints, including token requests). */
  requestCount(): number;
  close(): Promise<void>;
}

/** The one line of JSON an emulator prints when it is ready. */
export function readyLine(e: RunningEmulator): string {
  return JSON.stringify({ kind: e.kind, url: e.url, connector: e.connector, env: e.env });
}
