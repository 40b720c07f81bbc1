import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphId, type GraphEmulator } from '../../../connectors/graph/emulator/index.js';
import { configFor, emulator, readAll, sorted } from './helpers.js';

describe('graph connector against the emulator: full read', () => {
  let emu: GraphEmulator;
  beforeAll(async () => {
    emu = await emulator({ users: 120, groups: 15, membersPerGroup: 12, nestingDepth: 3 });
  });
  afterAll(() => emu.close());

  it('reads exactly the tenant: users, groups, direct user and group edges', async () => {
    const got = await readAll(configFor(emu, { pageSize: 25, batchSize: 4 }));
    const truth = emu.truth();
    expect(sorted(got.users.keys())).toEqual(sorted(truth.users.keys()));
    for (const [id, u] of truth.users) {
      expect(got.users.get(id)).toEqual({
        username: u.username,
        active: u.active,
        email: u.email,
        displayName: u.displayName,
      });
    }
    expect([...got.groups]).toEqual(expect.arrayContaining([...truth.groups]));
    expect(got.groups.size).toBe(truth.groups.size);
    expect(sorted(got.edges)).toEqual(sorted(truth.edges));
    expect(got.problems).toEqual([]);
    expect(got.stats.skipped).toBeGreaterThan(0);
  });
});

describe('graph connector: records, push-down and nesting', () => {
  let emu: GraphEmulator;
  beforeAll(async () => {
    emu = await emulator({ users: 150, groups: 40, membersPerGroup: 10, nestingDepth: 4 });
  });
  afterAll(() => emu.close());

  it('maps users and groups with Graph fields: UPN as username, accountEnabled as active, extras in attributes', async () => {
    const got = await readAll(configFor(emu));
    const u = emu.org.users.find((x) => x.status === 'suspended');
    if (!u) throw new Error('the org has no suspended user');
    const item = got.items.find((i) => i.kind === 'user' && i.externalId === graphId(u.id));
    expect(item).toMatchObject({
      kind: 'user',
      username: `${u.login}@${emu.org.domain}`,
      active: false,
      givenName: u.givenName,
      familyName: u.familyName,
      attributes: { department: u.department, jobTitle: u.title, userType: 'Member' },
    });
    // Deprovisioned users are soft-deleted in Entra ID: not listed, not members.
    const gone = emu.org.users.find((x) => x.status === 'deprovisioned');
    if (gone) expect(got.users.has(graphId(gone.id))).toBe(false);
    const withDescription = emu.org.groups.find((g) => g.description !== '');
    expect(got.groups.get(graphId(withDescription?.id ?? ''))).toEqual({
      name: withDescription?.name,
      description: withDescription?.description,
    });
  });

  it('reports malformed records as SourceProblems and keeps reading', async () => {
    const [a, b] = emu.org.users.filter((u) => u.status === 'active');
    const g = emu.org.groups[3];
    if (!a || !b || !g) throw new Error('org too small');
    emu.setOverride(a.id, { userPrincipalName: null });
    emu.setOverride(b.id, { accountEnabled: 'yes' });
    emu.setOverride(g.id, { displayName: 42 });
    try {
      const got = await readAll(configFor(emu));
      expect(got.problems.map((p) => [p.objectType, p.externalId]).sort()).toEqual(
        [
          ['group', graphId(g.id)],
          ['user', graphId(a.id)],
          ['user', graphId(b.id)],
        ].sort(),
      );
      expect(got.users.size).toBe(emu.truth().users.size - 2);
    } finally {
      emu.setOverride(a.id, null);
      emu.setOverride(b.id, null);
      emu.setOverride(g.id, null);
    }
  });

  it('reads a DAG and a nesting cycle once per group, and finishes', async () => {
    const [p, q, r] = emu.org.groups;
    if (!p || !q || !r) throw new Error('org too small');
    // q in p, r in q, p in r: a cycle; q is also in r (two parents).
    const treeParents = [p, q, r].map((g) => g.parentId);
    const pairs = [
      [p, q],
      [q, r],
      [r, p],
      [r, q],
    ] as const;
    for (const [parent, child] of pairs) emu.store.nest(parent.id, child.id);
    try {
      const got = await readAll(configFor(emu, { batchSize: 3 }));
      expect(sorted(got.edges)).toEqual(sorted(emu.truth().edges));
      for (const [parent, child] of pairs) {
        expect(got.edges.has(`${graphId(parent.id)}|group|${graphId(child.id)}`)).toBe(true);
      }
    } finally {
      // Through the store, so the change log sees the tenant go back to its tree.
      for (const [parent, child] of pairs) emu.store.unnest(parent.id, child.id);
      [p, q, r].forEach((g, i) => {
        const parentId = treeParents[i] ?? null;
        if (g.parentId !== parentId) emu.store.apply({ op: 'setParent', id: g.id, parentId });
      });
    }
  });

  it('does not push activeUsersOnly down: Graph would not match a null accountEnabled, and the user would be lost', async () => {
    const got = await readAll(configFor(emu), { activeUsersOnly: true });
    const all = [...emu.truth().users.keys()];
    expect(all.some((id) => !emu.truth().users.get(id)!.active)).toBe(true);
    // Disabled users too: the pipeline's filter leaves them out, and keeps users of unknown state.
    expect(sorted(got.users.keys())).toEqual(sorted(all));
  });

  it('pushes an include filter down and still reads every subgroup of the included groups', async () => {
    const parent = emu.org.groups.find((g) => emu.org.groups.some((c) => c.parentId === g.id));
    if (!parent) throw new Error('no nested groups');
    // Units Graph would charge: top-level requests plus each request inside a $batch.
    const units = () => {
      const c = emu.counters();
      return (c.graphRequests ?? 0) - (c.batchRequests ?? 0) + (c.innerRequests ?? 0);
    };
    let start = units();
    const all = await readAll(configFor(emu));
    const allUnits = units() - start;
    start = units();
    const got = await readAll(configFor(emu), {
      groupFilter: { include: [{ name: parent.name }, { glob: 'zzz-none*' }], exclude: [] },
    });
    // Descendants of the included group, through the tree.
    const want = new Set([parent.id]);
    for (let grew = true; grew;) {
      grew = false;
      for (const g of emu.org.groups)
        if (g.parentId && want.has(g.parentId) && !want.has(g.id)) grew = want.add(g.id) !== null;
    }
    expect(sorted(got.groups.keys())).toEqual(sorted([...want].map(graphId)));
    expect(units() - start).toBeLessThan(allUnits);
    for (const e of got.edges) expect(all.edges.has(e)).toBe(true);
  });

  it('reports progress for users, groups and members', async () => {
    const got = await readAll(configFor(emu, { pageSize: 50 }));
    const phases = new Set(got.progress.map((p) => p.phase));
    expect([...phases].sort()).toEqual(['groups', 'members', 'users']);
    const last = got.progress.filter((p) => p.phase === 'members').at(-1);
    expect(last).toEqual({ phase: 'members', done: emu.org.groups.length, total: emu.org.groups.length });
  });

  it('stops promptly with DIRSYNC_E_RUN_CANCELLED when the run is aborted', async () => {
    emu.setLatency(200);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    try {
      await expect(readAll(configFor(emu), { signal: ac.signal })).rejects.toMatchObject({
        code: 'DIRSYNC_E_RUN_CANCELLED',
      });
    } finally {
      emu.setLatency(0);
    }
  });
});
