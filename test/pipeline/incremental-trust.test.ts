/**
 * The trust rules of issue 9 hold for incremental runs too: what a change feed reports goes
 * through the same stage checks as a full read (a record without an id makes its type incomplete,
 * text Postgres cannot store holds only its record, an unknown active state keeps the user's), and
 * each run is compared with full reads of the same IdP in another database.
 */
import { describe, expect, it } from 'vitest';
import type { ConnectorConfig } from '../../config/schema.js';
import type { Connector } from '../../connectors/types.js';
import { silentLogger } from '../../src/logger.js';
import { approveRun } from '../../src/pipeline/approve.js';
import { runSync, type RunSyncOptions } from '../../src/pipeline/run.js';
import { useDatabasePair, type TestDatabase } from '../helpers/db.js';
import { directorySets, expectSameDirectory } from '../helpers/equivalence.js';
import { memoryDirectory } from '../helpers/memory-directory.js';
import { memoryConnector } from '../helpers/memory-idp.js';

const connector = memoryConnector as unknown as Connector;
const [inc, ref] = useDatabasePair();

let n = 0;
function setup() {
  const name = `t${++n}`;
  // Limits far away: only the rules under test can hold a run.
  const d = memoryDirectory(name, {
    users: 60,
    groups: 6,
    membersPerGroup: 8,
    nestingDepth: 2,
    seed: n * 31,
  });
  return { ...d, config: d.config() };
}

const sync = (db: TestDatabase, config: ConnectorConfig, o: Partial<RunSyncOptions> = {}) =>
  runSync({ pool: db.pool, config, connector, trigger: 'test', logger: silentLogger, ...o });

async function user(db: TestDatabase, connector: string, id: string) {
  const { rows } = await db.pool.query(
    `SELECT display_name, active, missing_since IS NOT NULL AS missing FROM dirsync.users
      WHERE connector = $1 AND external_id = $2`,
    [connector, id],
  );
  return rows[0];
}

async function cursorOf(name: string): Promise<unknown> {
  const { rows } = await inc.pool.query('SELECT cursor FROM dirsync.directories WHERE connector = $1', [
    name,
  ]);
  return rows[0]?.cursor;
}

async function problems(db: TestDatabase, runId: number) {
  const { rows } = await db.pool.query<{ object_type: string; external_id: string | null; reason: string }>(
    'SELECT object_type, external_id, reason FROM dirsync.run_problems WHERE run_id = $1 ORDER BY seq',
    [runId],
  );
  return rows;
}

