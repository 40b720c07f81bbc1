import { beforeEach, describe, expect, it } from 'vitest';
import { approveRun, rejectRun } from '../../src/pipeline/approve.js';
import { useTestDatabase } from '../helpers/db.js';
import { directory, fileSource, runRow, sync, users } from '../helpers/snapshot.js';

const db = useTestDatabase();
let n = 0;
let name: string;
beforeEach(() => {
  name = `g${++n}`;
});

const everyone = (count: number) => [{ id: 'all', name: 'all', members: users(count).map((u) => u.id) }];

async function stageTableCount(runId: number): Promise<number> {
  const { rows } = await db().pool.query(
    `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'dirsync_stage' AND tablename LIKE $1`,
    [`r${runId}\\_%`],
  );
  return rows[0].n;
}

describe('deletion guard', () => {
  it('holds a run that removes more users than the percentage limit, and applies nothing', async () => {
    const src = fileSource({ guard: { users: { maxPercent: 10 }, minRemovals: 5 } }, name);
    src.write({ users: users(100), groups: everyone(100) });
    await sync(db().pool, src.config);
    const before = await directory(db().pool, name);

    // A partial answer from the IdP: only 60 of 100 users.
    src.write({ users: users(60), groups: everyone(60) });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    // Group "all" loses 40% of its members: the per-group limit trips too.
    expect(s.guard?.map((g) => g.kind)).toEqual(['users', 'memberships', 'group']);
    expect(s.guard?.[0]).toMatchObject({ removals: 40, existing: 100 });
    expect(await directory(db().pool, name)).toEqual(before);
    const run = await runRow(db().pool, s.runId);
    expect(run.status).toBe('needs_approval');
    expect(run.guard).toHaveLength(3);
    // The pending changes are recorded for review.
    const { rows } = await db().pool.query(
      `SELECT operation, count(*)::int AS n, sum(coalesce(cardinality(member_ids), 0))::int AS members
         FROM dirsync.run_changes WHERE run_id = $1 GROUP BY 1 ORDER BY 1`,
      [s.runId],
    );
    expect(rows).toEqual([
      { operation: 'deactivate', n: 40, members: 0 },
      { operation: 'remove', n: 1, members: 40 }, // one row for group "all", naming all 40
    ]);
  });

  it('holds on the count limit even below the percentage', async () => {
    const src = fileSource({ guard: { users: { maxCount: 3, maxPercent: 100 } } }, name);
    src.write({ users: users(50) });
    await sync(db().pool, src.config);
    src.write({ users: users(46) });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard?.[0]).toMatchObject({ kind: 'users', removals: 4, rule: 'more than 3 removals' });
  });

  it('holds membership removals on their own limit', async () => {
    const src = fileSource({ guard: { memberships: { maxCount: 5 } } }, name);
    src.write({ users: users(20), groups: everyone(20) });
    await sync(db().pool, src.config);
    src.write({ users: users(20), groups: everyone(14) });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard?.map((g) => g.kind)).toEqual(['memberships', 'group']);
  });

  it('holds groups removal beyond the limit', async () => {
    const src = fileSource({ guard: { groups: { maxCount: 1 } } }, name);
    const groups = Array.from({ length: 5 }, (_, i) => ({ id: `g${i}`, name: `g${i}` }));
    src.write({ users: users(2), groups });
    await sync(db().pool, src.config);
    src.write({ users: users(2), groups: groups.slice(0, 2) });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard?.map((g) => g.kind)).toEqual(['groups']);
  });

  it('never lets an empty snapshot wipe a directory, whatever the limits', async () => {
    const src = fileSource(
      { guard: { users: { maxCount: 1000, maxPercent: 100 }, minRemovals: 1000 } },
      name,
    );
    src.write({ users: users(3) });
    await sync(db().pool, src.config);
    src.write({ users: [] });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard?.map((g) => g.kind)).toContain('empty');
    expect((await directory(db().pool, name)).users).toEqual([
      'u0:user0:true',
      'u1:user1:true',
      'u2:user2:true',
    ]);
  });

  it('does not trip below minRemovals', async () => {
    const src = fileSource({ guard: { minRemovals: 10 } }, name);
    src.write({ users: users(10) });
    await sync(db().pool, src.config);
    src.write({ users: users(5) });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('succeeded');
    expect(s.counts.users.deactivate).toBe(5);
  });
});

