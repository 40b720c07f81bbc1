/** Shared helpers of the graph connector tests: start an emulator, open the real connector, collect. */
import pino from 'pino';
import { request, type Agent } from 'undici';
import { addUser } from '../../../connectors/emulator-kit/mutate.js';
import { graphConfigSchema, graphConnector, type GraphConfig } from '../../../connectors/graph/index.js';
import {
  startEmulator,
  type GraphEmulator,
  type GraphEmulatorOptions,
} from '../../../connectors/graph/emulator/index.js';
import type {
  ConnectorContext,
  SnapshotItem,
  SourceProblem,
  SourceProgress,
  SourceStats,
} from '../../../connectors/types.js';

export const silent = pino({ level: 'silent' });

/**
 * The client-credentials token request as Entra ID takes it, straight over HTTPS (the tests that
 * check the wire format do not go through @azure/identity). Returns the status and parsed body.
 */
export async function requestToken(
  emu: GraphEmulator,
  dispatcher: Agent,
  scope = 'https://graph.microsoft.com/.default',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${emu.url}/${emu.tenantId}/oauth2/v2.0/token`, {
    dispatcher,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: emu.clientId,
      client_secret: emu.env.DIRSYNC_GRAPH_CLIENT_SECRET as string,
      scope,
    }).toString(),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

export async function emulator(opts: Partial<GraphEmulatorOptions> = {}): Promise<GraphEmulator> {
  const emu = await startEmulator({
    users: 40,
    groups: 8,
    membersPerGroup: 6,
    nestingDepth: 2,
    seed: 7,
    ...opts,
  });
  for (const [k, v] of Object.entries(emu.env)) process.env[k] = v;
  return emu;
}

let budgetSeq = 0;

/** A parsed connector config for the emulator; a fresh budget per call so tests do not share one. */
export function configFor(emu: GraphEmulator, overrides: Record<string, unknown> = {}): GraphConfig {
  return graphConfigSchema.parse({
    ...emu.connector,
    // Distinct client ids would fail auth; a distinct budget size keys a fresh bucket instead.
    requestBudget: { requests: 100_000 + budgetSeq++, perSeconds: 1 },
    ...overrides,
  });
}

export interface Collected {
  users: Map<
    string,
    { username: string; active: boolean | null; email: string | null; displayName: string | null }
  >;
  groups: Map<string, { name: string; description: string | null }>;
  edges: Set<string>;
  problems: SourceProblem[];
  items: SnapshotItem[];
  stats: SourceStats;
  progress: SourceProgress[];
}

export async function readAll(
  config: GraphConfig,
  ctxOverrides: Partial<ConnectorContext> = {},
): Promise<Collected> {
  const progress: SourceProgress[] = [];
  const ctx: ConnectorContext = {
    logger: silent,
    signal: new AbortController().signal,
    progress: (p) => void progress.push(p),
    ...ctxOverrides,
  };
  const source = await graphConnector.open(config, ctx);
  const out: Collected = {
    users: new Map(),
    groups: new Map(),
    edges: new Set(),
    problems: [],
    items: [],
    stats: source.stats(),
    progress,
  };
  try {
    for await (const item of source.read()) {
      out.items.push(item);
      if (item.kind === 'user') {
        out.users.set(item.externalId, {
          username: item.username,
          active: item.active,
          email: item.email,
          displayName: item.displayName,
        });
      } else if (item.kind === 'group')
        out.groups.set(item.externalId, { name: item.name, description: item.description });
      else if (item.kind === 'edge') out.edges.add(`${item.groupId}|${item.memberType}|${item.memberId}`);
      else out.problems.push(item);
    }
  } finally {
    out.stats = { ...source.stats() };
    await source.close();
  }
  return out;
}

/** Asserts-friendly view: sorted arrays of the truth and of what was read. */
export function sorted<T>(xs: Iterable<T>): T[] {
  return [...xs].sort();
}

/** Adds `n` active users with predictable logins (`t.user0`, ...). */
export function addUsers(emu: GraphEmulator, n: number, prefix = 't'): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}u${i}`;
    addUser(emu.org, {
      id,
      login: `${prefix}.user${i}`,
      email: `${prefix}.user${i}@${emu.org.domain}`,
      givenName: 'Test',
      familyName: `User${i}`,
      displayName: `Test User${i}`,
      status: 'active',
      department: 'QA',
      title: 'Tester',
      created: '2024-01-01T00:00:00.000Z',
    });
    ids.push(id);
  }
  return ids;
}
