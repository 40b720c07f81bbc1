/**
 * The references that migration 0023 checks per statement instead of per row (users and groups to
 * their directory, the change log to its run), and the cascades that replace ON DELETE CASCADE.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { directory, fileSource, sync, users } from '../helpers/snapshot.js';

const db = useTestDatabase();

const count = async (sql: string, params: unknown[] = []) =>
  Number((await db().pool.query<{ n: string }>(sql, params)).rows[0]?.n);

describe('set-based references', () => {
  it('refuses users, groups and change rows that reference nothing, as a foreign key would', async () => {
    await db().pool.query(`INSERT INTO dirsync.directories (connector, kind) VALUES ('ref-a', 'file')`);
    await expect(
      db().pool.query(
        `INSERT INTO dirsync.users (connector, external_id, username, active)
         VALUES ('ref-a', 'u1', 'one', true), ('nowhere', 'u2', 'two', true)`,
      ),
    ).rejects.toMatchObject({ code: '23503', message: expect.stringContaining('nowhere') });
    await expect(
      db().pool.query(
        `INSERT INTO dirsync.groups (connector, external_id, name) VALUES ('nowhere', 'g', 'g')`,
      ),
    ).rejects.toMatchObject({ code: '23503' });
    // Nothing of the refused statements stays.
    expect(await count(`SELECT count(*) AS n FROM dirsync.users WHERE connector = 'ref-a'`)).toBe(0);

    await db().pool.query(
      `INSERT INTO dirsync.users (connector, external_id, username, active) VALUES ('ref-a', 'u1', 'one', true)`,
    );
    await expect(
      db().pool.query(`UPDATE dirsync.users SET connector = 'nowhere' WHERE connector = 'ref-a'`),
    ).rejects.toMatchObject({ code: '23503' });

    await expect(
      db().pool.query(
        `INSERT INTO dirsync.run_changes (run_id, object_type, operation, external_id)
         VALUES (987654321, 'user', 'create', 'u1')`,
      ),
    ).rejects.toMatchObject({ code: '23503', message: expect.stringContaining('987654321') });
  });

  it('deleting a directory deletes its users, groups and memberships; deleting a run its change log', async () => {
    const keep = fileSource({}, 'ref-keep');
    keep.write({ users: users(2), groups: [{ id: 'g', name: 'all', members: ['u0', 'u1'] }] });
    await sync(db().pool, keep.config);
    const gone = fileSource({}, 'ref-gone');
    gone.write({
      users: users(3),
      groups: [
        { id: 'g', name: 'all', members: ['u0', 'u1', 'u2'], groups: ['h'] },
        { id: 'h', name: 'sub' },
      ],
    });
    const run = await sync(db().pool, gone.config);
    const before = await directory(db().pool, 'ref-keep');

    await db().pool.query(`DELETE FROM dirsync.directories WHERE connector = 'ref-gone'`);
    expect(await directory(db().pool, 'ref-gone')).toEqual({
      users: [],
      groups: [],
      memberships: [],
      nesting: [],
    });
    expect(
      await count(
        `SELECT count(*) AS n FROM dirsync.group_members m
          WHERE NOT EXISTS (SELECT 1 FROM dirsync.groups g WHERE g.id = m.group_id)`,
      ),
    ).toBe(0);
    expect(
      await count(
        `SELECT count(*) AS n FROM dirsync.group_closure c
          WHERE NOT EXISTS (SELECT 1 FROM dirsync.groups g WHERE g.id = c.ancestor_id)`,
      ),
    ).toBe(0);
    expect(await directory(db().pool, 'ref-keep')).toEqual(before);

    expect(
      await count('SELECT count(*) AS n FROM dirsync.run_changes WHERE run_id = $1', [run.runId]),
    ).toBeGreaterThan(0);
    await db().pool.query('DELETE FROM dirsync.runs WHERE id = $1', [run.runId]);
    expect(await count('SELECT count(*) AS n FROM dirsync.run_changes WHERE run_id = $1', [run.runId])).toBe(
      0,
    );
  });

  it('truncating the directories empties users, groups and memberships; truncating runs the change log', async () => {
    const src = fileSource({}, 'ref-truncate');
    src.write({ users: users(2), groups: [{ id: 'g', name: 'all', members: ['u0', 'u1'] }] });
    await sync(db().pool, src.config);
    expect(await count('SELECT count(*) AS n FROM dirsync.group_members')).toBeGreaterThan(0);
    await db().pool.query('TRUNCATE dirsync.directories');
    for (const table of ['users', 'groups', 'group_members', 'group_closure']) {
      expect(await count(`SELECT count(*) AS n FROM dirsync.${table}`)).toBe(0);
    }
    expect(await count('SELECT count(*) AS n FROM dirsync.run_changes')).toBeGreaterThan(0);
    await db().pool.query('TRUNCATE dirsync.runs, dirsync.run_problems');
    expect(await count('SELECT count(*) AS n FROM dirsync.run_changes')).toBe(0);
  });
});
