import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { directory, fileSource, problems, sync, users } from '../helpers/snapshot.js';

const db = useTestDatabase();
let n = 0;
let name: string;
beforeEach(() => {
  name = `m${++n}`;
});

describe('a record that cannot be read makes its object type incomplete', () => {
  it('a group without an id does not delete the existing group; the run is held and says why', async () => {
    const src = fileSource({}, name);
    const groups = [
      { id: 'g1', name: 'eng', members: ['u0', 'u1'] },
      { id: 'g2', name: 'ops', members: ['u2'] },
    ];
    src.write({ users: users(3), groups });
    await sync(db().pool, src.config);
    const before = await directory(db().pool, name);

    // g2 comes back without its id: it cannot be told apart from a deleted group.
    src.write({ users: users(3), groups: [groups[0]!, { name: 'ops', members: ['u2'] } as never] });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard).toHaveLength(1);
    expect(s.guard?.[0]).toMatchObject({ kind: 'groups', removals: 1 });
    expect(s.guard?.[0]?.rule).toContain(
      '1 group record(s) that could not be read (e.g. (no id): group has no id)',
    );
    expect(await directory(db().pool, name)).toEqual(before);
    expect(await problems(db().pool, s.runId)).toEqual([
      { object_type: 'group', external_id: null, reason: 'group has no id', action: 'skipped' },
    ]);
  });

  it('a user without an id does not deactivate that user', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(3) });
    await sync(db().pool, src.config);
    const before = await directory(db().pool, name);
    const u = users(3);
    src.write({ users: [u[0]!, u[1]!, { ...u[2]!, id: undefined } as never] });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard?.map((g) => g.kind)).toEqual(['users']);
    expect(s.guard?.[0]?.rule).toContain('no user is removed without approval');
    expect(await directory(db().pool, name)).toEqual(before);
  });

  it('a numeric id is never coerced to text', async () => {
    const src = fileSource({}, name);
    src.write({
      users: [
        { id: '123', username: 'alice' },
        { id: 'b', username: 'bob' },
      ],
    });
    await sync(db().pool, src.config);
    const before = await directory(db().pool, name);
    // The same person with a number for an id, and a newcomer whose id is a number too.
    src.write({
      users: [
        { id: 123, username: 'alice' } as never,
        { id: 'b', username: 'bob' },
        { id: 7, username: 'carl' } as never,
      ],
    });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(await directory(db().pool, name)).toEqual(before);
    expect(
      (await problems(db().pool, s.runId)).map((p) => `${p.object_type} ${p.external_id} ${p.reason}`),
    ).toEqual([
      'user null user has an id that is not a string (number 123)',
      'user null user has an id that is not a string (number 7)',
    ]);
  });

  it('a wrongly typed field holds the user and makes removals of other users need approval', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(5) });
    await sync(db().pool, src.config);
    const before = await directory(db().pool, name);
    const u = users(5);
    u[0] = { ...u[0]!, active: 'false' };
    src.write({ users: u.slice(0, 4) }); // u4 is gone; u0 is malformed
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard?.[0]?.rule).toContain('u0: active must be true, false or null (unknown)');
    expect(await directory(db().pool, name)).toEqual(before);
  });

  it('without removals, unreadable records are reported and the rest applies', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(2) });
    await sync(db().pool, src.config);
    src.write({ users: [...users(3), { username: 'ghost' } as never] });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('succeeded');
    expect(s.counts.users.create).toBe(1);
  });

  it('a membership value that is not an id makes membership removals need approval', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(3), groups: [{ id: 'g', name: 'g', members: ['u0', 'u1', 'u2'] }] });
    await sync(db().pool, src.config);
    src.write({ users: users(3), groups: [{ id: 'g', name: 'g', members: ['u0', 'u1', 2] }] });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard?.map((g) => g.kind)).toEqual(['memberships']);
    expect((await directory(db().pool, name)).memberships).toEqual(['g>u0', 'g>u1', 'g>u2']);
    expect(await problems(db().pool, s.runId)).toEqual([
      {
        object_type: 'membership',
        external_id: 'g',
        reason: 'group g: members holds an id that is not a string (number 2)',
        action: 'skipped',
      },
    ]);
  });
});

