/** Shared by the Okta tests: start an emulator, read it with the real connector, compute the truth. */
import pino from 'pino';
import type { Org } from '../../../connectors/emulator-kit/org.js';
import {
  EVERYONE_ID,
  oktaEmail,
  oktaGroupType,
  oktaLogin,
  oktaStatus,
  startEmulator,
  type OktaEmulator,
  type OktaEmulatorOptions,
} from '../../../connectors/okta/emulator/index.js';
import { oktaConfigSchema, oktaConnector, type OktaConfig } from '../../../connectors/okta/index.js';
import type { ConnectorContext, SnapshotItem, SourceStats } from '../../../connectors/types.js';

export async function emulator(opts: Partial<OktaEmulatorOptions> = {}): Promise<OktaEmulator> {
  const emu = await startEmulator({
    users: 60,
    groups: 12,
    membersPerGroup: 8,
    nestingDepth: 2,
    seed: 7,
    ...opts,
  });
  Object.assign(process.env, emu.env);
  return emu;
}

/** A config for the emulator, with fast retries so fault tests stay quick. */
export function configFor(emu: OktaEmulator, extra: Record<string, unknown> = {}): OktaConfig {
  // Several emulators share the env names: point them at this one (secrets resolve at open()).
  Object.assign(process.env, emu.env);
  return oktaConfigSchema.parse({
    ...emu.connector,
    retry: { maxRetries: 4, baseDelayMs: 5, maxDelayMs: 3000 },
    requestTimeoutMs: 2000,
    ...extra,
  });
}

export interface Snapshot {
  items: SnapshotItem[];
  stats: SourceStats;
}

export async function readAll(config: OktaConfig, ctx: Partial<ConnectorContext> = {}): Promise<Snapshot> {
  const source = await oktaConnector.open(config, {
    logger: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    progress: () => {},
    ...ctx,
  });
  const items: SnapshotItem[] = [];
  try {
    for await (const item of source.read()) items.push(item);
  } finally {
    await source.close();
  }
  return { items, stats: source.stats() };
}

/** Reads until it throws; returns the error and what was read before. */
export async function readFailing(config: OktaConfig, ctx: Partial<ConnectorContext> = {}) {
  const items: SnapshotItem[] = [];
  const source = await oktaConnector.open(config, {
    logger: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    progress: () => {},
    ...ctx,
  });
  try {
    for await (const item of source.read()) items.push(item);
  } catch (e) {
    return { error: e, items, stats: source.stats() };
  } finally {
    await source.close();
  }
  throw new Error(`read did not fail (${items.length} items)`);
}

/** Sets as sorted string arrays, so failures print readable diffs. */
export function snapshotSets(items: SnapshotItem[]) {
  const users: string[] = [];
  const groups: string[] = [];
  const edges: string[] = [];
  for (const i of items) {
    if (i.kind === 'user') users.push(`${i.externalId}|${i.username}|${i.email}|${i.active}`);
    else if (i.kind === 'group') groups.push(`${i.externalId}|${i.name}`);
    else if (i.kind === 'edge') edges.push(`${i.groupId}|${i.memberType}|${i.memberId}`);
  }
  return { users: users.sort(), groups: groups.sort(), edges: edges.sort() };
}

export interface TruthOptions {
  statuses?: ReadonlySet<string>;
  groupTypes?: readonly string[];
}

/** What a complete read of the org must return, as the same sets. */
export function truth(org: Org, opts: TruthOptions = {}) {
  const types = new Set(opts.groupTypes ?? ['OKTA_GROUP', 'APP_GROUP']);
  const users = org.users.filter((u) => !opts.statuses || opts.statuses.has(oktaStatus(u)));
  const ids = new Set(users.map((u) => u.id));
  const groups = org.groups.filter((g) => types.has(oktaGroupType(g)));
  const edges: string[] = [];
  for (const g of groups)
    for (const m of org.members.get(g.id) ?? []) if (ids.has(m)) edges.push(`${g.id}|user|${m}`);
  const groupRows = groups.map((g) => `${g.id}|${g.name}`);
  if (types.has('BUILT_IN')) {
    groupRows.push(`${EVERYONE_ID}|Everyone`);
    for (const u of users) edges.push(`${EVERYONE_ID}|user|${u.id}`);
  }
  return {
    users: users
      .map((u) => `${u.id}|${oktaLogin(org, u)}|${oktaEmail(org, u)}|${u.status === 'active'}`)
      .sort(),
    groups: groupRows.sort(),
    edges: edges.sort(),
  };
}
