import { beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/db.js';
import { runChanges } from '../../src/store/queries.js';
import { directory, fileSource, problems, runRow, sync, users } from '../helpers/snapshot.js';

const db = useTestDatabase();

// Each test uses its own connector name: connectors are separate directory namespaces.
let n = 0;
let name: string;
beforeEach(() => {
  name = `c${++n}`;
});

describe('snapshot sync', () => {
  it('creates users, groups, nested groups and memberships, then converges to no change', async () => {
    const src = fileSource({}, name);
    src.write({
      users: users(3),
      groups: [
        { id: 'g1', name: 'eng', members: ['u0', 'u1'], groups: ['g2'] },
        { id: 'g2', name: 'eng-sre', members: ['u2'] },
      ],
    });
    const first = await sync(db().pool, src.config);
    expect(first.status).toBe('succeeded');
    expect(first.counts.users.create).toBe(3);
    expect(first.counts.groups.create).toBe(2);
    expect(first.counts.memberships.add).toBe(4);
    expect(await directory(db().pool, name)).toEqual({
      users: ['u0:user0:true', 'u1:user1:true', 'u2:user2:true'],
      groups: ['g1:eng', 'g2:eng-sre'],
      memberships: ['g1>u0', 'g1>u1', 'g2>u2'],
      nesting: ['g1>g2'],
    });
    // Effective membership: u2 is in eng through eng-sre.
    const { rows } = await db().pool.query(
      `SELECT g.external_id AS g, u.external_id AS u FROM dirsync.effective_group_members e
         JOIN dirsync.groups g ON g.id = e.group_id JOIN dirsync.users u ON u.id = e.user_id
        WHERE e.connector = $1 ORDER BY 1, 2`,
      [name],
    );
    expect(rows.map((r) => `${r.g}>${r.u}`)).toEqual(['g1>u0', 'g1>u1', 'g1>u2', 'g2>u2']);

    const again = await sync(db().pool, src.config);
    expect(again.counts).toEqual({
      users: { create: 0, update: 0, deactivate: 0, reactivate: 0, delete: 0 },
      groups: { create: 0, update: 0, delete: 0 },
      memberships: { add: 0, remove: 0 },
    });
    const { rows: changes } = await db().pool.query(
      'SELECT count(*)::int AS n FROM dirsync.run_changes WHERE run_id = $1',
      [again.runId],
    );
    expect(changes[0].n).toBe(0);
  });

  it('records updates with before/after, membership changes, renames and nesting moves', async () => {
    const src = fileSource({ guard: { minRemovals: 1000 } }, name);
    src.write({
      users: users(3),
      groups: [
        { id: 'g1', name: 'eng', members: ['u0', 'u1'], groups: ['g2'] },
        { id: 'g2', name: 'sre', members: ['u2'] },
        { id: 'g3', name: 'ops', members: [] },
      ],
    });
    await sync(db().pool, src.config);
    const u = users(3);
    u[0] = { ...u[0]!, displayName: 'Renamed Zero', email: 'zero@acme.test' };
    src.write({
      users: u,
      groups: [
        { id: 'g1', name: 'engineering', members: ['u0', 'u2'] },
        { id: 'g2', name: 'sre', members: ['u2'] },
        { id: 'g3', name: 'ops', members: [], groups: ['g2'] },
      ],
    });
    const s = await sync(db().pool, src.config);
    expect(s.counts.users.update).toBe(1);
    expect(s.counts.groups.update).toBe(1);
    expect(s.counts.memberships).toEqual({ add: 2, remove: 2 });
    const state = await directory(db().pool, name);
    expect(state.memberships).toEqual(['g1>u0', 'g1>u2', 'g2>u2']);
    expect(state.nesting).toEqual(['g3>g2']);
    expect(state.groups).toContain('g1:engineering');

    const { rows } = await db().pool.query(
      `SELECT object_type, operation, external_id, member_type, member_ids, before, after
         FROM dirsync.run_changes WHERE run_id = $1 ORDER BY object_type, operation, external_id, member_type`,
      [s.runId],
    );
    // Names of members, as the CLI and the API show them.
    const named = (await runChanges(db().pool, s.runId)).filter((r) => r.object_type === 'membership');
    expect(named.map((r) => `${r.operation} ${r.label}: ${r.member_labels?.join(',')}`).sort()).toEqual([
      'add engineering: user2',
      'add ops: sre',
      'remove eng: sre', // removals carry the names from before the run (g1 was renamed in it)
      'remove eng: user1',
    ]);
    const userUpdate = rows.find((r) => r.object_type === 'user');
    expect(userUpdate).toMatchObject({
      operation: 'update',
      external_id: 'u0',
      before: { displayName: 'User 0', email: 'user0@acme.test' },
      after: { displayName: 'Renamed Zero', email: 'zero@acme.test' },
    });
    expect(
      rows
        .filter((r) => r.object_type === 'membership')
        .map((r) => `${r.operation} ${r.external_id} ${r.member_type} ${r.member_ids.join(',')}`),
    ).toEqual(['add g1 user u2', 'add g3 group g2', 'remove g1 group g2', 'remove g1 user u1']);
    // Effective membership follows the move: u2 is no longer in g1 via g2 but directly.
    const { rows: eff } = await db().pool.query(
      `SELECT g.external_id AS g FROM dirsync.effective_group_members e JOIN dirsync.groups g ON g.id = e.group_id
         JOIN dirsync.users u ON u.id = e.user_id WHERE e.connector = $1 AND u.external_id = 'u2' ORDER BY 1`,
      [name],
    );
    expect(eff.map((r) => r.g)).toEqual(['g1', 'g2', 'g3']);
  });

  it('deactivates disabled users, deactivates missing users, reactivates them when they return', async () => {
    const src = fileSource({ guard: { minRemovals: 1000 } }, name);
    src.write({ users: users(4), groups: [{ id: 'g', name: 'all', members: ['u0', 'u1', 'u2', 'u3'] }] });
    await sync(db().pool, src.config);

    const u = users(4);
    u[1] = { ...u[1]!, active: false };
    src.write({
      users: u.filter((x) => x.id !== 'u2'),
      groups: [{ id: 'g', name: 'all', members: ['u0', 'u1', 'u3'] }],
    });
    const s = await sync(db().pool, src.config);
    expect(s.counts.users).toMatchObject({ deactivate: 2, delete: 0 });
    const { rows } = await db().pool.query(
      `SELECT external_id, active, missing_since IS NOT NULL AS missing, deactivated_at IS NOT NULL AS deactivated
         FROM dirsync.users WHERE connector = $1 ORDER BY 1`,
      [name],
    );
    expect(rows).toEqual([
      { external_id: 'u0', active: true, missing: false, deactivated: false },
      { external_id: 'u1', active: false, missing: false, deactivated: true },
      { external_id: 'u2', active: false, missing: true, deactivated: true },
      { external_id: 'u3', active: true, missing: false, deactivated: false },
    ]);

    src.write({ users: users(4), groups: [{ id: 'g', name: 'all', members: ['u0', 'u1', 'u2', 'u3'] }] });
    const back = await sync(db().pool, src.config);
    expect(back.counts.users).toMatchObject({ reactivate: 2, deactivate: 0 });
    expect((await directory(db().pool, name)).users).toEqual([
      'u0:user0:true',
      'u1:user1:true',
      'u2:user2:true',
      'u3:user3:true',
    ]);
    expect((await directory(db().pool, name)).memberships).toHaveLength(4);
  });

  it('deletes missing users after the grace period, at once with 0s, never with "never"', async () => {
    for (const [deleteAfter, expectDeleted] of [
      ['0s', true],
      ['never', false],
      ['1h', false],
    ] as const) {
      const conn = `${name}-${deleteAfter}`;
      const src = fileSource({ deletion: { deleteAfter }, guard: { minRemovals: 1000 } }, conn);
      src.write({ users: users(3) });
      await sync(db().pool, src.config);
      src.write({ users: users(2) });
      const s = await sync(db().pool, src.config);
      expect(s.counts.users.delete).toBe(expectDeleted ? 1 : 0);
      expect(s.counts.users.deactivate).toBe(expectDeleted ? 0 : 1);
      const { rows } = await db().pool.query(
        `SELECT count(*)::int AS n FROM dirsync.users WHERE connector = $1`,
        [conn],
      );
      expect(rows[0].n).toBe(expectDeleted ? 2 : 3);
    }
    // Grace period elapsed: pretend u2 went missing two hours ago.
    const conn = `${name}-1h`;
    await db().pool.query(
      `UPDATE dirsync.users SET missing_since = now() - interval '2 hours' WHERE connector = $1 AND external_id = 'u2'`,
      [conn],
    );
    const src = fileSource({ deletion: { deleteAfter: '1h' }, guard: { minRemovals: 1000 } }, conn);
    src.write({ users: users(2) });
    const s = await sync(db().pool, src.config);
    expect(s.counts.users.delete).toBe(1);
    expect((await directory(db().pool, conn)).users).toEqual(['u0:user0:true', 'u1:user1:true']);
  });

  it('applies username transforms, attribute mapping and group-name transforms', async () => {
    const src = fileSource(
      {
        transform: {
          username: "{{ email | strip_domain | lower | regex_replace:'[^a-z0-9.]':'' || username }}",
          attributes: { team: "{{ attributes.dept | upper | prefix:'T-' }}", secretish: null },
          groupName: "{{ name | slug | prefix:'idp-' }}",
        },
      },
      name,
    );
    src.write({
      users: [
        {
          id: 'a',
          username: 'ignored',
          email: 'Zoë.O-Brien@Acme.test',
          attributes: { dept: 'eng', secretish: 1 },
        },
        { id: 'b', username: 'fallback.login', email: null, attributes: {} },
      ],
      groups: [{ id: 'g', name: 'Équipe Données', members: ['a'] }],
    });
    await sync(db().pool, src.config);
    const { rows } = await db().pool.query(
      `SELECT external_id, username, attributes FROM dirsync.users WHERE connector = $1 ORDER BY 1`,
      [name],
    );
    expect(rows).toEqual([
      { external_id: 'a', username: 'zo.obrien', attributes: { dept: 'eng', team: 'T-ENG' } },
      { external_id: 'b', username: 'fallback.login', attributes: {} },
    ]);
    expect((await directory(db().pool, name)).groups).toEqual(['g:idp-equipe-donnees']);
  });

  it('adds every synced user to the local groups and removes a local group dropped from config', async () => {
    const src = fileSource(
      { localGroups: ['jira-software-users', { name: 'wiki', description: 'Wiki readers' }] },
      name,
    );
    src.write({ users: users(3) });
    const s = await sync(db().pool, src.config);
    expect(s.counts.groups.create).toBe(2);
    const state = await directory(db().pool, name);
    expect(state.memberships).toEqual([
      'local:jira-software-users>u0',
      'local:jira-software-users>u1',
      'local:jira-software-users>u2',
      'local:wiki>u0',
      'local:wiki>u1',
      'local:wiki>u2',
    ]);
    const { rows } = await db().pool.query(
      `SELECT bool_and(local) AS local FROM dirsync.groups WHERE connector = $1`,
      [name],
    );
    expect(rows[0].local).toBe(true);

    const fewer = fileSource({ localGroups: ['jira-software-users'], guard: { minRemovals: 1000 } }, name);
    fewer.write({ users: users(3) });
    const s2 = await sync(db().pool, fewer.config);
    expect(s2.counts.groups.delete).toBe(1);
    expect((await directory(db().pool, name)).groups).toEqual([
      'local:jira-software-users:jira-software-users',
    ]);
  });

  it('dry run computes and records the changes but applies nothing', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(2), groups: [{ id: 'g', name: 'all', members: ['u0'] }] });
    const s = await sync(db().pool, src.config, { dryRun: true });
    expect(s.dryRun).toBe(true);
    expect(s.counts.users.create).toBe(2);
    expect(s.counts.memberships.add).toBe(1);
    expect(await directory(db().pool, name)).toEqual({ users: [], groups: [], memberships: [], nesting: [] });
    const run = await runRow(db().pool, s.runId);
    expect(run).toMatchObject({ status: 'succeeded', dry_run: true });
    const { rows } = await db().pool.query(
      'SELECT count(*)::int AS n FROM dirsync.run_changes WHERE run_id = $1',
      [s.runId],
    );
    expect(rows[0].n).toBe(4);
    // Staging tables are gone after the run.
    const { rows: left } = await db().pool.query(
      `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'dirsync_stage' AND tablename LIKE $1`,
      [`r${s.runId}\\_%`],
    );
    expect(left[0].n).toBe(0);
  });

  it('reads NDJSON and fails the whole run on a malformed line, writing nothing', async () => {
    const src = fileSource({}, name, 'snapshot.ndjson');
    const lines = [
      { type: 'user', id: 'u0', username: 'a' },
      { type: 'user', id: 'u1', username: 'b' },
      { type: 'group', id: 'g', name: 'g', members: ['u0'] },
      { type: 'membership', group: 'g', user: 'u1' },
    ];
    src.writeRaw(lines.map((l) => JSON.stringify(l)).join('\n'));
    const s = await sync(db().pool, src.config);
    expect(s.counts.users.create).toBe(2);
    expect((await directory(db().pool, name)).memberships).toEqual(['g>u0', 'g>u1']);

    src.writeRaw(
      [...lines.slice(0, 1).map((l) => JSON.stringify(l)), '{"type":"user","id":"u1",', ''].join('\n'),
    );
    const err = await sync(db().pool, src.config).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DIRSYNC_E_SNAPSHOT_INVALID' });
    expect((await directory(db().pool, name)).users).toEqual(['u0:a:true', 'u1:b:true']);
    const run = await runRow(db().pool, (err as { runId: number }).runId);
    expect(run).toMatchObject({ status: 'failed', error_code: 'DIRSYNC_E_SNAPSHOT_INVALID' });
  });

  it('an apply that fails midway writes nothing, and the next run converges', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(2), groups: [{ id: 'g', name: 'all', members: ['u0'] }] });
    await sync(db().pool, src.config);
    const before = await directory(db().pool, name);

    // Users are applied before memberships: make the membership insert fail after the user writes.
    await db().pool.query(`
      CREATE FUNCTION pg_temp_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$;
      CREATE TRIGGER fail_members BEFORE INSERT ON dirsync.group_members FOR EACH ROW EXECUTE FUNCTION pg_temp_fail();`);
    src.write({
      users: users(5),
      groups: [{ id: 'g', name: 'everyone', members: ['u0', 'u1', 'u2', 'u3', 'u4'] }],
    });
    try {
      const err = await sync(db().pool, src.config).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'DIRSYNC_E_APPLY_FAILED' });
      expect(String((err as Error).message)).toContain('disk on fire');
      expect(await directory(db().pool, name)).toEqual(before);
      const { rows } = await db().pool.query(
        'SELECT count(*)::int AS n FROM dirsync.run_changes WHERE run_id = $1',
        [(err as { runId: number }).runId],
      );
      expect(rows[0].n).toBe(0);
    } finally {
      await db().pool.query(
        'DROP TRIGGER fail_members ON dirsync.group_members; DROP FUNCTION pg_temp_fail()',
      );
    }
    const s = await sync(db().pool, src.config);
    expect(s.counts.users.create).toBe(3);
    expect((await directory(db().pool, name)).memberships).toHaveLength(5);
  });

  it('a source that fails mid-stream fails the run and leaves the directory unchanged', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(3) });
    await sync(db().pool, src.config);
    const before = await directory(db().pool, name);
    const failing = {
      ...src.config,
    };
    const err = await sync(db().pool, failing, {
      connector: {
        kind: 'file',
        configSchema: src.config as never,
        async open() {
          return {
            async *read() {
              yield {
                kind: 'user' as const,
                externalId: 'u0',
                username: 'user0',
                email: null,
                displayName: null,
                givenName: null,
                familyName: null,
                active: true,
                attributes: {},
              };
              throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
            },
            stats: () => ({ requests: 7, throttled: 0, pages: 1, skipped: 0 }),
            close: async () => {},
          };
        },
      },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DIRSYNC_E_SOURCE_FAILED', retryable: true });
    expect(await directory(db().pool, name)).toEqual(before);
    expect(await runRow(db().pool, (err as { runId: number }).runId)).toMatchObject({
      status: 'failed',
      requests: 7,
    });
  });

  it('allows one run per connector at a time', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(50) });
    const results = await Promise.allSettled([sync(db().pool, src.config), sync(db().pool, src.config)]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const busy = results.filter((r) => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(busy).toHaveLength(1);
    expect((busy[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'DIRSYNC_E_RUN_IN_PROGRESS' });
    expect((await directory(db().pool, name)).users).toHaveLength(50);
  });

  it('keeps connectors apart: the same ids in two directories do not interfere', async () => {
    const a = fileSource({}, `${name}-a`);
    const b = fileSource({}, `${name}-b`);
    a.write({ users: users(2) });
    b.write({ users: users(3) });
    await sync(db().pool, a.config);
    await sync(db().pool, b.config);
    expect((await directory(db().pool, `${name}-a`)).users).toHaveLength(2);
    expect((await directory(db().pool, `${name}-b`)).users).toHaveLength(3);
    const s = await sync(db().pool, a.config);
    expect(s.counts.users).toMatchObject({ create: 0, deactivate: 0 });
  });

  it('skips groups whose members did not change, and a full resync compares them all', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(3), groups: [{ id: 'g', name: 'all', members: ['u0', 'u1', 'u2'] }] });
    await sync(db().pool, src.config);
    // Someone deletes an edge behind Dirsync's back: the digest says the group is unchanged...
    await db().pool.query(
      `DELETE FROM dirsync.group_members m USING dirsync.users u
        WHERE u.id = m.user_id AND u.connector = $1 AND u.external_id = 'u1'`,
      [name],
    );
    const quick = await sync(db().pool, src.config);
    expect(quick.counts.memberships).toEqual({ add: 0, remove: 0 });
    // ...and a full resync repairs it.
    const full = await sync(db().pool, src.config, { fullResync: true });
    expect(full.counts.memberships).toEqual({ add: 1, remove: 0 });
    expect((await directory(db().pool, name)).memberships).toEqual(['g>u0', 'g>u1', 'g>u2']);
    const again = await sync(db().pool, src.config);
    expect(again.counts.memberships).toEqual({ add: 0, remove: 0 });
  });

  it('reports the run in problems when nothing is wrong as empty', async () => {
    const src = fileSource({}, name);
    src.write({ users: users(1) });
    const s = await sync(db().pool, src.config);
    expect(await problems(db().pool, s.runId)).toEqual([]);
    expect(s.snapshot.problems).toBe(0);
  });
});
