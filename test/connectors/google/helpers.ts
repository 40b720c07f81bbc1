/**
 * Shared pieces of the Google connector tests: start an emulator, open the real connector on
 * it, read a snapshot, and compute the org's truth in the same shape.
 */
import pino from 'pino';
import { parseConnectorConfig } from '../../../config/load.js';
import { googleConnector, type GoogleConfig } from '../../../connectors/google/index.js';
import {
  startEmulator,
  type GoogleEmulator,
  type GoogleEmulatorOptions,
} from '../../../connectors/google/emulator/index.js';
import type { ConnectorContext, SnapshotItem, Source, SourceProgress } from '../../../connectors/types.js';

export const silent = pino({ level: 'silent' });

export async function startGoogle(opts: Partial<GoogleEmulatorOptions> = {}): Promise<GoogleEmulator> {
  const emu = await startEmulator({
    users: 40,
    groups: 8,
    membersPerGroup: 6,
    nestingDepth: 3,
    seed: 7,
    ...opts,
  });
  for (const [k, v] of Object.entries(emu.env)) process.env[k] = v;
  return emu;
}

/** The emulator's connector entry, validated by the real config schema, with overrides. */
export function configFor(emu: GoogleEmulator, overrides: Record<string, unknown> = {}): GoogleConfig {
  const parsed = parseConnectorConfig(
    { ...emu.connector, requestsPerMinute: 0, maxBackoff: '50ms', ...overrides },
    googleConnector as never,
  );
  return parsed as unknown as GoogleConfig;
}

export function context(
  extra: Partial<ConnectorContext> = {},
): ConnectorContext & { seen: SourceProgress[] } {
  const seen: SourceProgress[] = [];
  return {
    logger: silent,
    signal: new AbortController().signal,
    progress: (p) => seen.push(p),
    seen,
    ...extra,
  };
}

export interface Snapshot {
  users: Map<
    string,
    { username: string; active: boolean | null; email: string | null; displayName: string | null }
  >;
  groups: Map<string, string>;
  edges: Set<string>;
  problems: SnapshotItem[];
  items: SnapshotItem[];
}

export async function collect(source: Source): Promise<Snapshot> {
  const snap: Snapshot = { users: new Map(), groups: new Map(), edges: new Set(), problems: [], items: [] };
  for await (const item of source.read()) {
    snap.items.push(item);
    if (item.kind === 'user') {
      snap.users.set(item.externalId, {
        username: item.username,
        active: item.active,
        email: item.email,
        displayName: item.displayName,
      });
    } else if (item.kind === 'group') snap.groups.set(item.externalId, item.name);
    else if (item.kind === 'edge') snap.edges.add(`${item.groupId}>${item.memberType}:${item.memberId}`);
    else snap.problems.push(item);
  }
  return snap;
}

export async function readWith(
  emu: GoogleEmulator,
  overrides: Record<string, unknown> = {},
  ctx = context(),
) {
  const source = await googleConnector.open(configFor(emu, overrides), ctx);
  try {
    const snap = await collect(source);
    return { snap, stats: source.stats(), ctx };
  } finally {
    await source.close();
  }
}

/** What a full read must return, computed from the emulator's live org. */
export function truth(emu: GoogleEmulator): Omit<Snapshot, 'problems' | 'items'> {
  const { org, directory } = emu;
  const users = new Map(
    org.users.map((u) => [
      u.id,
      {
        username: directory.primaryEmail(u),
        active: u.status === 'active',
        email: directory.primaryEmail(u),
        displayName: u.displayName,
      },
    ]),
  );
  const groups = new Map(org.groups.map((g) => [g.id, g.name]));
  const edges = new Set<string>();
  for (const [gid, set] of org.members) {
    if (!groups.has(gid)) continue;
    for (const uid of set) if (users.has(uid)) edges.add(`${gid}>user:${uid}`);
  }
  for (const g of org.groups) {
    for (const c of directory.childGroups(g.id)) edges.add(`${g.id}>group:${c}`);
  }
  return { users, groups, edges };
}
