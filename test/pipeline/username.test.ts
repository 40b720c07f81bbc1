import { describe, expect, it } from 'vitest';
import { keySkeleton, usernameKey } from '../../src/pipeline/username.js';
import { useTestDatabase } from '../helpers/db.js';
import { directory, fileSource, problems, sync } from '../helpers/snapshot.js';

describe('usernameKey', () => {
  it.each([
    ['straße', 'strasse'],
    ['STRASSE', 'strasse'],
    ['ΟΔΥΣΣΕΥΣ', 'οδυσσευσ'],
    ['οδυσσευς', 'οδυσσευσ'], // final sigma
    ['bob ', 'bob'],
    ['\u00a0bob\u3000', 'bob'],
    ['bo\u200bb', 'bob'], // zero-width space
    ['b\u00adob', 'bob'], // soft hyphen
    ['bo\u2060b\ufe0f', 'bob'], // word joiner, variation selector
    ['ﬁona', 'fiona'],
    ['zoe\u0308', 'zoë'],
  ])('%j has the key %j', (name, key) => {
    expect(usernameKey(name)).toBe(key);
  });

  it('keeps names that differ to a person apart', () => {
    expect(usernameKey('ana')).not.toBe(usernameKey('anna'));
    expect(usernameKey('аdmin')).not.toBe(usernameKey('admin')); // Cyrillic а: a different letter
  });
});

describe('keySkeleton', () => {
  it('gives look-alike names the same skeleton', () => {
    expect(keySkeleton(usernameKey('аdmin'))).toBe(keySkeleton(usernameKey('admin')));
    expect(keySkeleton(usernameKey('ѕсоре'))).toBe(keySkeleton(usernameKey('scope'))); // all Cyrillic
    expect(keySkeleton('joe')).not.toBe(keySkeleton('jane'));
  });

  it('takes the same path for ASCII as the general one', () => {
    for (const s of ['admin', 'user1', 'mrn', 'a.b-c_d@e.f', 'O0Il1|']) {
      expect(keySkeleton(s)).toBe(
        // The general path, forced by a non-ASCII suffix that maps to itself.
        keySkeleton(`${s}é`).slice(0, -2),
      );
    }
  });
});

describe('username uniqueness in a sync', () => {
  const db = useTestDatabase();
  let n = 0;

  it('holds case-fold twins, invisible and white-space variants of existing names', async () => {
    const src = fileSource({}, `un${++n}`);
    src.write({
      users: [
        { id: 'a', username: 'straße' },
        { id: 'b', username: 'οδυσσευς' },
        { id: 'c', username: 'bob' },
      ],
    });
    await sync(db().pool, src.config);
    src.write({
      users: [
        { id: 'a', username: 'straße' },
        { id: 'b', username: 'οδυσσευς' },
        { id: 'c', username: 'bob' },
        { id: 'd', username: 'STRASSE' },
        { id: 'e', username: 'ΟΔΥΣΣΕΥΣ' },
        { id: 'f', username: 'bob ' },
        { id: 'g', username: 'b\u200bob' },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect(s.counts.users.create).toBe(0);
    const p = await problems(db().pool, s.runId);
    expect(p.map((x) => `${x.external_id} ${x.action}`)).toEqual([
      'd skipped',
      'e skipped',
      'f skipped',
      'g skipped',
    ]);
    expect(p[0]?.reason).toContain('is claimed by a, d');
  });

  it('holds a newcomer whose name is confusable with an existing user, and says with whom', async () => {
    const name = `un${++n}`;
    const src = fileSource({}, name);
    src.write({
      users: [
        { id: 'a', username: 'admin' },
        { id: 'b', username: 'user1' },
      ],
    });
    await sync(db().pool, src.config);
    src.write({
      users: [
        { id: 'a', username: 'admin' },
        { id: 'b', username: 'user1' },
        { id: 'c', username: 'аdmin' }, // Cyrillic а
        { id: 'd', username: 'userl' }, // ASCII look-alike: a naming choice, not held
      ],
    });
    const s = await sync(db().pool, src.config);
    expect((await directory(db().pool, name)).users).toEqual([
      'a:admin:true',
      'b:user1:true',
      'd:userl:true',
    ]);
    expect(await problems(db().pool, s.runId)).toEqual([
      {
        object_type: 'user',
        external_id: 'c',
        reason:
          'username "аdmin" is confusable with "admin" of a (the same Unicode TR39 skeleton: they look alike)',
        action: 'skipped',
      },
    ]);
  });

  it('existing users from before the key column are compared with the same key', async () => {
    const name = `un${++n}`;
    const src = fileSource({}, name);
    src.write({ users: [{ id: 'a', username: 'straße' }] });
    await sync(db().pool, src.config);
    // As a directory written before migration 0007 would be.
    await db().pool.query(
      `UPDATE dirsync.users SET username_key = NULL, username_skeleton = NULL WHERE connector = $1`,
      [name],
    );
    src.write({
      users: [
        { id: 'a', username: 'straße' },
        { id: 'b', username: 'Strasse' },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect(s.counts.users.create).toBe(0);
    expect((await problems(db().pool, s.runId)).map((p) => p.external_id)).toEqual(['b']);
  });
});
