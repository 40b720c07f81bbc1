import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { directory, fileSource, sync, users } from '../helpers/snapshot.js';
import { globToRegex } from '../../src/pipeline/filter.js';

const db = useTestDatabase();
let n = 0;
let name: string;
beforeEach(() => {
  name = `f${++n}`;
});

const org = {
  users: [
    ...users(6),
    { id: 'x', username: 'contractor', active: false, attributes: { department: 'Ext', level: 3 } },
  ],
  groups: [
    { id: 'eng', name: 'Engineering', members: ['u0'], groups: ['sre', 'web'] },
    { id: 'sre', name: 'eng-sre', members: ['u1'], groups: ['oncall'] },
    { id: 'oncall', name: 'oncall', members: ['u2'] },
    { id: 'web', name: 'eng-web', members: ['u3'] },
    { id: 'sales', name: 'Sales', members: ['u4', 'x'] },
    { id: 'misc', name: 'misc', members: ['u5'] },
  ],
};

describe('group filters', () => {
  it('include by name syncs the group, its subgroups at every depth, and only their members', async () => {
    const src = fileSource({ filters: { groups: { include: ['engineering'] } } }, name);
    src.write(org);
    await sync(db().pool, src.config);
    const state = await directory(db().pool, name);
    expect(state.groups.map((g) => g.split(':')[0])).toEqual(['eng', 'oncall', 'sre', 'web']);
    expect(state.users.map((u) => u.split(':')[0])).toEqual(['u0', 'u1', 'u2', 'u3']);
    expect(state.nesting).toEqual(['eng>sre', 'eng>web', 'sre>oncall']);
  });

  it('exclude removes a subtree; glob and id selectors work', async () => {
    const src = fileSource(
      { filters: { groups: { include: ['eng-*', { id: 'sales' }], exclude: [{ name: 'eng-sre' }] } } },
      name,
    );
    src.write(org);
    await sync(db().pool, src.config);
    const state = await directory(db().pool, name);
    expect(state.groups.map((g) => g.split(':')[0])).toEqual(['sales', 'web']);
    expect(state.users.map((u) => u.split(':')[0])).toEqual(['u3', 'u4', 'x']);
  });

  it('a user leaving the included groups is treated as gone from the directory', async () => {
    const src = fileSource(
      { filters: { groups: { include: ['sales'] } }, guard: { minRemovals: 100 } },
      name,
    );
    src.write(org);
    await sync(db().pool, src.config);
    src.write({ ...org, groups: org.groups.map((g) => (g.id === 'sales' ? { ...g, members: ['u4'] } : g)) });
    const s = await sync(db().pool, src.config);
    expect(s.counts.users.deactivate).toBe(1);
    expect((await directory(db().pool, name)).users).toEqual(['u4:user4:true', 'x:contractor:false']);
  });
});

describe('user filters', () => {
  it('activeOnly and attribute predicates', async () => {
    const src = fileSource({ filters: { users: { activeOnly: true } } }, name);
    src.write(org);
    const s = await sync(db().pool, src.config);
    expect(s.snapshot.filtered_users).toBe(1);
    expect((await directory(db().pool, name)).users).not.toContain('x:contractor:false');
    // The group edge to the filtered user is dropped silently (not reported as unknown).
    expect(s.snapshot.problems).toBe(0);

    const byAttr = fileSource(
      {
        filters: {
          users: {
            where: [
              { field: 'attributes.department', equals: 'Ext' },
              { field: 'username', matches: '^con' },
            ],
          },
        },
      },
      `${name}-attr`,
    );
    byAttr.write(org);
    await sync(db().pool, byAttr.config);
    expect((await directory(db().pool, `${name}-attr`)).users).toEqual(['x:contractor:false']);

    const negated = fileSource(
      { filters: { users: { where: [{ field: 'attributes.department', exists: true, not: true }] } } },
      `${name}-neg`,
    );
    negated.write(org);
    await sync(db().pool, negated.config);
    expect((await directory(db().pool, `${name}-neg`)).users).toHaveLength(6);
  });
});

describe('globToRegex', () => {
  it('escapes regex characters and anchors the pattern', () => {
    expect(globToRegex('eng-*')).toBe('^eng-.*$');
    expect(globToRegex('a.b?(c)')).toBe('^a\\.b.\\(c\\)$');
  });
});
