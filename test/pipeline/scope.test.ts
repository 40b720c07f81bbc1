/**
 * Incremental runs evaluated in scope (src/pipeline/scope.ts): only what the feed touched is staged,
 * checked and diffed, and the directory still ends exactly where full reads take it.
 */
import { describe, expect, it } from 'vitest';
import { planMutations } from '../../connectors/emulator-kit/plan.js';
import type { Connector } from '../../connectors/types.js';
import { silentLogger } from '../../src/logger.js';
import { runSync, type RunSummary } from '../../src/pipeline/run.js';
import { useDatabasePair } from '../helpers/db.js';
import { expectIncrementalEqualsFull } from '../helpers/equivalence.js';
import { memoryDirectory } from '../helpers/memory-directory.js';
import { memoryConnector } from '../helpers/memory-idp.js';

const connector = memoryConnector as unknown as Connector;
const [inc, ref] = useDatabasePair();

let n = 0;
function setup(extra: Record<string, unknown>, size = { users: 150, groups: 18 }) {
  const name = `s${++n}`;
  const d = memoryDirectory(name, { ...size, membersPerGroup: 10, nestingDepth: 3, seed: n * 313 }, extra);
  return { ...d, config: d.config() };
}

const scoped = (s: RunSummary) => s.snapshot.scope_users !== undefined;

