/**
 * The first sync into an empty directory: users and memberships inserted without their indexes
 * (those that back no constraint), which are built afterwards in the same transaction
 * (src/store/bulk.ts), and fresh statistics for the joins.
 * Every test starts from empty directory tables, as a new installation has.
 */
import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { BULK_ROWS } from '../../src/pipeline/apply.js';
import { useTestDatabase } from '../helpers/db.js';
import { directory, fileSource, sync, users, type SnapGroup } from '../helpers/snapshot.js';

const db = useTestDatabase();

// Just enough users for the bulk path; every user in every group.
const USERS = BULK_ROWS;
const GROUPS = 5;

function org(): { users: ReturnType<typeof users>; groups: SnapGroup[] } {
  const people = users(USERS);
  const groups: SnapGroup[] = Array.from({ length: GROUPS }, (_, i) => ({
    id: `g${i}`,
    name: `group${i}`,
    members: people.map((u) => u.id),
    // One nested group, so the closure is rebuilt from the new rows too.
    ...(i === 0 ? { groups: ['g1'] } : {}),
  }));
  return { users: people, groups };
}

interface IndexState {
  oid: number;
  def: string;
}

/** A table's indexes by name: their definitions and identity (a rebuilt index has a new oid). */
async function indexes(pool: pg.Pool, table = 'dirsync.group_members'): Promise<Record<string, IndexState>> {
  const { rows } = await pool.query<{ name: string; oid: number; def: string }>(
    `SELECT c.relname AS name, c.oid::int AS oid, pg_get_indexdef(c.oid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = $1::regclass`,
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.name, { oid: r.oid, def: r.def }]));
}

const defs = (s: Record<string, IndexState>) =>
  Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.def]));
const oids = (s: Record<string, IndexState>) =>
  Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.oid]));

let n = 0;
let name: string;
beforeEach(async () => {
  name = `b${++n}`;
  await db().pool.query(
    `TRUNCATE dirsync.group_members, dirsync.group_closure, dirsync.users, dirsync.groups, dirsync.directories`,
  );
});