describe('deletion guard: every way to lose users and members counts', () => {
  it('counts deactivations (every user suspended in the IdP) like removals', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(40), groups: everyone(40) });
    await sync(db().pool, src.config);
    const before = await directory(db().pool, name);
    // Everyone still there, everyone inactive: the same loss as everyone gone.
    src.write({ users: users(40).map((u) => ({ ...u, active: false })), groups: everyone(40) });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard?.[0]).toMatchObject({ kind: 'users', removals: 40, existing: 40 });
    expect(await directory(db().pool, name)).toEqual(before);
  });

  it('counts deactivations and removals together', async () => {
    const src = fileSource({ guard: { users: { maxCount: 5, maxPercent: 100 } } }, name);
    src.write({ users: users(50) });
    await sync(db().pool, src.config);
    // 3 gone and 3 disabled: 6 > 5, though neither alone is.
    const u = users(47).map((x, i) => (i < 3 ? { ...x, active: false } : x));
    src.write({ users: u });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard?.[0]).toMatchObject({ kind: 'users', removals: 6, rule: 'more than 5 removals' });
  });

  it('applies the percentage from minRemovals on: 10 of 32 users is held with the defaults', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(32) });
    await sync(db().pool, src.config);
    src.write({ users: users(32).map((u, i) => (i < 10 ? { ...u, active: false } : u)) });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard?.[0]).toMatchObject({ kind: 'users', removals: 10, existing: 32 });
    expect(s.guard?.[0]?.rule).toBe('more than 10% of 32 active users (31.3%)');
  });

  it('takes the users percentage of the active users: accounts already disabled do not dilute it', async () => {
    const src = fileSource({}, name);
    // 200 users, 178 of them disabled long ago (the soak's shape after earlier mass suspensions).
    const all = users(200).map((u, i) => (i < 178 ? { ...u, active: false } : u));
    src.write({ users: all });
    expect((await sync(db().pool, src.config)).status).toBe('succeeded');
    const before = await directory(db().pool, name);
    // 19 of the 22 who can still sign in suspended: 9.5% of all users, 86% of the active ones.
    src.write({ users: all.map((u, i) => (i >= 178 && i < 197 ? { ...u, active: false } : u)) });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard?.[0]).toMatchObject({ kind: 'users', removals: 19, existing: 22 });
    expect(s.guard?.[0]?.rule).toBe('more than 10% of 22 active users (86.4%)');
    expect(await directory(db().pool, name)).toEqual(before);
  });

  it('counts inactive users it removes in both the removals and the base', async () => {
    const src = fileSource({}, name);
    const all = users(200).map((u, i) => (i < 100 ? { ...u, active: false } : u));
    src.write({ users: all });
    await sync(db().pool, src.config);
    // 10 disabled accounts leave the IdP: 10 of 100 active + 10 = 9.1%, applied.
    src.write({ users: all.slice(10) });
    const ok = await sync(db().pool, src.config);
    expect(ok.status).toBe('succeeded');
    expect(ok.counts.users.deactivate).toBe(10);
    // 15 more: 15 of 100 + 15 = 13.0%, held, and the rule says what the base is.
    src.write({ users: all.slice(25) });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard?.[0]).toMatchObject({ kind: 'users', removals: 15, existing: 115 });
    expect(s.guard?.[0]?.rule).toBe(
      'more than 10% of 115 users (the active ones, and 15 inactive this run removes) (13.0%)',
    );
  });

  it('still lets fewer than minRemovals through', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(32) });
    await sync(db().pool, src.config);
    src.write({ users: users(32).map((u, i) => (i < 9 ? { ...u, active: false } : u)) });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('succeeded');
    expect(s.counts.users.deactivate).toBe(9);
  });

  it('holds a big group losing half its members, though that is a small share of all memberships', async () => {
    // 20 groups of 100 members each (2,000 memberships); group g0 loses 50 (2.5% of all).
    const groups = Array.from({ length: 20 }, (_, i) => ({
      id: `g${i}`,
      name: `g${i}`,
      members: users(100).map((u) => u.id),
    }));
    const src = fileSource({}, name);
    src.write({ users: users(100), groups });
    await sync(db().pool, src.config);
    const before = await directory(db().pool, name);
    src.write({
      users: users(100),
      groups: groups.map((g, i) => (i === 0 ? { ...g, members: g.members.slice(50) } : g)),
    });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    expect(s.guard).toEqual([
      {
        kind: 'group',
        group: 'g0',
        removals: 50,
        existing: 100,
        rule: 'group g0 (g0) loses more than 25% of its 100 members (50.0%)',
      },
    ]);
    expect(await directory(db().pool, name)).toEqual(before);
  });

  it('per-group limits are configurable and leave small groups alone', async () => {
    const src = fileSource(
      { guard: { groupMembers: { minMembers: 50, maxPercent: 60 }, memberships: { maxPercent: 100 } } },
      name,
    );
    const groups = [
      { id: 'big', name: 'big', members: users(100).map((u) => u.id) },
      { id: 'small', name: 'small', members: users(10).map((u) => u.id) },
    ];
    src.write({ users: users(100), groups });
    await sync(db().pool, src.config);
    // big loses 50% (limit 60%), small loses 90% (below minMembers): both pass.
    src.write({
      users: users(100),
      groups: [
        {
          id: 'big',
          name: 'big',
          members: users(100)
            .map((u) => u.id)
            .slice(50),
        },
        { id: 'small', name: 'small', members: ['u0'] },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect(s.guard ?? []).toEqual([]);
    expect(s.status).toBe('succeeded');
  });
});

describe('approve and reject', () => {
  async function heldRun() {
    const src = fileSource({ guard: { minRemovals: 1 } }, name);
    src.write({ users: users(10), groups: everyone(10) });
    await sync(db().pool, src.config);
    src.write({ users: users(5), groups: everyone(5) });
    const s = await sync(db().pool, src.config);
    expect(s.status).toBe('needs_approval');
    return { src, s };
  }

  it('approve applies exactly the held change set', async () => {
    const { s } = await heldRun();
    expect(await stageTableCount(s.runId)).toBe(4); // the four diff tables
    await approveRun(db().pool, s.runId, 'alice');
    const state = await directory(db().pool, name);
    expect(state.users.filter((u) => u.endsWith(':true'))).toHaveLength(5);
    expect(state.memberships).toHaveLength(5);
    expect(await runRow(db().pool, s.runId)).toMatchObject({ status: 'approved', resolved_by: 'alice' });
    expect(await stageTableCount(s.runId)).toBe(0);
    await expect(approveRun(db().pool, s.runId)).rejects.toMatchObject({ code: 'DIRSYNC_E_RUN_NOT_HELD' });
  });

  it('reject discards the change set and changes nothing', async () => {
    const { s } = await heldRun();
    const before = await directory(db().pool, name);
    await rejectRun(db().pool, s.runId, 'bob');
    expect(await directory(db().pool, name)).toEqual(before);
    expect(await runRow(db().pool, s.runId)).toMatchObject({ status: 'rejected', resolved_by: 'bob' });
    expect(await stageTableCount(s.runId)).toBe(0);
    await expect(approveRun(db().pool, s.runId)).rejects.toMatchObject({ code: 'DIRSYNC_E_RUN_NOT_HELD' });
  });

  it('approve refuses when the directory moved since the run was computed', async () => {
    const { src, s } = await heldRun();
    // Another run applies in between (the IdP recovered and returned everyone, plus a newcomer).
    src.write({ users: users(11), groups: everyone(10) });
    const other = await sync(db().pool, src.config);
    expect(other.status).toBe('succeeded');
    const before = await directory(db().pool, name);
    await expect(approveRun(db().pool, s.runId)).rejects.toMatchObject({ code: 'DIRSYNC_E_DIRECTORY_MOVED' });
    expect(await directory(db().pool, name)).toEqual(before);
    // The apply in between marked the held run superseded and dropped its tables (issue 9, item 10).
    expect(await runRow(db().pool, s.runId)).toMatchObject({ status: 'superseded' });
  });

  it('unknown runs are reported as such', async () => {
    await expect(approveRun(db().pool, 999_999)).rejects.toMatchObject({ code: 'DIRSYNC_E_RUN_NOT_FOUND' });
    await expect(rejectRun(db().pool, 999_999)).rejects.toMatchObject({ code: 'DIRSYNC_E_RUN_NOT_FOUND' });
  });
});
