/**
 * The Google emulator's public shapes: its options and the running emulator's handle. Kept apart
 * from the server (index.ts) so the admin API depends on these and on the store, not on the server
 * that mounts it.
 */
import type { EmulatorOptions, FaultOptions, RunningEmulator } from '../../emulator-kit/types.js';
import type { Org } from '../../emulator-kit/org.js';
import type { ExternalMember, GoogleDirectory } from './directory.js';
import type { GoogleStore } from './store.js';
import type { ServiceAccount } from './token.js';

export interface GoogleEmulatorOptions extends EmulatorOptions {
  /**
   * Per-user quota, queries per minute (sliding 60 s window), answered with 403
   * `userRateLimitExceeded` when exceeded. Google's default is 2,400; 0 turns it off.
   */
  userQpm?: number;
  /** Length of the quota window in ms (default 60,000; tests shorten it). */
  quotaWindowMs?: number;
  /** In-flight API requests allowed per account before 429 `rateLimitExceeded`; 0 = no limit. */
  maxConcurrent?: number;
  /** Lifetime of access tokens in seconds (Google: 3599). */
  tokenTtlSec?: number;
  /** See `ApiOptions.tokenOnFullLastPage` (api.ts); default true. */
  tokenOnFullLastPage?: boolean;
  /** Reports API ingestion lag: an admin event is served only this long after it happened (ms). */
  reportsLagMs?: number;
  /**
   * Scopes the service account's domain-wide delegation grants (default: the Directory read
   * scopes, their read-write forms and the Reports audit scope).
   */
  delegatedScopes?: string[];
}

/** A scripted failure for requests whose path matches. */
export interface FailRule {
  path: RegExp;
  fault: 'error' | 'truncate' | 'reset' | 'timeout';
  /** Status for `error` (default 500) and `truncate` (default 200). */
  status?: number;
  /** How many matching requests fail (default: all). */
  times?: number;
  /** Matching requests that pass before the failures start (default 0). */
  after?: number;
}

export interface ThrottleStorm {
  /** The next `count` API requests are throttled. */
  count: number;
  status: 403 | 429;
  /** Default `userRateLimitExceeded` for 403, `rateLimitExceeded` for 429. */
  reason?: string;
  /** Sends Retry-After (Google rarely does; clients must cope either way). */
  retryAfterSec?: number;
  /** Only requests whose path matches are throttled (default: every API request). */
  path?: RegExp;
}

export interface GoogleEmulator extends RunningEmulator {
  org: Org;
  directory: GoogleDirectory;
  /** The one mutation path; it writes the Reports API's admin activity log. */
  store: GoogleStore;
  serviceAccount: ServiceAccount;
  /** The admin the service account may impersonate. */
  adminEmail: string;
  setFaults(f: FaultOptions | undefined): FaultOptions | undefined;
  setLatency(ms: number): number;
  throttle(storm: ThrottleStorm): ThrottleStorm;
  failRequests(rule: FailRule): FailRule;
  clearFailures(): void;
  /** Revokes every access token issued so far (the next API call answers 401). */
  expireTokens(): { revoked: number };
  addSubgroup(parentId: string, childId: string): { parentId: string; childId: string };
  removeSubgroup(parentId: string, childId: string): { parentId: string; childId: string };
  addExternalMember(groupId: string, m: ExternalMember): ExternalMember;
  /** Token requests answered so far (successful or not). */
  tokenRequests(): number;
  /** Sets the Reports API's ingestion lag (ms); returns it. */
  setReportsLag(ms: number): number;
}
