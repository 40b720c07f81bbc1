/**
 * Every Crowd answer reads one state of the directory: a snapshot opened before a sync applies keeps
 * seeing the directory as it was, across all its queries, while a new one sees the applied run.
 */
import { describe, expect, it } from 'vitest';
import { membershipSql } from '../../../src/api/crowd/lists.js';
import { Snapshot } from '../../../src/api/crowd/store.js';
import { useTestDatabase } from '../../helpers/db.js';
import { fileSource, sync, users } from '../../helpers/snapshot.js';

const db = useTestDatabase('dirsync_crowd_consistency');

describe('Crowd snapshot', () => {
  it('sees the directory before an apply across all its reads, a new one after', async () => {
    const src = fileSource(
      { guard: { minRemovals: 100_000, groupMembers: { maxPercent: 100 } }, deletion: { deleteAfter: '0s' } },
      'hr',
    );
    const many = users(300);
    src.write({
      users: many,
      groups: Array.from({ length: 50 }, (_, i) => ({
        id: `g${i}`,
        name: `group-${i}`,
        members: many.slice(i, i + 100).map((u) => u.id),
      })),
    });
    expect((await sync(db().pool, src.config)).status).toBe('succeeded');

    const before = await Snapshot.open(db().pool, ['hr']);
    try {
      expect((await before.findUser('user0'))?.email).toBe('user0@acme.test');
      // Start streaming the membership document, one group per batch.
      const doc = before.rows<{ name: string; users: string[] }>(membershipSql(['hr']), [], 1);
      const first = await doc.next();
      expect(first.value?.[0]?.name).toBe('group-0');

      // A run renames user0, empties every group but one and deletes user299.
      src.write({
        users: [{ ...many[0]!, username: 'renamed0', email: 'r@acme.test' }, ...many.slice(1, 299)],
        groups: [{ id: 'g0', name: 'group-0', members: ['u1'] }],
      });
      expect((await sync(db().pool, src.config)).status).toBe('succeeded');

      const after = await Snapshot.open(db().pool, ['hr']);
      try {
        expect(await after.findUser('user0')).toBeNull();
        expect(await after.findGroup('group-7')).toBeNull();
      } finally {
        await after.close();
      }

      // The open snapshot still reads the old directory, in later statements and in its cursor.
      expect((await before.findUser('user0'))?.email).toBe('user0@acme.test');
      expect(await before.findUser('user299')).not.toBeNull();
      expect(await before.findGroup('group-7')).not.toBeNull();
      let groups = 1;
      let members = 0;
      for await (const rows of doc) {
        groups += rows.length;
        for (const r of rows) members += r.users.length;
      }
      expect(groups).toBe(50);
      expect(members).toBe(49 * 100 - 0);
    } finally {
      await before.close();
    }
  });
});
