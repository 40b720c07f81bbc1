import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { directory, fileSource, problems, sync, users } from '../helpers/snapshot.js';

const db = useTestDatabase();
let n = 0;
let name: string;
beforeEach(() => {
  name = `h${++n}`;
});

describe('bad input is reported and held, never deleted', () => {
  it('a malformed record of an existing user keeps the user exactly as it was', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(3), groups: [{ id: 'g', name: 'g', members: ['u0', 'u1', 'u2'] }] });
    await sync(db().pool, src.config);
    const before = await directory(db().pool, name);

    const u = users(3);
    u[1] = { id: 'u1', username: 42, active: 'yes' }; // wrong types
    src.write({ users: u, groups: [{ id: 'g', name: 'g', members: ['u0', 'u2'] }] });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('succeeded');
    expect(s.counts.users).toMatchObject({ deactivate: 0, delete: 0, update: 0 });
    expect(s.counts.memberships.remove).toBe(0); // the held user's membership stays too
    expect(await directory(db().pool, name)).toEqual(before);
    const p = await problems(db().pool, s.runId);
    expect(p).toEqual([
      {
        object_type: 'user',
        external_id: 'u1',
        reason: 'username must be a string, got number; active must be true, false or null (unknown)',
        action: 'held',
      },
    ]);
  });

  it('a held member that is later fixed and removed from its group loses the membership', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(3), groups: [{ id: 'g', name: 'g', members: ['u0', 'u1', 'u2'] }] });
    await sync(db().pool, src.config);
    const u = users(3);
    u[1] = { id: 'u1', username: null };
    src.write({ users: u, groups: [{ id: 'g', name: 'g', members: ['u0', 'u2'] }] });
    const held = await sync(db().pool, src.config);
    expect(held.counts.memberships).toEqual({ add: 0, remove: 0 });
    expect((await directory(db().pool, name)).memberships).toEqual(['g>u0', 'g>u1', 'g>u2']);
    // Fixed, and still not in the group: now the membership goes.
    src.write({ users: users(3), groups: [{ id: 'g', name: 'g', members: ['u0', 'u2'] }] });
    const fixed = await sync(db().pool, src.config);
    expect(fixed.counts.memberships).toEqual({ add: 0, remove: 1 });
    expect((await directory(db().pool, name)).memberships).toEqual(['g>u0', 'g>u2']);
  });

  it('duplicate ids hold both records; a new duplicate is skipped', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(2) });
    await sync(db().pool, src.config);
    src.write({
      users: [
        ...users(2),
        { id: 'u1', username: 'impostor' },
        { id: 'n', username: 'x' },
        { id: 'n', username: 'y' },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect((await directory(db().pool, name)).users).toEqual(['u0:user0:true', 'u1:user1:true']);
    const p = await problems(db().pool, s.runId);
    expect(p.map((x) => `${x.external_id} ${x.action} ${x.reason}`)).toEqual([
      'n skipped duplicate id: the snapshot has 2 records with this id',
      'u1 held duplicate id: the snapshot has 2 records with this id',
    ]);
  });

  it('records without an id are reported; nothing else changes', async () => {
    const src = fileSource({}, name);
    src.write({ users: [...users(2), { username: 'ghost' } as never], groups: [{ name: 'no id' } as never] });
    const s = await sync(db().pool, src.config);
    expect(s.counts.users.create).toBe(2);
    // Filed under their own object types, not as memberships (and not counted as skipped edges).
    expect(
      (await problems(db().pool, s.runId)).map((p) => `${p.object_type} ${p.action} ${p.reason}`).sort(),
    ).toEqual(['group skipped group has no id', 'user skipped user has no id']);
    expect(s.snapshot.skipped_edges).toBe(0);
  });

  it('memberships to unknown ids are skipped and reported', async () => {
    const src = fileSource({}, name);
    src.write({
      users: users(2),
      groups: [{ id: 'g', name: 'g', members: ['u0', 'nobody'], groups: ['nogroup'] }],
    });
    const s = await sync(db().pool, src.config);
    expect((await directory(db().pool, name)).memberships).toEqual(['g>u0']);
    expect((await problems(db().pool, s.runId)).map((p) => `${p.action} ${p.reason}`).sort()).toEqual([
      'skipped membership of unknown group nogroup',
      'skipped membership of unknown user nobody',
    ]);
  });

  it('usernames equal after case folding or Unicode normalization are held, the incumbent keeps its name', async () => {
    const src = fileSource({}, name);
    src.write({
      users: [
        { id: 'a', username: 'jose' },
        { id: 'b', username: 'ﬁona' },
      ],
    });
    await sync(db().pool, src.config);
    src.write({
      users: [
        { id: 'a', username: 'jose' },
        { id: 'b', username: 'ﬁona' },
        { id: 'c', username: 'JOSE' }, // case twin of an existing user
        { id: 'd', username: 'fiona' }, // NFKC twin of the ligature
        { id: 'e', username: 'zoë' }, // composed
        { id: 'f', username: 'zoë' }, // decomposed: the same name to a person
      ],
    });
    const s = await sync(db().pool, src.config);
    expect((await directory(db().pool, name)).users).toEqual(['a:jose:true', 'b:ﬁona:true']);
    const p = await problems(db().pool, s.runId);
    expect(p.map((x) => `${x.external_id} ${x.action}`)).toEqual([
      'c skipped',
      'd skipped',
      'e skipped',
      'f skipped',
    ]);
    expect(p[0]?.reason).toContain('is claimed by a, c');
  });

  it('a held existing user keeps its old name, which a newcomer then cannot take', async () => {
    const src = fileSource({}, name);
    src.write({
      users: [
        { id: 'a', username: 'anna' },
        { id: 'b', username: 'bert' },
      ],
    });
    await sync(db().pool, src.config);
    // a renames to "bert" (taken by b, the incumbent) so a is held as "anna"; c claims "anna".
    src.write({
      users: [
        { id: 'a', username: 'bert' },
        { id: 'b', username: 'bert' },
        { id: 'c', username: 'anna' },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect((await directory(db().pool, name)).users).toEqual(['a:anna:true', 'b:bert:true']);
    expect((await problems(db().pool, s.runId)).map((x) => `${x.external_id} ${x.action}`)).toEqual([
      'a held',
      'c skipped',
    ]);
  });

  it('two users can swap usernames in one run', async () => {
    const src = fileSource({}, name);
    src.write({
      users: [
        { id: 'a', username: 'anna' },
        { id: 'b', username: 'bert' },
      ],
    });
    await sync(db().pool, src.config);
    src.write({
      users: [
        { id: 'a', username: 'bert' },
        { id: 'b', username: 'anna' },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect(s.counts.users.update).toBe(2);
    expect((await directory(db().pool, name)).users).toEqual(['a:bert:true', 'b:anna:true']);
  });

  it('nesting cycles are reported and held, and effective membership still terminates', async () => {
    const src = fileSource({}, name);
    src.write({
      users: users(2),
      groups: [
        { id: 'a', name: 'a', members: ['u0'], groups: ['b'] },
        { id: 'b', name: 'b', members: ['u1'] },
      ],
    });
    await sync(db().pool, src.config);
    // Now b contains a (a cycle a→b→a) and c contains itself.
    src.write({
      users: users(2),
      groups: [
        { id: 'a', name: 'a', members: ['u0'], groups: ['b'] },
        { id: 'b', name: 'b', members: ['u1'], groups: ['a'] },
        { id: 'c', name: 'c', members: ['u0'], groups: ['c'] },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('succeeded');
    const state = await directory(db().pool, name);
    // The existing edge a>b is kept; the edges that would close cycles are not added.
    expect(state.nesting).toEqual(['a>b']);
    expect(state.memberships).toEqual(['a>u0', 'b>u1', 'c>u0']);
    const p = await problems(db().pool, s.runId);
    expect(
      p
        .filter((x) => x.reason.includes('cycle'))
        .map((x) => x.external_id)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
    const { rows } = await db().pool.query(
      `SELECT count(*)::int AS n FROM dirsync.effective_group_members WHERE connector = $1`,
      [name],
    );
    expect(rows[0].n).toBe(4); // a: u0, u1 · b: u1 · c: u0
  });

  it('a transform that yields an empty username holds the user', async () => {
    const src = fileSource({ transform: { username: '{{ email | strip_domain }}' } }, name);
    src.write({
      users: [
        { id: 'a', username: 'a', email: 'a@x' },
        { id: 'b', username: 'b', email: null },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect((await directory(db().pool, name)).users).toEqual(['a:a:true']);
    expect(await problems(db().pool, s.runId)).toEqual([
      {
        object_type: 'user',
        external_id: 'b',
        reason: 'the username transform produced an empty username',
        action: 'skipped',
      },
    ]);
  });
});
