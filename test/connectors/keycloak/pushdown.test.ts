/**
 * Filter push-down: what the connector asks Keycloak for when the pipeline will filter anyway.
 * The snapshot must keep everything the pipeline's filter keeps (a superset), and for these cases
 * exactly that, while sending far fewer requests than a full read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Org } from '../../../connectors/emulator-kit/org.js';
import { startEmulator, type KeycloakEmulator } from '../../../connectors/keycloak/emulator/index.js';
import { compileSelectors } from '../../../connectors/keycloak/read.js';
import type { GroupFilterHint, GroupSelector } from '../../../connectors/types.js';
import { configFor, readAll, snapshotSets, type Sets } from './helpers.js';

/** The pipeline's group filter over the org: selected groups and their subtrees, minus excluded subtrees. */
function filteredTruth(org: Org, filter: GroupFilterHint): Sets {
  const inc = compileSelectors(filter.include);
  const exc = compileSelectors(filter.exclude);
  const kids = new Map<string | null, string[]>();
  for (const g of org.groups) kids.set(g.parentId, [...(kids.get(g.parentId) ?? []), g.id]);
  const closure = (seed: (g: Org['groups'][number]) => boolean) => {
    const out = new Set(org.groups.filter(seed).map((g) => g.id));
    const stack = [...out];
    while (stack.length > 0) {
      for (const c of kids.get(stack.pop() as string) ?? []) {
        if (!out.has(c)) {
          out.add(c);
          stack.push(c);
        }
      }
    }
    return out;
  };
  const included = closure((g) => inc === null || inc(g as never));
  const excluded = exc === null ? new Set<string>() : closure((g) => exc(g as never));
  const final = new Set([...included].filter((id) => !excluded.has(id)));
  const groups = new Set(org.groups.filter((g) => final.has(g.id)).map((g) => `${g.id}|${g.name}`));
  const edges = new Set<string>();
  const memberIds = new Set<string>();
  for (const g of org.groups) {
    if (!final.has(g.id)) continue;
    for (const u of org.members.get(g.id) ?? []) {
      edges.add(`${g.id}>u:${u}`);
      memberIds.add(u);
    }
    if (g.parentId && final.has(g.parentId)) edges.add(`${g.parentId}>g:${g.id}`);
  }
  const userPool = filter.include.length > 0 ? org.users.filter((u) => memberIds.has(u.id)) : org.users;
  const users = new Set(userPool.map((u) => `${u.id}|${u.login.toLowerCase()}|${u.status === 'active'}`));
  return { users, groups, edges };
}

describe('keycloak connector: filter push-down', () => {
  let emu: KeycloakEmulator;
  let fullRequests: number;
  beforeAll(async () => {
    emu = await startEmulator({ users: 400, groups: 60, membersPerGroup: 10, nestingDepth: 3, seed: 11 });
    fullRequests = (await readAll(configFor(emu, { pageSize: 50 }))).stats.requests;
  });
  afterAll(() => emu.close());

  const read = (groupFilter: GroupFilterHint) => readAll(configFor(emu, { pageSize: 50 }), { groupFilter });

  it('activeUsersOnly asks for enabled users only and leaves out the service account Keycloak then adds', async () => {
    const { items, stats } = await readAll(configFor(emu, { pageSize: 50 }), { activeUsersOnly: true });
    const got = snapshotSets(items);
    const active = emu.org.users.filter((u) => u.status === 'active');
    expect(active.length).toBeLessThan(emu.org.users.length);
    expect(got.users).toEqual(new Set(active.map((u) => `${u.id}|${u.login.toLowerCase()}|true`)));
    expect([...got.users].some((u) => u.includes('service-account-'))).toBe(false);
    expect(stats.skipped).toBe(1);
  });

  /** A group with a subtree, so the include has subgroups to follow. */
  const parentName = () => {
    const child = emu.org.groups.find((g) => g.parentId !== null)!;
    return emu.org.groups.find((g) => g.id === child.parentId)!.name;
  };

  const cases: Array<[string, () => GroupFilterHint]> = [
    [
      'an exact name (found with search, subtree walked)',
      () => ({ include: [{ name: parentName() }], exclude: [] }),
    ],
    ['a name in other case', () => ({ include: [{ name: parentName().toUpperCase() }], exclude: [] })],
    ['a glob with a literal prefix', () => ({ include: [{ glob: 'sales-*' }], exclude: [] })],
    ['an id', () => ({ include: [{ id: emu.org.groups[3]!.id }], exclude: [] })],
    [
      'several selectors, one nested in another',
      () => {
        const child = emu.org.groups.find((g) => g.parentId !== null)!;
        const parent = emu.org.groups.find((g) => g.id === child.parentId)!;
        return { include: [{ id: child.id }, { name: parent.name }] as GroupSelector[], exclude: [] };
      },
    ],
  ];

  for (const [label, filter] of cases) {
    it(`an include of ${label} reads exactly those subtrees and their members`, async () => {
      const f = filter();
      const { items, stats } = await read(f);
      const got = snapshotSets(items);
      const want = filteredTruth(emu.org, f);
      expect(want.groups.size).toBeGreaterThan(0);
      expect(got.problems).toEqual([]);
      expect(got.groups).toEqual(want.groups);
      expect(got.edges).toEqual(want.edges);
      expect(got.users).toEqual(want.users);
      expect(items.filter((i) => i.kind === 'user')).toHaveLength(want.users.size);
      // The point of push-down: the rest of the realm is not downloaded.
      expect(stats.requests).toBeLessThan(fullRequests / 2);
    });
  }

  it('a glob starting with a wildcard walks the whole tree but fetches members of matches only', async () => {
    const f: GroupFilterHint = { include: [{ glob: '*-emea*' }], exclude: [] };
    const { items, stats } = await read(f);
    const got = snapshotSets(items);
    const want = filteredTruth(emu.org, f);
    expect(want.groups.size).toBeGreaterThan(0);
    expect(got.groups).toEqual(want.groups);
    expect(got.edges).toEqual(want.edges);
    expect(got.users).toEqual(want.users);
    expect(stats.requests).toBeLessThan(fullRequests);
  });

  it('an exclude skips the excluded subtree and keeps everyone else', async () => {
    const f: GroupFilterHint = { include: [], exclude: [{ name: parentName() }] };
    const { items } = await read(f);
    const got = snapshotSets(items);
    const want = filteredTruth(emu.org, f);
    expect(want.groups.size).toBeLessThan(emu.org.groups.length);
    expect(got.groups).toEqual(want.groups);
    expect(got.edges).toEqual(want.edges);
    expect(got.users).toEqual(want.users);
  });

  it('an include of a group id that does not exist reads nothing and does not fail', async () => {
    const { items } = await read({ include: [{ id: '00000000-dead-4000-8000-000000000000' }], exclude: [] });
    expect(items).toEqual([]);
  });
});