describe('text Postgres cannot store, or damaged Unicode, holds only its record', () => {
  const bad: [string, string, string][] = [
    ['a NUL in a display name', 'Ann\u0000e', 'displayName holds a NUL character (U+0000)'],
    ['a lone surrogate', 'Ann\uD800e', 'displayName holds a lone UTF-16 surrogate'],
    ['invalid UTF-8 decoded to U+FFFD', 'Ann\uFFFDe', 'displayName holds U+FFFD'],
  ];
  for (const [what, displayName, reason] of bad) {
    it(`${what}: the user is held as it is, leavers still leave`, async () => {
      const src = fileSource({}, name);
      src.write({ users: users(4) });
      await sync(db().pool, src.config);
      const u = users(3); // u3 left
      u[1] = { ...u[1]!, displayName, username: 'renamed' };
      src.write({ users: u });
      const s = await sync(db().pool, src.config);
      expect(s.status).toBe('succeeded');
      expect(s.counts.users).toMatchObject({ deactivate: 1, update: 0 });
      expect((await directory(db().pool, name)).users).toEqual([
        'u0:user0:true',
        'u1:user1:true', // not renamed: held
        'u2:user2:true',
        'u3:user3:false',
      ]);
      const p = await problems(db().pool, s.runId);
      expect(p).toHaveLength(1);
      expect(p[0]).toMatchObject({ object_type: 'user', external_id: 'u1', action: 'held' });
      expect(p[0]?.reason).toContain(reason);
    });
  }

  it('a NUL in an attribute key or value, or in a group name, holds only that record', async () => {
    const src = fileSource({}, name);
    src.write({
      users: [
        { id: 'a', username: 'a', attributes: { dept: 'x\u0000y' } },
        { id: 'b', username: 'b', attributes: { 'k\u0000': 'v' } },
        { id: 'c', username: 'c' },
      ],
      groups: [
        { id: 'g', name: 'g\u0000', members: ['c'] },
        { id: 'h', name: 'h', members: ['c'] },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('succeeded');
    const state = await directory(db().pool, name);
    expect(state.users).toEqual(['c:c:true']);
    expect(state.groups).toEqual(['h:h']);
    expect(
      (await problems(db().pool, s.runId)).map((p) => `${p.object_type} ${p.external_id} ${p.action}`).sort(),
    ).toEqual(['group g skipped', 'user a skipped', 'user b skipped']);
  });

  it('a NUL in an id is reported as an unreadable record', async () => {
    const src = fileSource({}, name);
    src.write({
      users: [
        { id: 'a\u0000', username: 'a' },
        { id: 'b', username: 'b' },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('succeeded');
    expect((await directory(db().pool, name)).users).toEqual(['b:b:true']);
    const p = await problems(db().pool, s.runId);
    expect(p).toEqual([
      {
        object_type: 'user',
        external_id: null,
        reason: 'the id holds a NUL character (U+0000), which Postgres cannot store',
        action: 'skipped',
      },
    ]);
  });
});

describe('an active state the IdP does not say is never guessed', () => {
  it('an existing user keeps its state, a new one is held by default; both are reported', async () => {
    const src = fileSource({ filters: { users: { activeOnly: true } } }, name);
    const u = users(3);
    src.write({ users: [u[0]!, { ...u[1]!, active: false }] });
    await sync(db().pool, src.config);
    // Under activeOnly, u1 (inactive) is absent; now the IdP says nothing about u0 and u2.
    src.write({
      users: [
        { ...u[0]!, active: null, displayName: 'Renamed' },
        { ...u[1]!, active: false },
        { ...u[2]!, active: null },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('succeeded');
    expect(s.counts.users).toMatchObject({ create: 0, update: 1, deactivate: 0 });
    expect((await directory(db().pool, name)).users).toEqual(['u0:user0:true']);
    expect(
      (await problems(db().pool, s.runId)).map((p) => `${p.external_id} ${p.action} ${p.reason}`),
    ).toEqual([
      'u0 held the IdP does not say whether the account is enabled; its active state is kept as it is',
      'u2 skipped the IdP does not say whether the account is enabled; a new user is created once it does (or set filters.users.activeUnknown)',
    ]);
  });

  it('an inactive user stays inactive; activeUnknown creates new users as configured', async () => {
    const src = fileSource({ filters: { users: { activeUnknown: 'inactive' } } }, name);
    const u = users(2);
    src.write({ users: [{ ...u[0]!, active: false }] });
    await sync(db().pool, src.config);
    src.write({
      users: [
        { ...u[0]!, active: null },
        { ...u[1]!, active: null },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect(s.counts.users).toMatchObject({ create: 1, reactivate: 0 });
    expect((await directory(db().pool, name)).users).toEqual(['u0:user0:false', 'u1:user1:false']);
  });
});