describe('first sync into an empty directory', () => {
  it('builds the indexes after the rows, with the same definitions, and converges', async () => {
    const usersBefore = await indexes(db().pool, 'dirsync.users');
    const before = await indexes(db().pool);
    expect(Object.keys(before).sort()).toEqual([
      'group_members_group_uq',
      'group_members_member_group_idx',
      'group_members_user_idx',
      'group_members_user_uq',
    ]);
    const src = fileSource({}, name);
    src.write(org());
    const first = await sync(db().pool, src.config);
    expect(first.status).toBe('succeeded');
    expect(first.counts.memberships.add).toBe(USERS * GROUPS + 1);

    const after = await indexes(db().pool);
    expect(defs(after)).toEqual(defs(before));
    // Rebuilt: every index is a new one.
    for (const [k, v] of Object.entries(oids(after))) expect(v).not.toBe(before[k]?.oid);
    const { rows: valid } = await db().pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_index
        WHERE indrelid = 'dirsync.group_members'::regclass AND indisvalid AND indisready`,
    );
    expect(valid[0]?.n).toBe(4);

    // Users: the plain indexes are rebuilt; those of the key and unique constraints stay.
    const usersAfter = await indexes(db().pool, 'dirsync.users');
    expect(defs(usersAfter)).toEqual(defs(usersBefore));
    expect(
      Object.keys(usersAfter)
        .filter((k) => usersAfter[k]?.oid !== usersBefore[k]?.oid)
        .sort(),
    ).toEqual(['users_missing_idx', 'users_username_key_idx', 'users_username_skeleton_idx']);
    // The unique username constraint (its index was kept) still holds.
    await expect(
      db().pool.query(
        `INSERT INTO dirsync.users (connector, external_id, username, active)
         SELECT connector, external_id || '-2', upper(username), true FROM dirsync.users LIMIT 1`,
      ),
    ).rejects.toMatchObject({ code: '23505' });

    const dir = await directory(db().pool, name);
    expect(dir.users).toHaveLength(USERS);
    expect(dir.memberships).toHaveLength(USERS * GROUPS);
    expect(dir.nesting).toEqual(['g0>g1']);
    // The rebuilt unique index still refuses a duplicate membership.
    await expect(
      db().pool.query(
        `INSERT INTO dirsync.group_members (group_id, user_id)
         SELECT group_id, user_id FROM dirsync.group_members WHERE user_id IS NOT NULL LIMIT 1`,
      ),
    ).rejects.toMatchObject({ code: '23505' });
    // The joins were planned with statistics of the rows the same transaction inserted (the join
    // columns of users and groups). Without the groups' (only five), the next diff was planned as a
    // nested loop over fifty thousand edges, and this test's second sync did not end.
    const { rows: stats } = await db().pool.query<{ tablename: string; attname: string }>(
      `SELECT tablename, attname FROM pg_stats
        WHERE schemaname = 'dirsync' AND tablename IN ('users', 'groups', 'group_members') ORDER BY 1, 2`,
    );
    expect(stats.map((r) => `${r.tablename}.${r.attname}`)).toEqual([
      'group_members.group_id',
      'group_members.member_group_id',
      'group_members.user_id',
      'groups.connector',
      'groups.external_id',
      'users.connector',
      'users.external_id',
    ]);

    const again = await sync(db().pool, src.config, { fullResync: true });
    expect(again.counts.memberships).toEqual({ add: 0, remove: 0 });
    expect(again.counts.users.create).toBe(0);
  });

  it('a bulk apply that fails writes nothing and leaves the indexes as they were', async () => {
    const before = await indexes(db().pool);
    await db().pool.query(`
      CREATE FUNCTION pg_temp_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$;
      CREATE TRIGGER fail_members AFTER INSERT ON dirsync.group_members FOR EACH STATEMENT EXECUTE FUNCTION pg_temp_fail();`);
    const src = fileSource({}, name);
    src.write(org());
    try {
      const err = await sync(db().pool, src.config).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'DIRSYNC_E_APPLY_FAILED' });
      expect(String((err as Error).message)).toContain('disk on fire');
    } finally {
      await db().pool.query(
        'DROP TRIGGER fail_members ON dirsync.group_members; DROP FUNCTION pg_temp_fail()',
      );
    }
    expect(await indexes(db().pool)).toEqual(before);
    expect(await directory(db().pool, name)).toEqual({ users: [], groups: [], memberships: [], nesting: [] });
    const ok = await sync(db().pool, src.config);
    expect(ok.counts.memberships.add).toBe(USERS * GROUPS + 1);
  });

  it('uses the ordinary insert, without waiting, while someone reads the memberships', async () => {
    const before = await indexes(db().pool);
    const reader = await db().pool.connect();
    try {
      // A reader in the middle of a transaction holds a lock the index rebuild would need.
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM dirsync.group_members');
      const src = fileSource({}, name);
      src.write(org());
      const s = await sync(db().pool, src.config);
      expect(s.status).toBe('succeeded');
      expect(oids(await indexes(db().pool))).toEqual(oids(before));
      expect((await directory(db().pool, name)).memberships).toHaveLength(USERS * GROUPS);
    } finally {
      await reader.query('ROLLBACK');
      reader.release();
    }
  });

  it("uses the ordinary insert when another connector's memberships are there", async () => {
    const other = fileSource({}, `${name}-other`);
    other.write({ users: users(2), groups: [{ id: 'g', name: 'all', members: ['u0', 'u1'] }] });
    await sync(db().pool, other.config);
    const before = await indexes(db().pool);
    const src = fileSource({}, name);
    src.write(org());
    const s = await sync(db().pool, src.config);
    expect(s.counts.memberships.add).toBe(USERS * GROUPS + 1);
    expect(oids(await indexes(db().pool))).toEqual(oids(before));
    expect((await directory(db().pool, `${name}-other`)).memberships).toEqual(['g>u0', 'g>u1']);
  });
});
