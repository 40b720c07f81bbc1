/**
 * "Test connection": authenticate against the IdP, read the first users, groups and memberships,
 * and say in plain words what is wrong when something is. Nothing is written anywhere. The read
 * stops as soon as it has seen a user, a group and a membership, or after a time budget, so a test
 * of a large directory takes seconds.
 */
import { connectorFor } from '../connectors/registry.js';
import type { Connector, Source } from '../connectors/types.js';
import type { ConnectorConfig } from '../config/schema.js';
import { toDirsyncError, type DirsyncError } from './errors.js';
import { silentLogger } from './logger.js';

export interface ConnectionTestResult {
  connector: string;
  kind: string;
  ok: boolean;
  /** What was read before the test stopped. */
  read: { users: number; groups: number; memberships: number; problems: number };
  requests: number;
  ms: number;
  /** One sentence per finding, for people: what worked, what is missing and how to fix it. */
  findings: string[];
  error?: { code: string; message: string };
}

/** What each IdP needs, in the words of its admin console. */
const NEEDS: Record<string, { auth: string; forbidden: (message: string) => string }> = {
  graph: {
    auth: 'Entra ID refused the app credentials: check tenantId and clientId, and that the client secret or certificate is current (not expired).',
    forbidden: (m) =>
      /member|\$batch|group/i.test(m)
        ? 'The app lacks GroupMember.Read.All (an Application permission, with admin consent) needed to read groups and their members.'
        : 'The app lacks User.Read.All (an Application permission, with admin consent) needed to read users.',
  },
  google: {
    auth: 'Google refused the service account: check the key file, that domain-wide delegation is granted to its client ID, and that `subject` is a super admin.',
    forbidden: () =>
      'The delegation lacks a scope: grant https://www.googleapis.com/auth/admin.directory.user.readonly and https://www.googleapis.com/auth/admin.directory.group.readonly (and admin.reports.audit.readonly for incremental sync) to the service account client ID.',
  },
  okta: {
    auth: 'Okta refused the credentials: check the API token (or the service app client ID and private key) and orgUrl.',
    forbidden: () =>
      'The token lacks a permission: grant the service app okta.users.read and okta.groups.read (and okta.logs.read for incremental sync), or use an API token of an admin with read access to users and groups.',
  },
  keycloak: {
    auth: 'Keycloak refused the client credentials: check clientId and clientSecret, and that "Service accounts roles" is enabled on the client.',
    forbidden: () =>
      'The service account lacks realm-management roles: assign view-users and query-groups (and view-events for incremental sync).',
  },
  file: {
    auth: 'The file could not be read.',
    forbidden: () => 'The file could not be read: check its permissions.',
  },
};

function advice(kind: string, e: DirsyncError): string {
  const needs = NEEDS[kind];
  switch (e.code) {
    case 'DIRSYNC_E_IDP_AUTH':
      return needs?.auth ?? 'The identity provider refused the credentials.';
    case 'DIRSYNC_E_IDP_FORBIDDEN':
      return (
        needs?.forbidden(e.message) ??
        'The identity provider denied access: a permission or scope is missing.'
      );
    case 'DIRSYNC_E_SECRET_UNAVAILABLE':
      return `A secret is missing: ${e.message}.`;
    case 'DIRSYNC_E_IDP_UNAVAILABLE':
    case 'DIRSYNC_E_IDP_THROTTLED':
      return `The identity provider could not be reached or is overloaded: ${e.message}.`;
    case 'DIRSYNC_E_IDP_NOT_FOUND':
      return `The identity provider has no such tenant, org, realm or customer: ${e.message}.`;
    default:
      return `${e.message}.`;
  }
}

/**
 * Tests one connector. Never throws for an IdP problem: the result says what is wrong. `budgetMs`
 * bounds the read (default 20 s).
 */
export async function testConnection(
  cfg: ConnectorConfig,
  o: { connector?: Connector; budgetMs?: number } = {},
): Promise<ConnectionTestResult> {
  const connector = o.connector ?? connectorFor(cfg.kind);
  const started = performance.now();
  const read = { users: 0, groups: 0, memberships: 0, problems: 0 };
  const findings: string[] = [];
  const abort = new AbortController();
  const budget = setTimeout(() => abort.abort(new Error('time budget used')), o.budgetMs ?? 20_000);
  budget.unref();
  let source: Source | null = null;
  let error: DirsyncError | undefined;
  try {
    source = await connector.open(cfg as never, {
      logger: silentLogger,
      signal: abort.signal,
      progress: () => {},
      groupFilter: { include: cfg.filters.groups.include, exclude: cfg.filters.groups.exclude },
      activeUsersOnly: cfg.filters.users.activeOnly,
    });
    for await (const item of source.read()) {
      if (item.kind === 'user') read.users++;
      else if (item.kind === 'group') read.groups++;
      else if (item.kind === 'edge') read.memberships++;
      else if (item.kind === 'problem') read.problems++;
      if ((read.users > 0 && read.groups > 0 && read.memberships > 0) || abort.signal.aborted) break;
    }
  } catch (e) {
    // Stopping at the time budget is the test's own doing, not a failure.
    if (!abort.signal.aborted) error = toDirsyncError(e, 'DIRSYNC_E_SOURCE_FAILED');
  } finally {
    clearTimeout(budget);
  }
  const requests = source?.stats().requests ?? 0;
  await source?.close().catch(() => {});
  if (error) findings.push(advice(cfg.kind, error));
  else {
    findings.push(
      `Signed in and read ${read.users} user(s), ${read.groups} group(s) and ${read.memberships} membership(s)` +
        (requests ? ` in ${requests} request(s).` : '.'),
    );
    if (read.users === 0)
      findings.push('No user was read: the directory (or the user filter pushed down to it) is empty.');
    if (read.groups === 0 && read.users > 0 && !abort.signal.aborted)
      findings.push('No group was read: the directory has none, or the group filter matches none.');
    if (abort.signal.aborted && (read.groups === 0 || read.memberships === 0))
      findings.push('Stopped at the time budget before groups or memberships were reached; users read fine.');
    if (read.problems > 0)
      findings.push(`${read.problems} record(s) could not be mapped; a sync reports them as problems.`);
  }
  return {
    connector: cfg.name,
    kind: cfg.kind,
    ok: !error,
    read,
    requests,
    ms: Math.round(performance.now() - started),
    findings,
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
  };
}

/** The result as lines for the terminal. */
export function connectionTestText(r: ConnectionTestResult): string {
  return [
    `${r.ok ? 'OK' : 'FAILED'}: ${r.connector} (${r.kind}) in ${r.ms} ms`,
    ...r.findings.map((f) => `  ${f}`),
    ...(r.error ? [`  (${r.error.code})`] : []),
  ].join('\n');
}