describe('incremental runs decided in scope', () => {
  it('end where full reads end over 30 randomized rounds, most of them in scope', async () => {
    const { idp, config } = setup({
      localGroups: ['everyone'],
      transform: { displayName: '{{ displayName | upper }}' },
    });
    let inScope = 0;
    let changed = 0;
    const seed = 4242;
    const { modes } = await expectIncrementalEqualsFull({
      connector,
      incremental: inc.pool,
      reference: ref.pool,
      rounds: 30,
      config: () => config,
      mutate(round) {
        idp.overlap = round % 4 === 0 ? 6 : 0;
        for (const m of planMutations(idp.org, {
          seed: seed + round * 7919,
          users: 0.04,
          memberships: 0.04,
          // Group changes move nesting, which is decided over the whole org: every third round.
          groups: round % 3 === 0 ? 2 : 0,
        }))
          idp.apply(m);
        const users = idp.org.users;
        // Collisions come and go: a user takes another's name, later gives it back.
        if (round % 5 === 1 && users.length > 6)
          idp.apply({ op: 'updateUser', id: users[4]!.id, patch: { login: users[5]!.login.toUpperCase() } });
        if (round % 5 === 3 && users.length > 6)
          idp.apply({
            op: 'updateUser',
            id: users[4]!.id,
            patch: { login: `back-${round}-${users[4]!.id}` },
          });
        // Records the directory cannot take: held, then mended.
        if (round % 6 === 2 && users[7]) idp.patchUser(users[7].id, { displayName: 'bad\u0000name' });
        if (round % 6 === 4 && users[7]) idp.patchUser(users[7].id, { displayName: `mended ${round}` });
        if (round % 7 === 2 && users[8]) idp.patchUser(users[8].id, { active: null });
        if (round % 7 === 5 && users[8]) idp.patchUser(users[8].id, { active: true });
        // A cycle (nesting change: whole org), removed later.
        const child = idp.org.groups.find((g) => g.parentId !== null);
        if (round === 10 && child) idp.nest(child.id, child.parentId!);
        if (round === 13)
          for (const k of [...idp.extraNesting]) idp.unnest(...(k.split('>') as [string, string]));
        // A whole member list re-read, and a user deleted and re-created under the same login.
        if (round % 4 === 2 && idp.org.groups[2]) idp.resetMembers(idp.org.groups[2].id);
        if (round % 5 === 4 && users[3]) {
          const u = users[3];
          idp.apply({ op: 'removeUser', id: u.id });
          idp.apply({ op: 'addUser', user: { ...u, id: `${u.id}-again${round}` } });
          idp.apply({ op: 'addMember', groupId: idp.org.groups[1]!.id, userId: `${u.id}-again${round}` });
        }
      },
      async onRound(round, i) {
        // The directory's counts a run records (a run in scope reads them instead of counting)
        // are what the directory holds.
        if (i.snapshot.directory_users !== undefined) {
          const { rows } = await inc.pool.query<{ users: string; memberships: string }>(
            `SELECT (SELECT count(*) FROM dirsync.users WHERE connector = $1 AND missing_since IS NULL) AS users,
                    (SELECT count(*) FROM dirsync.group_members m JOIN dirsync.groups g ON g.id = m.group_id
                      WHERE g.connector = $1) AS memberships`,
            [config.name],
          );
          expect(i.snapshot.directory_users, `round ${round}: users`).toBe(Number(rows[0]!.users));
          expect(i.snapshot.directory_memberships, `round ${round}: memberships`).toBe(
            Number(rows[0]!.memberships),
          );
        }
        if (scoped(i)) {
          inScope++;
          // Only what changed was staged, not the directory.
          expect(i.snapshot.scope_users, `round ${round} (seed ${seed})`).toBeLessThan(
            idp.org.users.length / 2,
          );
        }
        changed +=
          i.counts.users.create +
          i.counts.users.update +
          i.counts.users.deactivate +
          i.counts.users.reactivate +
          i.counts.groups.create +
          i.counts.groups.delete +
          i.counts.memberships.add +
          i.counts.memberships.remove;
      },
    });
    expect(modes.incremental).toBeGreaterThanOrEqual(28);
    expect(inScope, 'rounds decided in scope').toBeGreaterThanOrEqual(15);
    expect(changed).toBeGreaterThan(300);
  }, 600_000);

  it('deletes at once with deleteAfter 0s and keeps grace periods running, in scope', async () => {
    const { idp, config } = setup({ deletion: { deleteAfter: '0s' } }, { users: 80, groups: 10 });
    let inScope = 0;
    await expectIncrementalEqualsFull({
      connector,
      incremental: inc.pool,
      reference: ref.pool,
      rounds: 12,
      config: () => config,
      mutate(round) {
        for (const m of planMutations(idp.org, {
          seed: 77 + round,
          users: 0.08,
          memberships: 0.05,
          groups: 0,
        }))
          idp.apply(m);
      },
      onRound(_round, i) {
        if (scoped(i)) inScope++;
      },
    });
    expect(inScope).toBeGreaterThanOrEqual(10);
  }, 300_000);

  it('a change to one user stages that user and its memberships, not the directory', async () => {
    const { idp, config } = setup({}, { users: 300, groups: 20 });
    const sync = (o: { fullResync?: boolean } = {}) =>
      runSync({ pool: inc.pool, config, connector, trigger: 'test', logger: silentLogger, ...o });
    await sync();
    const u = idp.org.users[10]!;
    idp.apply({ op: 'updateUser', id: u.id, patch: { displayName: 'Renamed Person' } });
    const run = await sync();
    expect(run.mode).toBe('incremental');
    expect(run.snapshot.scope_users).toBe(1);
    expect(run.snapshot.scope_groups).toBe(0);
    const memberships = [...idp.org.members.values()].filter((s) => s.has(u.id)).length;
    expect(run.snapshot.scope_edges).toBe(memberships);
    expect(run.counts.users.update).toBe(1);
    // The directory's own figures are still the whole directory's.
    expect(run.snapshot.synced_users).toBe(idp.org.users.length);
    const { rows } = await inc.pool.query(
      `SELECT display_name FROM dirsync.users WHERE connector = $1 AND external_id = $2`,
      [config.name, u.id],
    );
    expect(rows[0]?.display_name).toBe('Renamed Person');
  }, 120_000);

  it('a changed record of a nested group stays in scope unless its held state may change', async () => {
    const { idp, config } = setup({}, { users: 120, groups: 12 });
    const sync = (o: { fullResync?: boolean } = {}) =>
      runSync({ pool: inc.pool, config, connector, trigger: 'test', logger: silentLogger, ...o });
    await sync();
    const nested = idp.org.groups.find((g) => g.parentId)!;
    const nothingLeft = async () => {
      const full = await sync({ fullResync: true });
      expect(full.mode).toBe('full');
      expect(full.counts.groups).toEqual({ create: 0, update: 0, delete: 0 });
      expect(full.counts.memberships).toEqual({ add: 0, remove: 0 });
    };

    // A new description (Google changes a group's record with every member it gains): in scope.
    idp.apply({ op: 'updateGroup', id: nested.id, patch: { description: 'moved desks' } });
    const plain = await sync();
    expect(plain.mode).toBe('incremental');
    expect(scoped(plain)).toBe(true);
    expect(plain.counts.groups.update).toBe(1);
    await nothingLeft();

    // Text the directory cannot store: the group is held, which changes the nesting graph.
    idp.apply({ op: 'updateGroup', id: nested.id, patch: { description: 'bad\u0000text' } });
    const held = await sync();
    expect(held.mode).toBe('incremental');
    expect(scoped(held)).toBe(false);
    expect(held.snapshot.held_groups).toBe(1);
    await nothingLeft();

    // Repaired: it was held, so its way back is decided over the whole org too.
    idp.apply({ op: 'updateGroup', id: nested.id, patch: { description: 'fixed' } });
    const back = await sync();
    expect(scoped(back)).toBe(false);
    expect(back.counts.groups.update).toBe(1);
    expect(back.snapshot.held_groups).toBe(0);
    await nothingLeft();
  }, 120_000);

  it('a re-read member list or a re-sent group record brings only the edges that changed', async () => {
    const { idp, config } = setup({}, { users: 300, groups: 6 });
    const sync = () => runSync({ pool: inc.pool, config, connector, trigger: 'test', logger: silentLogger });
    await sync();
    const g = idp.org.groups.reduce((a, b) =>
      idp.org.members.get(b.id)!.size > idp.org.members.get(a.id)!.size ? b : a,
    );
    const members = idp.org.members.get(g.id)!;
    expect(members.size).toBeGreaterThan(5);
    const joiner = idp.org.users.find((u) => !members.has(u.id))!;
    const leaver = [...members][0]!;
    // Okta re-reads the member list of a group whose membership changed; Graph and Google send the
    // group's record again with the change.
    members.add(joiner.id);
    members.delete(leaver);
    idp.resetMembers(g.id);
    idp.apply({ op: 'updateGroup', id: g.id, patch: {} });
    const run = await sync();
    expect(run.mode).toBe('incremental');
    expect(scoped(run)).toBe(true);
    expect(run.snapshot.scope_groups).toBe(1);
    // The joiner's edge; the leaver's is gone from the list, so nothing of it is staged.
    expect(run.snapshot.scope_edges).toBe(1);
    expect(run.counts.memberships).toEqual({ add: 1, remove: 1 });
    const full = await runSync({
      pool: inc.pool,
      config,
      connector,
      trigger: 'test',
      logger: silentLogger,
      fullResync: true,
    });
    expect(full.counts.memberships).toEqual({ add: 0, remove: 0 });
    expect(full.counts.users).toEqual({ create: 0, update: 0, deactivate: 0, reactivate: 0, delete: 0 });
  }, 120_000);

  it('a nesting change stays in scope: holds decided over the whole graph, reported as a full read does', async () => {
    const { idp, config } = setup({}, { users: 150, groups: 16 });
    const sync = (o: { fullResync?: boolean } = {}) =>
      runSync({ pool: inc.pool, config, connector, trigger: 'test', logger: silentLogger, ...o });
    const problemsOf = async (runId: number) =>
      (
        await inc.pool.query<{ p: string }>(
          `SELECT object_type || '|' || coalesce(external_id, '') || '|' || action || '|' || reason AS p
             FROM dirsync.run_problems WHERE run_id = $1`,
          [runId],
        )
      ).rows
        .map((r) => r.p)
        .sort();
    // In scope, then the same state read and decided in full: nothing left to change, the same
    // problems reported.
    const scopedThenFull = async () => {
      const run = await sync();
      expect(run.mode).toBe('incremental');
      expect(scoped(run), JSON.stringify(run.snapshot)).toBe(true);
      const full = await sync({ fullResync: true });
      expect(full.counts.memberships).toEqual({ add: 0, remove: 0 });
      expect(full.counts.groups).toEqual({ create: 0, update: 0, delete: 0 });
      expect(await problemsOf(run.runId)).toEqual(await problemsOf(full.runId));
      return run;
    };
    await sync();
    const child = idp.org.groups.find((g) => g.parentId && idp.org.groups.some((p) => p.id === g.parentId))!;
    const parent = child.parentId!;

    // A cycle: child contains its own parent. Held, kept out, reported.
    idp.nest(child.id, parent);
    const cycle = await scopedThenFull();
    expect(cycle.snapshot.held_edges).toBeGreaterThan(0);
    expect((await problemsOf(cycle.runId)).some((p) => p.includes('closes a nesting cycle'))).toBe(true);

    // The cycle opened again: released, nothing held.
    idp.unnest(child.id, parent);
    const open = await scopedThenFull();
    expect(open.snapshot.held_edges).toBe(0);

    // A group moved elsewhere in the tree, and a new nested group.
    const other = idp.org.groups.find(
      (g) => g.id !== child.id && g.id !== parent && g.parentId !== child.id,
    )!;
    idp.apply({ op: 'setParent', id: child.id, parentId: other.id });
    await scopedThenFull();
    idp.apply({
      op: 'addGroup',
      group: {
        id: 'nested-new',
        name: 'nested new',
        description: '',
        parentId: child.id,
        created: '2026-01-01T00:00:00Z',
      },
    });
    const added = await scopedThenFull();
    expect(added.counts.groups.create).toBe(1);
  }, 120_000);
});