describe('incremental runs keep the trust rules of full reads', () => {
  it('a feed with an id-less user and a NUL display name is held: no removal without approval', async () => {
    const { name, idp, config } = setup();
    await sync(inc, config);
    await sync(ref, config);
    const [nul, gone1, gone2] = idp.org.users as [
      (typeof idp.org.users)[0],
      (typeof idp.org.users)[0],
      (typeof idp.org.users)[0],
    ];
    const nulBefore = await user(inc, name, nul.id);
    idp.report({
      kind: 'problem',
      objectType: 'user',
      externalId: null,
      reason: 'the record has no id',
      sample: { login: 'ghost' },
    });
    idp.patchUser(nul.id, { displayName: 'Bad\u0000Name' });
    idp.apply({ op: 'removeUser', id: gone1.id });
    idp.apply({ op: 'removeUser', id: gone2.id });
    const before = await cursorOf(name);

    const held = await sync(inc, config);
    const full = await sync(ref, config, { fullResync: true });
    expect(held.mode).toBe('incremental');
    expect(held.status).toBe('needs_approval');
    expect(full.status).toBe('needs_approval');
    expect(held.guard?.map((g) => g.kind)).toEqual(full.guard?.map((g) => g.kind));
    expect(held.guard?.[0]).toMatchObject({ kind: 'users', removals: 2 });
    expect(held.guard?.[0]?.rule).toMatch(/could not be read/);
    // Nothing applied, nothing advanced.
    expect(await user(inc, name, gone1.id)).toMatchObject({ active: true, missing: false });
    expect(await cursorOf(name)).toEqual(before);
    const reported = await problems(inc, held.runId);
    expect(reported).toContainEqual(
      expect.objectContaining({ object_type: 'user', external_id: null, reason: 'the record has no id' }),
    );
    expect(reported).toContainEqual(
      expect.objectContaining({
        object_type: 'user',
        external_id: nul.id,
        reason: expect.stringMatching(/NUL/),
      }),
    );

    await approveRun(inc.pool, held.runId, 'test');
    await approveRun(ref.pool, full.runId, 'test');
    expect(await user(inc, name, gone1.id)).toMatchObject({ active: false, missing: true });
    // The NUL record is held: the existing user stays exactly as it was.
    expect(await user(inc, name, nul.id)).toEqual(nulBefore);
    expectSameDirectory(await directorySets(inc.pool, name), await directorySets(ref.pool, name), 'approved');

    // The approval advanced the mirror once: an empty feed changes nothing and holds nothing.
    const next = await sync(inc, config);
    expect(next).toMatchObject({ mode: 'incremental', status: 'succeeded' });
    expect(next.counts.users).toMatchObject({ create: 0, update: 0, deactivate: 0 });
  });

  it('a feed that sets active to null keeps the existing user as it is; a new one is held', async () => {
    const { name, idp, config } = setup();
    const [on, off] = idp.org.users as [(typeof idp.org.users)[0], (typeof idp.org.users)[0]];
    off.status = 'suspended';
    await sync(inc, config);
    await sync(ref, config);
    expect(await user(inc, name, on.id)).toMatchObject({ active: true });
    expect(await user(inc, name, off.id)).toMatchObject({ active: false });

    idp.patchUser(on.id, { active: null, displayName: 'On, state unknown' });
    idp.patchUser(off.id, { active: null });
    const fresh = { ...on, id: `${on.id}-new`, login: `${on.login}-new`, email: `new-${on.email}` };
    idp.apply({ op: 'addUser', user: fresh });
    idp.patchUser(fresh.id, { active: null });

    const s = await sync(inc, config);
    const full = await sync(ref, config, { fullResync: true });
    expect(s).toMatchObject({ mode: 'incremental', status: 'succeeded' });
    expect(full.status).toBe('succeeded');
    expect(await user(inc, name, on.id)).toMatchObject({ active: true, display_name: 'On, state unknown' });
    expect(await user(inc, name, off.id)).toMatchObject({ active: false });
    expect(await user(inc, name, fresh.id)).toBeUndefined();
    expect(s.counts.users).toMatchObject({ deactivate: 0, reactivate: 0 });
    expectSameDirectory(
      await directorySets(inc.pool, name),
      await directorySets(ref.pool, name),
      'active null',
    );

    // The mirror kept `active: null`: re-evaluating it changes nothing either.
    const again = await sync(inc, config, { reevaluate: true });
    expect(again.status).toBe('succeeded');
    expect(await user(inc, name, on.id)).toMatchObject({ active: true });
    expect(await user(inc, name, off.id)).toMatchObject({ active: false });
  });

  it('an id Postgres cannot store holds only its record, in the mirror and in the feed', async () => {
    const { name, idp, config } = setup();
    const group = idp.org.groups[0]!.id;
    const badId = 'bad\u0000id';
    const odd = {
      ...idp.org.users[0]!,
      id: badId,
      login: 'odd-one',
      email: 'odd@example.com',
      status: 'active' as const,
    };
    idp.org.users.push(odd);
    idp.org.members.get(group)!.add(badId);
    // An id that begins with a double quote is an ordinary id (the mirror's encoding must not eat it).
    const quoted = {
      ...idp.org.users[1]!,
      id: '"quoted"',
      login: 'quoted',
      email: 'q@example.com',
      status: 'active' as const,
    };
    idp.org.users.push(quoted);
    idp.org.members.get(group)!.add(quoted.id);

    const first = await sync(inc, config);
    await sync(ref, config);
    expect(first).toMatchObject({ mode: 'full', status: 'succeeded' });
    expect(await problems(inc, first.runId)).toContainEqual(
      expect.objectContaining({ object_type: 'user', reason: expect.stringMatching(/NUL/) }),
    );
    expect(await user(inc, name, quoted.id)).toMatchObject({ active: true });

    idp.apply({ op: 'updateUser', id: badId, patch: { displayName: 'Still odd' } });
    idp.apply({ op: 'updateUser', id: quoted.id, patch: { displayName: 'Quoted, renamed' } });
    // (No removal here: the unreadable membership makes every membership removal wait for approval.)
    const s = await sync(inc, config);
    const full = await sync(ref, config, { fullResync: true });
    expect(s).toMatchObject({ mode: 'incremental', status: 'succeeded' });
    expect(full.status).toBe('succeeded');
    expect(await user(inc, name, quoted.id)).toMatchObject({ display_name: 'Quoted, renamed' });
    expectSameDirectory(await directorySets(inc.pool, name), await directorySets(ref.pool, name), 'odd ids');
    // Re-derived from the mirror alone, the same directory.
    const again = await sync(inc, config, { reevaluate: true });
    expect(again.status).toBe('succeeded');
    expectSameDirectory(
      await directorySets(inc.pool, name),
      await directorySets(ref.pool, name),
      'reevaluated',
    );
  });
});

describe('approval of a held incremental run', () => {
  it('is refused once a later run advanced mirror and cursor (the held changes were reverted)', async () => {
    const { name, idp, config } = setup();
    const guarded: ConnectorConfig = {
      ...config,
      guard: { ...config.guard, users: { maxCount: 5, maxPercent: 100 } },
    };
    await sync(inc, guarded);
    await sync(ref, guarded);
    const victims = idp.org.users.filter((u) => u.status === 'active').slice(0, 12);
    for (const u of victims) idp.apply({ op: 'updateUser', id: u.id, patch: { status: 'suspended' } });
    const held = await sync(inc, guarded);
    expect(held).toMatchObject({ mode: 'incremental', status: 'needs_approval' });
    // The IdP takes the mass suspension back: the next run finds nothing to change, and advances the cursor.
    for (const u of victims) idp.apply({ op: 'updateUser', id: u.id, patch: { status: 'active' } });
    const later = await sync(inc, guarded);
    expect(later).toMatchObject({ mode: 'incremental', status: 'succeeded' });
    const cursor = await cursorOf(name);
    await expect(approveRun(inc.pool, held.runId, 'test')).rejects.toMatchObject({
      code: 'DIRSYNC_E_DIRECTORY_MOVED',
    });
    const { rows } = await inc.pool.query('SELECT status FROM dirsync.runs WHERE id = $1', [held.runId]);
    expect(rows[0].status).toBe('failed');
    expect(await user(inc, name, victims[0]!.id)).toMatchObject({ active: true });
    expect(await cursorOf(name)).toEqual(cursor);
    await sync(ref, guarded, { fullResync: true });
    expectSameDirectory(await directorySets(inc.pool, name), await directorySets(ref.pool, name), 'refused');
  });
});
