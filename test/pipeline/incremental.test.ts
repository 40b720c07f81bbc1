import { describe, expect, it } from 'vitest';
import type { ConnectorConfig } from '../../config/schema.js';
import { planMutations } from '../../connectors/emulator-kit/plan.js';
import type { Connector } from '../../connectors/types.js';
import { silentLogger } from '../../src/logger.js';
import { approveRun, rejectRun } from '../../src/pipeline/approve.js';
import { emptyCounts } from '../../src/pipeline/diff.js';
import { runSync, type RunSyncOptions } from '../../src/pipeline/run.js';
import { useDatabasePair, type TestDatabase } from '../helpers/db.js';
import { directorySets, expectIncrementalEqualsFull, expectSameDirectory } from '../helpers/equivalence.js';
import { memoryDirectory } from '../helpers/memory-directory.js';
import { memoryConnector } from '../helpers/memory-idp.js';

const connector = memoryConnector as unknown as Connector;
const [inc, ref] = useDatabasePair();

let n = 0;
function setup(extra: Record<string, unknown> = {}, size = { users: 120, groups: 16 }) {
  const name = `m${++n}`;
  return memoryDirectory(name, { ...size, membersPerGroup: 8, nestingDepth: 3, seed: n * 101 }, extra);
}

const sync = (pool: TestDatabase, config: ConnectorConfig, o: Partial<RunSyncOptions> = {}) =>
  runSync({ pool: pool.pool, config, connector, trigger: 'test', logger: silentLogger, ...o });

async function cursorOf(name: string): Promise<unknown> {
  const { rows } = await inc.pool.query(
    'SELECT cursor, version FROM dirsync.directories WHERE connector = $1',
    [name],
  );
  return rows[0];
}

