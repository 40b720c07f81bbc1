/**
 * Shared helpers for the Keycloak connector tests: open a source on an emulator, drain it, and
 * express both the snapshot and the org's truth as sets of comparable strings.
 */
import pino from 'pino';
import { parseConnectorConfig } from '../../../config/load.js';
import type { Org } from '../../../connectors/emulator-kit/org.js';
import { keycloakConnector, type KeycloakConfig } from '../../../connectors/keycloak/index.js';
import type { KeycloakEmulator } from '../../../connectors/keycloak/emulator/index.js';
import type {
  ConnectorContext,
  SnapshotItem,
  SourceProblem,
  SourceProgress,
  SourceStats,
} from '../../../connectors/types.js';

export const silent = pino({ level: 'silent' });

/** A parsed connector entry for the emulator, with fast retries so storms do not slow tests down. */
export function configFor(emu: KeycloakEmulator, overrides: Record<string, unknown> = {}): KeycloakConfig {
  for (const [k, v] of Object.entries(emu.env)) process.env[k] = v;
  return parseConnectorConfig(
    { ...emu.connector, retry: { maxAttempts: 8, baseDelay: '2ms', maxDelay: '20ms' }, ...overrides },
    keycloakConnector as never,
  ) as unknown as KeycloakConfig;
}

export interface ReadResult {
  items: SnapshotItem[];
  stats: SourceStats;
  progress: SourceProgress[];
}

export async function readAll(
  config: KeycloakConfig,
  ctx: Partial<ConnectorContext> = {},
): Promise<ReadResult> {
  const progress: SourceProgress[] = [];
  const source = await keycloakConnector.open(config, {
    logger: silent,
    signal: new AbortController().signal,
    progress: (p) => progress.push(p),
    ...ctx,
  });
  try {
    const items: SnapshotItem[] = [];
    for await (const item of source.read()) items.push(item);
    return { items, stats: { ...source.stats() }, progress };
  } finally {
    await source.close();
  }
}

export interface Sets {
  users: Set<string>;
  groups: Set<string>;
  edges: Set<string>;
}

/** The snapshot as sets: `id|username|active`, `id|name`, `group>u:id` / `group>g:id`. */
export function snapshotSets(items: SnapshotItem[]): Sets & { problems: SourceProblem[] } {
  const s = {
    users: new Set<string>(),
    groups: new Set<string>(),
    edges: new Set<string>(),
    problems: [] as SourceProblem[],
  };
  for (const it of items) {
    if (it.kind === 'user') s.users.add(`${it.externalId}|${it.username}|${it.active}`);
    else if (it.kind === 'group') s.groups.add(`${it.externalId}|${it.name}`);
    else if (it.kind === 'edge')
      s.edges.add(`${it.groupId}>${it.memberType === 'user' ? 'u' : 'g'}:${it.memberId}`);
    else s.problems.push(it);
  }
  return s;
}

/** What the snapshot of `org` must be, as Keycloak renders it (usernames lower-cased). */
export function truthSets(org: Org): Sets {
  const users = new Set(org.users.map((u) => `${u.id}|${u.login.toLowerCase()}|${u.status === 'active'}`));
  const groups = new Set(org.groups.map((g) => `${g.id}|${g.name}`));
  const edges = new Set<string>();
  for (const [g, members] of org.members) for (const u of members) edges.add(`${g}>u:${u}`);
  for (const g of org.groups) if (g.parentId) edges.add(`${g.parentId}>g:${g.id}`);
  return { users, groups, edges };
}

/** Items of a kind, counted; used to assert nothing was yielded twice. */
export function countKind(items: SnapshotItem[], kind: SnapshotItem['kind']): number {
  return items.filter((i) => i.kind === kind).length;
}