describe('incremental sync', () => {
  it('ends in the directory full reads produce, over 24 randomized rounds with filters and transforms', async () => {
    const { idp, config } = setup({ localGroups: ['everyone'] });
    const top = idp.org.groups.find(
      (g) => g.parentId === null && idp.org.groups.some((c) => c.parentId === g.id),
    );
    expect(top).toBeDefined();
    const cfgFor = (round: number) =>
      round >= 17
        ? config({ filters: { groups: { include: [{ id: top!.id }] } } })
        : round >= 9
          ? config({
              transform: { displayName: '{{ displayName | upper }}', username: '{{ username | lower }}' },
            })
          : config();
    let changed = 0;
    const { modes } = await expectIncrementalEqualsFull({
      connector,
      incremental: inc.pool,
      reference: ref.pool,
      rounds: 24,
      config: cfgFor,
      mutate(round) {
        idp.overlap = round % 3 === 0 ? 5 : 0;
        for (const m of planMutations(idp.org, {
          seed: round * 7919,
          users: 0.06,
          memberships: 0.04,
          groups: 3,
        }))
          idp.apply(m);
        const users = idp.org.users;
        // A username that collides with another user's, after case folding.
        if (round % 4 === 1 && users.length > 2)
          idp.apply({ op: 'updateUser', id: users[0]!.id, patch: { login: users[1]!.login.toUpperCase() } });
        // A nesting edge that closes a cycle, later removed again.
        const child = idp.org.groups.find((g) => g.parentId !== null);
        if (round % 5 === 2 && child) idp.nest(child.id, child.parentId!);
        if (round % 5 === 4)
          for (const k of [...idp.extraNesting]) idp.unnest(...(k.split('>') as [string, string]));
        // A whole member list re-read, and a user deleted and re-created under the same login.
        if (round % 6 === 3 && idp.org.groups[0]) idp.resetMembers(idp.org.groups[0].id);
        if (round % 7 === 5 && users[3]) {
          const u = users[3];
          idp.apply({ op: 'removeUser', id: u.id });
          idp.apply({ op: 'addUser', user: { ...u, id: `${u.id}-again${round}` } });
          idp.apply({ op: 'addMember', groupId: idp.org.groups[1]!.id, userId: `${u.id}-again${round}` });
        }
      },
      onRound(round, i) {
        changed +=
          i.counts.users.create +
          i.counts.users.update +
          i.counts.users.deactivate +
          i.counts.groups.create +
          i.counts.groups.delete +
          i.counts.memberships.add +
          i.counts.memberships.remove;
        if (round === 0) expect(i.mode).toBe('full');
        if (round === 17) expect(i.modeReason).toMatch(/pushed-down filters changed/);
      },
    });
    expect(modes.incremental).toBeGreaterThanOrEqual(20);
    // The rounds did change the directory (the comparison is not of two empty results).
    expect(changed).toBeGreaterThan(500);
  }, 600_000);

  it('reads in full when the cursor expired, and says why', async () => {
    const { idp, config } = setup();
    await sync(inc, config());
    idp.apply({ op: 'updateUser', id: idp.org.users[0]!.id, patch: { displayName: 'Changed' } });
    idp.expire();
    const reads = idp.fullReads;
    const s = await sync(inc, config());
    expect(s.mode).toBe('full');
    expect(s.modeReason).toMatch(/cursor expired/);
    expect(idp.fullReads).toBe(reads + 1);
    expect(s.counts.users.update).toBe(1);
    const { rows } = await inc.pool.query('SELECT mode, mode_reason FROM dirsync.runs WHERE id = $1', [
      s.runId,
    ]);
    expect(rows[0]).toEqual({ mode: 'full', mode_reason: s.modeReason });
    // The full read stored a fresh cursor: the next run is incremental again.
    expect((await sync(inc, config())).mode).toBe('incremental');
  });

  it('a feed that only re-reads an overlap changes nothing and derives nothing', async () => {
    const { idp, config } = setup();
    await sync(inc, config());
    for (const m of planMutations(idp.org, { seed: 11, users: 0.1, memberships: 0.05, groups: 2 }))
      idp.apply(m);
    const applied = await sync(inc, config());
    expect(applied.mode).toBe('incremental');
    expect(applied.counts.users.update + applied.counts.users.create).toBeGreaterThan(0);
    idp.overlap = 8;
    const again = await sync(inc, config());
    expect(again.mode).toBe('incremental');
    expect(again.snapshot.feed_items).toBe(8);
    expect(again.unchangedSince).toBe(applied.runId);
    expect(Object.keys(again.phaseMs)).not.toContain('check');
  });

  it('reads in full when the feed is switched off', async () => {
    const { idp, config } = setup();
    await sync(inc, config());
    idp.feedEnabled = false;
    const s = await sync(inc, config());
    expect(s.mode).toBe('full');
    expect(s.modeReason).toMatch(/change feed unavailable/);
  });

  it('a feed that fails mid-read writes nothing and advances nothing; the next run converges', async () => {
    const { name, idp, config } = setup();
    await sync(inc, config());
    await sync(ref, config());
    const before = await cursorOf(name);
    const dirBefore = await directorySets(inc.pool, name);
    for (const m of planMutations(idp.org, { seed: 5, users: 0.2, memberships: 0.1, groups: 4 }))
      idp.apply(m);
    idp.failFeedAfter = 10;
    await expect(sync(inc, config())).rejects.toMatchObject({ code: 'DIRSYNC_E_IDP_UNAVAILABLE' });
    expect(await cursorOf(name)).toEqual(before);
    expectSameDirectory(await directorySets(inc.pool, name), dirBefore, 'after the failed feed');
    const { rows } = await inc.pool.query(
      `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'dirsync_stage'`,
    );
    expect(rows[0].n).toBe(0);
    const s = await sync(inc, config());
    expect(s.mode).toBe('incremental');
    await sync(ref, config(), { fullResync: true });
    expectSameDirectory(
      await directorySets(inc.pool, name),
      await directorySets(ref.pool, name),
      'converged',
    );
  });

  it('holds an incremental run that removes too much; approval applies it once, with the cursor', async () => {
    const { name, idp, config } = setup({}, { users: 200, groups: 10 });
    const guarded = () => config({ guard: { users: { maxCount: 5 } } });
    await sync(inc, guarded());
    await sync(ref, config());
    for (const u of idp.org.users.slice(0, 30)) idp.apply({ op: 'removeUser', id: u.id });
    const before = await cursorOf(name);
    const held = await sync(inc, guarded());
    expect(held.mode).toBe('incremental');
    expect(held.status).toBe('needs_approval');
    expect(held.guard?.[0]?.kind).toBe('users');
    expect(await cursorOf(name)).toEqual(before);
    await approveRun(inc.pool, held.runId, 'test');
    const after = (await cursorOf(name)) as { cursor: string };
    expect(after.cursor).toBe(String(idp.journal.length));
    // Applied exactly once: the next feed is empty and nothing changes.
    const next = await sync(inc, guarded());
    expect(next.mode).toBe('incremental');
    expect(next.status).toBe('succeeded');
    expect(next.counts).toEqual(emptyCounts());
    await sync(ref, config(), { fullResync: true });
    expectSameDirectory(await directorySets(inc.pool, name), await directorySets(ref.pool, name), 'approved');
  });

  it('a rejected incremental run loses nothing: the next run re-reads the same changes', async () => {
    const { name, idp, config } = setup({}, { users: 200, groups: 10 });
    const guarded = () => config({ guard: { users: { maxCount: 5 } } });
    await sync(inc, guarded());
    await sync(ref, config());
    for (const u of idp.org.users.slice(0, 30)) idp.apply({ op: 'removeUser', id: u.id });
    idp.apply({ op: 'updateUser', id: idp.org.users[40]!.id, patch: { displayName: 'Kept change' } });
    const held = await sync(inc, guarded());
    expect(held.status).toBe('needs_approval');
    await rejectRun(inc.pool, held.runId, 'test');
    const again = await sync(inc, config());
    expect(again.mode).toBe('incremental');
    expect(again.counts.users.update).toBe(1);
    expect(again.counts.users.deactivate).toBe(30);
    await sync(ref, config(), { fullResync: true });
    expectSameDirectory(
      await directorySets(inc.pool, name),
      await directorySets(ref.pool, name),
      'after reject',
    );
  });

  it('--reevaluate applies a transform change from the mirror without reading the IdP, previewable', async () => {
    const { name, idp, config } = setup();
    await sync(inc, config());
    const reads = idp.fullReads + idp.feedReads;
    const changed = config({ transform: { displayName: '{{ displayName | upper }}' } });
    const preview = await sync(inc, changed, { reevaluate: true, dryRun: true });
    expect(preview.mode).toBe('reevaluate');
    expect(preview.counts.users.update).toBeGreaterThan(0);
    const { rows } = await inc.pool.query(
      `SELECT count(*)::int AS n FROM dirsync.users WHERE connector = $1 AND display_name = upper(display_name)`,
      [name],
    );
    const applied = await sync(inc, changed, { reevaluate: true });
    expect(applied.counts.users.update).toBe(preview.counts.users.update);
    const { rows: after } = await inc.pool.query(
      `SELECT count(*)::int AS n FROM dirsync.users WHERE connector = $1 AND display_name = upper(display_name)`,
      [name],
    );
    expect(after[0].n).toBeGreaterThan(rows[0].n);
    expect(idp.fullReads + idp.feedReads).toBe(reads);
    // A change that needs the IdP (the group filter is pushed down) is refused.
    await expect(
      sync(inc, config({ filters: { groups: { include: [{ name: 'x' }] } } }), { reevaluate: true }),
    ).rejects.toMatchObject({ code: 'DIRSYNC_E_CONFIG_INVALID' });
  });

  it('reads in full when the reconcile interval has passed, or when asked', async () => {
    const { name, config } = setup();
    await sync(inc, config({ reconcile: { every: '1h' } }));
    expect((await sync(inc, config({ reconcile: { every: '1h' } }))).mode).toBe('incremental');
    await inc.pool.query(
      `UPDATE dirsync.directories SET last_full_at = now() - interval '2 hours' WHERE connector = $1`,
      [name],
    );
    const due = await sync(inc, config({ reconcile: { every: '1h' } }));
    expect(due.mode).toBe('full');
    expect(due.modeReason).toMatch(/reconcile due/);
    expect((await sync(inc, config())).mode).toBe('incremental');
    const forced = await sync(inc, config(), { fullResync: true });
    expect(forced).toMatchObject({ mode: 'full', modeReason: 'full resync requested' });
  });
});
